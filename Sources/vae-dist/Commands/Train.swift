import ArgumentParser
import Foundation
import VAECore
import VAEIO
import VAEParallel

/// `vae-dist train`: the same command as one process or under mpirun/srun.
struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Train a VAE data-parallel over MPI ranks (or as one process).",
        discussion: """
            With no options: 784-400-20 ReLU, Bernoulli likelihood, estimator B, L=1, Adam 1e-3, \
            global batch 128, 10 epochs on Fashion-MNIST (prepared into ./data on first use). \
            --batch is the GLOBAL batch: the ranks split every step's rows between them. \
            SIGTERM, SIGHUP, SIGUSR1, SIGUSR2 or SIGINT stop every rank after the same step: rank 0 writes a \
            checkpoint and the exit status is 75 ("preempted, resume me": continue with --resume latest).
            """)

    @OptionGroup(title: "Model and objective (a resumed run keeps its checkpoint's)")
    var model: ModelOptions
    @OptionGroup(title: "Optimizer")
    var optimizer: OptimizerOptions
    @OptionGroup(title: "Data")
    var data: DataOptions
    @OptionGroup(title: "Run")
    var runOptions: RunOptions
    @OptionGroup(title: "Progress")
    var progress: ProgressOptions
    @OptionGroup(title: "GEMM")
    var gemmOptions: GEMMOptions

    func validate() throws {
        var configuration = applyOptions(to: .defaults())
        configuration.architecture.dataDimension = 1  // known only once the data is open
        let problems = configuration.problems
        if !problems.isEmpty { throw ValidationError(problems.joined(separator: "; ")) }
    }

    /// `base` with every option the user gave applied.
    ///
    /// The base is the defaults for a new run, the checkpoint's configuration for a
    /// resumed one (where any difference but the epochs is refused).
    func applyOptions(to base: TrainingConfiguration) -> TrainingConfiguration {
        var configuration = base
        model.apply(to: &configuration)
        optimizer.apply(to: &configuration)
        data.apply(to: &configuration)
        runOptions.apply(to: &configuration)
        gemmOptions.apply(to: &configuration)
        return configuration
    }

    func run() throws {
        StopRequest.installSignalHandlers()
        let stopped = try withCommunicator { communicator -> Bool in
            // Every rank must write to the same run directory: rank 0 names it.
            let defaultDirectory = "runs/run-" + Self.timestamp()
            let runDirectory = try runOptions.out ?? communicator.broadcast(defaultDirectory, from: 0)
            var configuration = applyOptions(to: .defaults())
            // The command line's default order (a resumed run keeps its checkpoint's: nil there is rows).
            if configuration.shuffle == nil { configuration.shuffle = .blocks }
            var options = TrainingOptions(configuration: configuration, runDirectory: runDirectory)
            let command = self
            options.applyCommandLine = { command.applyOptions(to: $0) }
            data.apply(to: &options)
            runOptions.apply(to: &options)
            options.progress = progress.style
            options.gemm = gemmOptions.gemm
            options.stopRequested = { StopRequest.isRequested }
            let run = TrainingRun(options: options, communicator: communicator)
            try run.run()
            guard let stop = run.stop else { return false }
            if communicator.isRoot {
                let signal = StopRequest.receivedSignal.map { StopRequest.name(of: $0) + " here" } ?? "a signal"
                let ranks = "\(stop.requestingRanks) of \(communicator.size) rank\(communicator.size == 1 ? "" : "s")"
                let place = stop.position.stepInEpoch == 0
                    ? "at the end of epoch \(stop.position.epoch)"
                    : "\(stop.position.stepInEpoch) of \(stop.stepsPerEpoch) steps into epoch \(stop.position.epoch + 1)"
                Console.printError("vae-dist: stopped on request (\(signal); \(ranks) asked) after step \(stop.step), \(place): "
                    + "wrote \(stop.checkpointPath); exit status \(StopRequest.exitCode): continue with "
                    + "`vae-dist train --out \(runDirectory) --resume latest`")
            }
            return true
        }
        if stopped { throw ExitCode(StopRequest.exitCode) }
    }

    static func timestamp() -> String {
        let formatter = DateFormatter()
        formatter.dateFormat = "yyyyMMdd-HHmmss"
        formatter.locale = Locale(identifier: "en_US_POSIX")
        return formatter.string(from: Date())
    }
}
