import Foundation
import XCTest
@testable import VAECore
import VAEIO
import VAETestSupport
@testable import VAEParallel

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

/// The lines of a run directory's metrics.jsonl (0 when it does not exist yet).
func metricsLineCount(_ runDirectory: String) -> Int {
    let text = (try? String(contentsOfFile: runDirectory + "/metrics.jsonl", encoding: .utf8)) ?? ""
    return text.split(separator: "\n").count
}

/// A small model over `features` values per row, trained for 2 epochs on synthetic [0, 1] data.
func trainPictureModel(in directory: String, features: Int = 16, latent: Int = 2, hidden: [Int] = [8],
                       activation: Activation = .relu, likelihood: LikelihoodKind = .bernoulli,
                       data: [Float]? = nil, name: String = "run") throws -> (run: String, data: String) {
    let rows = 40
    let dataPath = directory + "/\(name)-data.h5"
    try writeDataFile(dataPath, features: data ?? syntheticFeatures(rows: rows, features: features, seed: 5), rows: rows)
    var configuration = TrainingConfiguration(architecture: ModelArchitecture(
        dataDimension: features, hiddenSizes: hidden, latentDimension: latent, activation: activation))
    configuration.likelihood = likelihood
    configuration.globalBatch = 8
    configuration.epochs = 2
    configuration.learningRate = 0.01
    configuration.seed = 3
    let run = directory + "/" + name
    _ = try trainInProcess(configuration, data: dataPath, out: run)
    return (run, dataPath)
}
