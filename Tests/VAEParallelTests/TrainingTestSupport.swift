import Foundation
import XCTest
@testable import VAECore
import VAEIO
import VAETestSupport
@testable import VAEParallel

/// The command line matching `configuration` (the model and optimisation options the tests vary).
func trainArguments(_ configuration: TrainingConfiguration, data: String, out: String) -> [String] {
    let architecture = configuration.architecture
    let model = architecture.convolution.map {
        ["--architecture", "conv", "--channels", $0.channels.map(String.init).joined(separator: ","),
         "--kernel", String($0.kernel), "--stride", String($0.stride)]
    } ?? ["--hidden", architecture.hiddenSizes.map(String.init).joined(separator: ",")]
    return ["train", "--data", data, "--out", out, "--no-progress"] + model + [
            "--latent", String(architecture.latentDimension), "--activation", architecture.activation.rawValue,
            "--batch", String(configuration.globalBatch), "--epochs", String(configuration.epochs),
            "--lr", String(configuration.learningRate), "--kl-warmup", String(configuration.klWarmupEpochs),
            "--seed", String(configuration.seed), "--samples", String(configuration.samples),
            "--estimator", configuration.estimator.rawValue, "--shuffle", (configuration.shuffle ?? .rows).rawValue]
}

/// Trains in this process with the single-process communicator.
func trainInProcess(_ configuration: TrainingConfiguration, data: String, out: String) throws -> [EpochMetrics] {
    var options = TrainingOptions(configuration: configuration, runDirectory: out)
    options.dataPath = data
    options.progress = .off
    return try TrainingRun(options: options, communicator: SingleProcessCommunicator(), log: { _ in }).run()
}

/// The gradient exchange a multi-rank run's banner must name.
enum BannerExchange {
    case sharedMemory, allreduce, overlappedAllreduce

    /// What `--gradient-exchange`, `--overlap-allreduce` and the ranks per node select:
    /// `auto` takes shared memory when every node holds as many ranks.
    static func implied(by arguments: [String], ranks: Int, environment: [String: String]) -> BannerExchange {
        if arguments.contains("--overlap-allreduce") { return .overlappedAllreduce }
        if let index = arguments.firstIndex(of: "--gradient-exchange"), arguments[index + 1] == "allreduce" { return .allreduce }
        if let perNode = environment["VAE_DIST_RANKS_PER_NODE"].flatMap(Int.init), ranks % perNode != 0 { return .allreduce }
        return .sharedMemory
    }

    /// The exchange line of the fast step, or of the reproducible one (rows shared).
    func bannerText(reproducible: Bool) -> String {
        switch (self, reproducible) {
        case (.sharedMemory, false): "  exchange shared memory, "
        case (.sharedMemory, true): "  exchange rows shared in memory, "
        case (.allreduce, false): "  exchange MPI allreduce of the fused gradient buffer"
        case (.allreduce, true): "  exchange rows allgathered (MPI)"
        case (.overlappedAllreduce, _): "  exchange MPI allreduce, decoder bucket overlapped with the encoder's backward"
        }
    }
}

/// Asserts from the banner that `ranks` ranks ran, with `exchange` (a silent fall-back to
/// one rank, or an ignored --overlap-allreduce, would otherwise pass unnoticed).
func assertTrainingBanner(_ output: String, ranks: Int, exchange: BannerExchange?,
                          file: StaticString = #filePath, line: UInt = #line) {
    let lines = output.split(separator: "\n")
    XCTAssertEqual(lines.filter { $0.hasPrefix("vae-dist train: \(ranks) rank\(ranks == 1 ? "" : "s"), ") }.count, 1,
                   "the banner names \(ranks) ranks once: \(output)", file: file, line: line)
    if let exchange, ranks > 1 {
        // The step the run took (the reproducible one where the BLAS kernel passes its check).
        let text = exchange.bannerText(reproducible: output.contains("  bits     the same bits for any number of ranks"))
        XCTAssertEqual(lines.filter { $0.hasPrefix(text) }.count, 1,
                       "the banner names the exchange '\(text)': \(output)", file: file, line: line)
    }
}

/// Trains with `ranks` MPI ranks through the real binary; asserts exit 0 and the banner
/// (the ranks, and the exchange the options imply unless `exchange` says otherwise).
func trainUnderMPI(ranks: Int, _ configuration: TrainingConfiguration, data: String, out: String,
                   extraArguments: [String] = [], environment: [String: String] = [:], exchange: BannerExchange? = nil,
                   file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
    let result = try runUnderMPI(ranks: ranks, trainArguments(configuration, data: data, out: out) + extraArguments,
                                 environment: environment, timeout: 120, file: file, line: line)
    assertSucceeded(result, "mpirun -n \(ranks) train", file: file, line: line)
    assertTrainingBanner(result.standardOutput, ranks: ranks,
                         exchange: exchange ?? .implied(by: extraArguments, ranks: ranks, environment: environment),
                         file: file, line: line)
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

/// The small convolutional model of the conv tests: 37 rows of 1x8x8 images, two stride-2
/// convolutions of 3 and 4 channels (8x8 -> 4x4 -> 2x2), latent 2, global batch 8.
func smallConvolutionalConfiguration(epochs: Int = 2) -> TrainingConfiguration {
    var configuration = smallConfiguration(epochs: epochs)
    configuration.architecture = ModelArchitecture(dataDimension: 64, hiddenSizes: [], latentDimension: 2, activation: .relu,
                                                   convolution: ConvolutionalShape(channels: [3, 4], kernel: 3, stride: 2))
    return configuration
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
