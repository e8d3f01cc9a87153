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
extension LearningRateScaling: ExpressibleByArgument {}
extension PosteriorKind: ExpressibleByArgument {}
extension NonFinitePolicy: ExpressibleByArgument {}
extension GradientExchangeChoice: ExpressibleByArgument {}
extension DormantUnitsChoice: ExpressibleByArgument {}

/// `vae-dist train`: the same command as one process or under mpirun/srun.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a VAE data-parallel over MPI ranks (or as one process).",
        discussion: """
            With no options: 784-400-20 ReLU, Bernoulli likelihood, estimator B, L=1, Adam 1e-3,
            global batch 128, 10 epochs on Fashion-MNIST (prepared into ./data on first use).
            --batch is the GLOBAL batch: the ranks split every step's rows between them.
            SIGTERM, SIGUSR1, SIGUSR2 or SIGINT stop every rank after the same step: rank 0 writes a
            checkpoint and the exit status is 75 ("preempted, resume me": continue with --resume latest).
            """)

    // Data and output
    @Option(help: "Training data (HDF5 /features). Default: Fashion-MNIST train split.")
    var data: String?
    @Option(help: "Data evaluated after each epoch. Default: Fashion-MNIST test split when --data is not given.")
    var testData: String?
    @Option(help: "Run directory for metrics.jsonl, config.json and checkpoints. Default: runs/run-<date>.")
    var out: String?

    // Model and optimisation. Each is optional so that `--resume` can tell the
    // options a user gave from the defaults; defaults are in the help text.
    @Option(help: "Latent dimension Z (default 20).")
    var latent: Int?
    @Option(help: "Hidden layer sizes, comma-separated; the decoder mirrors them (default 400; e.g. 512,256).")
    var hidden: String?
    @Option(help: "Hidden activation: \(Activation.allCases.map(\.rawValue).joined(separator: ", ")) (default relu).")
    var activation: Activation?
    @Option(help: "Likelihood: bernoulli (data in [0, 1]) or gaussian (fixed or learned variance; any range) (default bernoulli).")
    var likelihood: LikelihoodKind?
    @Option(help: "Variance of the gaussian likelihood when not learned (default 1).")
    var gaussianVariance: Float?
    @Flag(inversion: .prefixedNo, help: "Learn the gaussian likelihood's variance per pixel (tensor decoder.logvar) (default off).")
    var learnedVariance: Bool?
    @Option(help: "Floor of the learned variance, in squared data units: variance = floor + exp(decoder.logvar) (default 1e-4).")
    var varianceFloor: Float?
    @Option(help: "Posterior family q(z|x): \(PosteriorKind.allCases.map(\.rawValue).joined(separator: ", ")) (default gaussian).")
    var posterior: PosteriorKind?
    @Option(help: "Parameter init: pytorch or glorot (default pytorch).")
    var initialization: ParameterInitialization?
    @Option(help: "SGVB estimator: A (Monte Carlo KL) or B (analytic KL) (default: B when the posterior has an analytic KL, else A).")
    var estimator: Estimator?
    @Option(help: "Samples L of z per datapoint (default 1).")
    var samples: Int?
    @Option(help: "Weight of the KL term, beta-VAE (default 1).")
    var beta: Float?
    @Option(help: "Linear KL warm-up length in epochs, 0 = off (default 0).")
    var klWarmup: Double?
    @Option(help: "Optimizer: adam, adagrad or sgd with momentum (default adam).")
    var optimizer: OptimizerKind?
    @Option(help: "Learning rate for a global batch of 128 (default 0.001).")
    var lr: Float?
    @Option(help: "Scale --lr with the global batch: none, linear (x batch/128, Goyal et al.) or sqrt (x sqrt(batch/128)) (default none).")
    var lrScaling: LearningRateScaling?
    @Option(help: "Ramp the learning rate linearly from --lr to the scaled rate over this many epochs (default 0).")
    var lrWarmup: Double?
    @Option(help: "Coupled L2 weight decay (default 0).")
    var weightDecay: Float?
    @Option(help: "Momentum of sgd (default 0.9).")
    var momentum: Float?
    @Option(help: "Clip the global gradient norm to this value, 0 = off (default 0).")
    var clip: Float?
    @Option(help: "GLOBAL batch: rows per optimizer step summed over all ranks (default 128).")
    var batch: Int?
    @Option(help: "Epochs to train; with --resume, the total to reach (default 10).")
    var epochs: Int?
    @Option(help: "Seed of every random number: init, shuffle, noise (default 0).")
    var seed: UInt64?
    @Option(help: "Short last batch of an epoch: partial (train on it) or drop (default partial).")
    var lastBatch: LastBatchPolicy?

    // Resume
    @Option(help: "Continue a run: 'latest' (the newest checkpoint in --out) or a checkpoint file.")
    var resume: String?
    @Flag(help: "Resume even if the data file's fingerprint differs from the checkpoint's.")
    var force = false


    // Runtime
    @Option(help: "How each rank holds the training rows: auto, memory or streaming.")
    var reading: ReadingMode = .auto
    @Option(help: "Bytes of training data each rank may hold, e.g. 512M (default: a share of physical memory).")
    var memoryBudget: String?
    @Option(help: "How ranks combine gradients: shared-memory (ranks of one node sum each other's gradients in place and each updates 1/n of the parameters), allreduce (MPI_Allreduce, any number of nodes), or auto: shared-memory when every rank is on this node.")
    var gradientExchange: GradientExchangeChoice = .auto
    @Flag(help: "With the allreduce exchange: reduce the decoder's gradients while the encoder's are computed (non-blocking, two buckets); results are unchanged.")
    var overlapAllreduce = false
    @Option(help: "ReLU units of the first encoder layer that are provably off on every training row (dead units whose weights stopped changing): skip leaves them out of that layer's forward with the same results; compute computes them anyway.")
    var dormantUnits: DormantUnitsChoice = .skip
    @Option(help: "Write a checkpoint every N epochs (and always at the end).")
    var checkpointEvery: Int = 1
    @Option(help: "Keep the newest K epoch checkpoints.")
    var keepCheckpoints: Int = 3
    @Option(help: "A step whose loss or gradient is NaN or Inf: stop (with the step and layer) or skip it (counted in metrics.jsonl).")
    var onNonfinite: NonFinitePolicy = .stop
    @Flag(inversion: .prefixedNo, help: "Live progress bar (default: on when run as one process on a terminal; mpirun hides whether its output is one).")
    var progress: Bool?

    func validate() throws {
        if let hidden, hiddenSizes == nil {
            throw ValidationError("--hidden must be comma-separated positive sizes like 400 or 512,256, got '\(hidden)'")
        }
        if resume == "latest" && out == nil {
            throw ValidationError("--resume latest needs --out RUN_DIR: the run directory to continue")
        }
        if let memoryBudget, parseByteCount(memoryBudget) == nil {
            throw ValidationError("--memory-budget must be a byte count like 512M or 2G, got '\(memoryBudget)'")
        }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        guard keepCheckpoints >= 1 else { throw ValidationError("--keep-checkpoints must be at least 1, got \(keepCheckpoints)") }
        if overlapAllreduce && gradientExchange == .sharedMemory {
            throw ValidationError("--overlap-allreduce overlaps the MPI allreduce: use it with --gradient-exchange allreduce or auto, not shared-memory")
        }
        var configuration = applyOptions(to: .defaults())
        configuration.architecture.dataDimension = 1  // known only once the data is open
        let problems = configuration.problems
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "; ")) }
    }

    private var hiddenSizes: [Int]? {
        guard let hidden else { return nil }
        let sizes = hidden.split(separator: ",", omittingEmptySubsequences: false)
            .map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !sizes.isEmpty, sizes.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        return sizes.map { $0! }
    }

    /// `base` with every option the user gave applied: the defaults for a new
    /// run, the checkpoint's configuration for a resumed one.
    func applyOptions(to base: TrainingConfiguration) -> TrainingConfiguration {
        var configuration = base
        if let latent { configuration.architecture.latentDimension = latent }
        if let hiddenSizes { configuration.architecture.hiddenSizes = hiddenSizes }
        if let activation { configuration.architecture.activation = activation }
        if let likelihood { configuration.likelihood = likelihood }
        if let gaussianVariance { configuration.gaussianVariance = gaussianVariance }
        if let learnedVariance {
            configuration.architecture.learnedVarianceFloor = learnedVariance
                ? (varianceFloor ?? configuration.architecture.learnedVarianceFloor ?? 1e-4) : nil
        } else if let varianceFloor, configuration.architecture.learnedVarianceFloor != nil {
            configuration.architecture.learnedVarianceFloor = varianceFloor
        }
        if let posterior {
            configuration.posterior = posterior
            // A family without an analytic KL defaults to estimator A.
            if estimator == nil { configuration.estimator = posterior.defaultEstimator }
        }
        if let initialization { configuration.initialization = initialization }
        if let estimator { configuration.estimator = estimator }
        if let samples { configuration.samples = samples }
        if let beta { configuration.beta = beta }
        if let klWarmup { configuration.klWarmupEpochs = klWarmup }
        if let optimizer { configuration.optimizer = optimizer }
        if let lr { configuration.learningRate = lr }
        if let lrScaling { configuration.learningRateScaling = lrScaling }
        if let lrWarmup { configuration.learningRateWarmupEpochs = lrWarmup }
        if let weightDecay { configuration.weightDecay = weightDecay }
        if let momentum { configuration.momentum = momentum }
        if let clip { configuration.clipNorm = clip }
        if let batch { configuration.globalBatch = batch }
        if let epochs { configuration.epochs = epochs }
        if let seed { configuration.seed = seed }
        if let lastBatch { configuration.lastBatch = lastBatch }

        return configuration
    }

    func run() throws {
        StopRequest.installSignalHandlers()
        let stopped = try withCommunicator { communicator -> Bool in
            // Every rank must write to the same run directory: rank 0 names it.
            let defaultDirectory = "runs/run-" + Self.timestamp()
            let runDirectory = try out ?? communicator.broadcast(defaultDirectory, from: 0)
            var options = TrainingOptions(configuration: applyOptions(to: .defaults()), runDirectory: runDirectory)
            options.resume = resume
            options.force = force
            let command = self
            options.applyCommandLine = { command.applyOptions(to: $0) }
            options.dataPath = data
            options.testDataPath = testData
            options.readingMode = reading
            options.memoryBudget = memoryBudget.flatMap(parseByteCount)
            options.checkpointEvery = checkpointEvery
            options.keepCheckpoints = keepCheckpoints
            options.progressBar = progress ?? (communicator.size == 1 && isatty(STDOUT_FILENO) != 0)
            options.overlapAllreduce = overlapAllreduce
            options.gradientExchange = gradientExchange
            options.dormantUnits = dormantUnits
            options.nonFinitePolicy = onNonfinite
            options.stopRequested = { StopRequest.isRequested }
            let run = TrainingRun(options: options, communicator: communicator, log: Self.printLine)
            try run.run()
            guard let stop = run.stop else { return false }
            if communicator.isRoot {
                let signal = StopRequest.receivedSignal.map { StopRequest.name(of: $0) + " here" } ?? "a signal"
                let ranks = "\(stop.requestingRanks) of \(communicator.size) rank\(communicator.size == 1 ? "" : "s")"
                let place = stop.position.stepInEpoch == 0
                    ? "at the end of epoch \(stop.position.epoch)"
                    : "\(stop.position.stepInEpoch) of \(stop.stepsPerEpoch) steps into epoch \(stop.position.epoch + 1)"
                FileHandle.standardError.write(Data(("vae-dist: stopped on request (\(signal); \(ranks) asked) after step \(stop.step), \(place): "
                    + "wrote \(stop.checkpointPath); exit status \(StopRequest.exitCode): continue with "
                    + "`vae-dist train --out \(runDirectory) --resume latest`\n").utf8))
            }
            return true
        }
        if stopped { throw ExitCode(StopRequest.exitCode) }
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
