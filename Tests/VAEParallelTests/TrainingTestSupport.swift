import Foundation
import XCTest
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// A scratch directory removed at the end of the test.
func makeScratchDirectory(_ testCase: XCTestCase) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("vae-train-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// A float32 data file as a user might write it with h5py: /features only,
/// chunked by `chunkRows` rows and gzipped (so one corrupt chunk fails one read),
/// and no checksum header (files vae-dist writes itself have one).
func writeDataFile(_ path: String, features: [Float], rows: Int, chunkRows: Int = 4) throws {
    let file = try HDF5File.create(path)
    try file.root().writeDataset("features", features, shape: [rows, features.count / rows],
                                 chunks: [chunkRows, features.count / rows], gzipLevel: 1)
    try file.close()
}

/// Deterministic features in [0, 1], quantised like images.
func syntheticFeatures(rows: Int, features: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<rows * features).map { _ in
        state = state &* 6364136223846793005 &+ 1442695040888963407
        return Float(state >> 56) / 255
    }
}

/// The command line matching `configuration` (the model and optimisation options the tests vary).
func trainArguments(_ configuration: TrainingConfiguration, data: String, out: String) -> [String] {
    let architecture = configuration.architecture
    return ["train", "--data", data, "--out", out, "--no-progress",
            "--hidden", architecture.hiddenSizes.map(String.init).joined(separator: ","),
            "--latent", String(architecture.latentDimension), "--activation", architecture.activation.rawValue,
            "--batch", String(configuration.globalBatch), "--epochs", String(configuration.epochs),
            "--lr", String(configuration.learningRate), "--kl-warmup", String(configuration.klWarmupEpochs),
            "--seed", String(configuration.seed), "--samples", String(configuration.samples),
            "--estimator", configuration.estimator.rawValue]
}

/// Trains in this process with the single-process communicator.
func trainInProcess(_ configuration: TrainingConfiguration, data: String, out: String) throws -> [EpochMetrics] {
    var options = TrainingOptions(configuration: configuration, runDirectory: out)
    options.dataPath = data
    options.progressBar = false
    return try TrainingRun(options: options, communicator: SingleProcessCommunicator(), log: { _ in }).run()
}

/// Trains with `ranks` MPI ranks through the real binary.
func trainUnderMPI(ranks: Int, _ configuration: TrainingConfiguration, data: String, out: String,
                   extraArguments: [String] = [], environment: [String: String] = [:],
                   file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
    let result = try runProcess(
        try mpirunExecutable(),
        ["-n", String(ranks), "--oversubscribe", "--bind-to", "none", try vaeDistBinary().path]
            + trainArguments(configuration, data: data, out: out) + extraArguments,
        environment: childEnvironment(environment), timeout: 120, file: file, line: line)
    XCTAssertEqual(result.status, 0, "mpirun -n \(ranks) train failed:\n\(result.standardError)", file: file, line: line)
    return result
}

/// The final parameters of a run (its last checkpoint).
func finalParameters(_ runDirectory: String) throws -> Checkpoint {
    let names = try FileManager.default.contentsOfDirectory(atPath: runDirectory)
        .filter { $0.hasPrefix("checkpoint-epoch-") }.sorted()
    let last = try XCTUnwrap(names.last, "no checkpoint in \(runDirectory)")
    return try Checkpoint.read((runDirectory as NSString).appendingPathComponent(last))
}

/// Per-epoch metrics from a run directory's metrics.jsonl.
func readMetrics(_ runDirectory: String) throws -> [EpochMetrics] {
    let text = try String(contentsOfFile: (runDirectory as NSString).appendingPathComponent("metrics.jsonl"), encoding: .utf8)
    return try text.split(separator: "\n").map { try JSONDecoder().decode(EpochMetrics.self, from: Data($0.utf8)) }
}

/// The small model of the multi-rank tests (and of the NumPy reference's train_small).
func smallConfiguration(epochs: Int = 2) -> TrainingConfiguration {
    var configuration = TrainingConfiguration(architecture: ModelArchitecture(
        dataDimension: 10, hiddenSizes: [6], latentDimension: 2, activation: .relu))
    configuration.globalBatch = 8
    configuration.epochs = epochs
    configuration.learningRate = 0.01
    configuration.klWarmupEpochs = 0.5
    configuration.seed = 99
    return configuration
}

/// A data file as `vae-dist prepare` writes it (with its checksum header): 37 x 10
/// uint8 pixels from an NPY file, in `directory`/prepared.h5. Returns its path.
func writePreparedDataFile(in directory: String, seed: UInt64) throws -> String {
    let npy = directory + "/source.npy"
    let pixels = syntheticFeatures(rows: 37, features: 10, seed: seed).map { UInt8($0 * 255) }
    try Data(npyFile(uint8: pixels, shape: [37, 10])).write(to: URL(fileURLWithPath: npy))
    let prepared = directory + "/prepared.h5"
    _ = try DataPreparation.prepareNPY(npy, output: prepared)
    return prepared
}

/// An NPY 1.0 file of uint8 values of `shape` ([rows, features], or [rows, height, width]
/// for images), as numpy.save writes it.
func npyFile(uint8 values: [UInt8], shape: [Int]) -> [UInt8] {
    var header = "{'descr': '|u1', 'fortran_order': False, 'shape': (\(shape.map(String.init).joined(separator: ", "))), }"
    while (10 + header.utf8.count + 1) % 64 != 0 { header += " " }
    header += "\n"
    let length = header.utf8.count
    return [0x93] + Array("NUMPY".utf8) + [1, 0, UInt8(length & 0xFF), UInt8(length >> 8)] + Array(header.utf8) + values
}
