import Foundation
import XCTest
@testable import VAECore
import VAEIO
import VAETestSupport
@testable import VAEParallel

/// A small trained run for the embed and eval tests: 37 rows of 10 features with
/// int32 labels, the multi-rank tests' 10-6-2 model, 2 epochs (milliseconds).
struct TrainedRun {
    let directory: String
    let dataPath: String
    let runDirectory: String
    let checkpoint: Checkpoint
    let features: [Float]
    let labels: [Int32]
    static let rows = 37

    static func make(_ testCase: XCTestCase, testData: Bool = false) throws -> TrainedRun {
        let directory = try makeScratchDirectory(testCase)
        let dataPath = (directory as NSString).appendingPathComponent("data.h5")
        let features = syntheticFeatures(rows: rows, features: 10, seed: 5)
        let labels = (0..<rows).map { Int32(($0 * 7) % 10) }
        try writeLabelledDataFile(dataPath, features: features, labels: labels)
        let runDirectory = (directory as NSString).appendingPathComponent("run")
        var options = TrainingOptions(configuration: smallConfiguration(epochs: 2), runDirectory: runDirectory)
        options.dataPath = dataPath
        options.testDataPath = testData ? dataPath : nil
        options.progress = .off
        try TrainingRun(options: options, communicator: SingleProcessCommunicator(), log: { _ in }).run()
        return TrainedRun(directory: directory, dataPath: dataPath, runDirectory: runDirectory,
                          checkpoint: try finalParameters(runDirectory), features: features, labels: labels)
    }

    /// 200 rows of 4 binary prototypes with 5% of the bits flipped, trained 20 epochs: an
    /// informative posterior (KL > 1 nat) whose ELBO is visibly below log p(x), so the
    /// importance-weighted bound has a gap to close.
    static func makeStructured(_ testCase: XCTestCase) throws -> TrainedRun {
        let directory = try makeScratchDirectory(testCase)
        let dataPath = (directory as NSString).appendingPathComponent("prototypes.h5")
        var state: UInt64 = 17
        func uniform() -> Double {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Double(state >> 11) * 0x1p-53
        }
        let prototypes = (0..<4).map { _ in (0..<10).map { _ in uniform() < 0.5 } }
        let rows = 200
        let labels = (0..<rows).map { Int32($0 % 4) }
        let features = labels.flatMap { label in
            prototypes[Int(label)].map { bit -> Float in (uniform() < 0.05) != bit ? 1 : 0 }
        }
        try writeLabelledDataFile(dataPath, features: features, labels: labels)
        let runDirectory = (directory as NSString).appendingPathComponent("run")
        var configuration = smallConfiguration(epochs: 20)
        configuration.klWarmupEpochs = 0
        var options = TrainingOptions(configuration: configuration, runDirectory: runDirectory)
        options.dataPath = dataPath
        options.progress = .off
        try TrainingRun(options: options, communicator: SingleProcessCommunicator(), log: { _ in }).run()
        return TrainedRun(directory: directory, dataPath: dataPath, runDirectory: runDirectory,
                          checkpoint: try finalParameters(runDirectory), features: features, labels: labels)
    }

    func path(_ name: String) -> String { (directory as NSString).appendingPathComponent(name) }
}
