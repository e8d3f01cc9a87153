import ArgumentParser
import Foundation
import VAECore
import VAEIO
import VAEParallel

extension Activation: ExpressibleByArgument {}
extension LikelihoodKind: ExpressibleByArgument {}
extension Estimator: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}
extension ParameterInitialization: ExpressibleByArgument {}
extension LastBatchPolicy: ExpressibleByArgument {}
extension PosteriorKind: ExpressibleByArgument {}

/// `vae-dist train`: the same command as one process or under mpirun/srun.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a VAE data-parallel over MPI ranks (or as one process).",
        discussion: """
            With no options: 784-400-20 ReLU, Bernoulli likelihood, estimator B, L=1, Adam 1e-3,
            global batch 128, 10 epochs on Fashion-MNIST (prepared into ./data on first use).
            --batch is the GLOBAL batch: the ranks split every step's rows between them.
            """)

    // Data and output
    @Option(help: "Training data (HDF5 /features). Default: Fashion-MNIST train split.")
    var data: String?
    @Option(help: "Data evaluated after each epoch. Default: Fashion-MNIST test split when --data is not given.")
    var testData: String?
    @Option(help: "Run directory for metrics.jsonl, config.json and checkpoints. Default: runs/run-<date>.")
    var out: String?

    // Model
    @Option(help: "Latent dimension Z.")
    var latent: Int = 20
    @Option(help: "Hidden layer sizes, comma-separated (decoder mirrors them), e.g. 500 or 512,256.")
    var hidden: String = "400"
    @Option(help: "Hidden activation: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")).")
    var activation: Activation = .relu
    @Option(help: "Likelihood: bernoulli (data in [0, 1]) or gaussian (fixed or learned variance; any range).")
    var likelihood: LikelihoodKind = .bernoulli
    @Option(help: "Variance of the gaussian likelihood (when not learned).")
    var gaussianVariance: Float = 1
    @Flag(help: "Learn the gaussian likelihood's variance per pixel (tensor decoder.logvar).")
    var learnedVariance = false
    @Option(help: "Floor of the learned variance, in squared data units: variance = floor + exp(decoder.logvar).")
    var varianceFloor: Float = 1e-4
    @Option(help: "Posterior family q(z|x): \(PosteriorKind.allCases.map(\.rawValue).joined(separator: ", ")).")
    var posterior: PosteriorKind = .gaussian
    @Option(help: "Parameter init: pytorch or glorot.")
    var initialization: ParameterInitialization = .pytorch

    // Objective
    @Option(help: "SGVB estimator: A (Monte Carlo KL) or B (analytic KL). Default: B when the posterior has an analytic KL, else A.")
    var estimator: Estimator?
    @Option(help: "Samples L of z per datapoint.")
    var samples: Int = 1
    @Option(help: "Weight of the KL term (beta-VAE).")
    var beta: Float = 1
    @Option(help: "Linear KL warm-up length in epochs (0 = off).")
    var klWarmup: Double = 0

    // Optimisation
    @Option(help: "Optimizer: adam, adagrad or sgd (with momentum).")
    var optimizer: OptimizerKind = .adam
    @Option(help: "Learning rate.")
    var lr: Float = 1e-3
    @Option(help: "Coupled L2 weight decay.")
    var weightDecay: Float = 0
    @Option(help: "Momentum of sgd.")
    var momentum: Float = 0.9
    @Option(help: "Clip the global gradient norm to this value (0 = off).")
    var clip: Float = 0
    @Option(help: "GLOBAL batch: rows per optimizer step summed over all ranks.")
    var batch: Int = 128
    @Option(help: "Epochs to train.")
    var epochs: Int = 10
    @Option(help: "Seed of every random number (init, shuffle, noise).")
    var seed: UInt64 = 0
    @Option(help: "Short last batch of an epoch: partial (train on it) or drop.")
    var lastBatch: LastBatchPolicy = .partial

    // Runtime
    @Option(help: "How each rank holds the training rows: auto, memory or streaming.")
    var reading: ReadingMode = .auto
    @Option(help: "Bytes of training data each rank may hold, e.g. 512M (default: a share of physical memory).")
    var memoryBudget: String?
    @Option(help: "Write a checkpoint every N epochs (and always at the end).")
    var checkpointEvery: Int = 1
    @Option(help: "Keep the newest K epoch checkpoints.")
    var keepCheckpoints: Int = 3
    @Flag(inversion: .prefixedNo, help: "Live progress bar (default: on when run as one process on a terminal; mpirun hides whether its output is one).")
    var progress: Bool?

    func validate() throws {
        guard hiddenSizes != nil else {
            throw ValidationError("--hidden must be comma-separated positive sizes like 400 or 512,256, got '\(hidden)'")
        }
        if let memoryBudget, parseByteCount(memoryBudget) == nil {
            throw ValidationError("--memory-budget must be a byte count like 512M or 2G, got '\(memoryBudget)'")
        }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        guard keepCheckpoints >= 1 else { throw ValidationError("--keep-checkpoints must be at least 1, got \(keepCheckpoints)") }
        var configuration = trainingConfiguration
        configuration.architecture.dataDimension = 1  // known only once the data is open
        let problems = configuration.problems
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "; ")) }
    }

    private var hiddenSizes: [Int]? {
        let sizes = hidden.split(separator: ",", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        return sizes.map { $0! }
    }

    private var trainingConfiguration: TrainingConfiguration {
        var configuration = TrainingConfiguration(architecture: ModelArchitecture(
            dataDimension: 0, hiddenSizes: hiddenSizes ?? [], latentDimension: latent, activation: activation,
            learnedVarianceFloor: learnedVariance ? varianceFloor : nil))
        configuration.likelihood = likelihood
        configuration.gaussianVariance = gaussianVariance
        configuration.initialization = initialization
        configuration.posterior = posterior
        configuration.estimator = estimator ?? posterior.defaultEstimator
        configuration.samples = samples
        configuration.beta = beta
        configuration.klWarmupEpochs = klWarmup
        configuration.optimizer = optimizer
        configuration.learningRate = lr
        configuration.weightDecay = weightDecay
        configuration.momentum = momentum
        configuration.clipNorm = clip
        configuration.globalBatch = batch
        configuration.epochs = epochs
        configuration.seed = seed
        configuration.lastBatch = lastBatch
        return configuration
    }

    func run() throws {
        try withCommunicator { communicator in
            // Every rank must write to the same run directory: rank 0 names it.
            let defaultDirectory = "runs/run-" + Self.timestamp()
            let runDirectory = try out ?? communicator.broadcast(defaultDirectory, from: 0)
            var options = TrainingOptions(configuration: trainingConfiguration, runDirectory: runDirectory)
            options.dataPath = data
            options.testDataPath = testData
            options.readingMode = reading
            options.memoryBudget = memoryBudget.flatMap(parseByteCount)
            options.checkpointEvery = checkpointEvery
            options.keepCheckpoints = keepCheckpoints
            options.progressBar = progress ?? (communicator.size == 1 && isatty(STDOUT_FILENO) != 0)
            try TrainingRun(options: options, communicator: communicator, log: Self.printLine).run()
        }
    }

    /// Unbuffered: lines printed before a failure survive mpirun killing the job.
    static func printLine(_ line: String) {
        FileHandle.standardOutput.write(Data((line + "\n").utf8))
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter.string(from: Date())
    }
}
