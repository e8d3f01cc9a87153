import ArgumentParser
import Foundation
import VAECore
import VAEParallel

/// `train`'s run.
///
/// Its length and seed, its directory and checkpoints, resuming, and how the ranks work
/// together.
struct RunOptions: ParsableArguments {
    @Option(help: "Run directory for metrics.jsonl, config.json and checkpoints. Default: runs/run-<date>.")
    var out: String?
    @Option(help: "Epochs to train; with --resume, the total to reach (default 10).")
    var epochs: Int?
    @Option(help: "Seed of every random number: init, shuffle, noise (default 0).")
    var seed: UInt64?
    @Option(help: "Continue a run: 'latest' (the newest checkpoint in --out) or a checkpoint file.")
    var resume: String?
    @Flag(help: "Resume even if the data file's fingerprint differs from the checkpoint's.")
    var force = false
    @Option(help: ArgumentHelp("Start a new run from this checkpoint's (or run directory's newest) weights with a fresh optimizer; the model must have the same shape. Ignored when resuming.",
                               valueName: "path|run-dir"))
    var initFrom: String?
    @Option(help: "Write a checkpoint every N epochs (and always at the end).")
    var checkpointEvery: Int = 1
    @Option(help: "Keep the newest K epoch checkpoints.")
    var keepCheckpoints: Int = 3
    @Option(help: ArgumentHelp("Stop after PATIENCE epochs without a lower validation -ELBO (needs --validation-fraction); the best epoch is checkpoint-best.h5.",
                               valueName: "PATIENCE"))
    var earlyStopping: Int?
    @Flag(help: "Write TensorBoard event files into the run directory (tensorboard --logdir RUN_DIR): per-step -ELBO and learning rate, per-epoch losses, KL, learning rate, samples/s.")
    var tensorboard = false
    @Flag(help: "With --tensorboard: also 64 decoded prior draws per epoch, as an image.")
    var tensorboardImages = false
    @Option(help: "A step whose loss or gradient is NaN or Inf: stop (with the step and layer) or skip it (counted in metrics.jsonl).")
    var onNonfinite: NonFinitePolicy = .stop
    @Option(help: "How ranks share a step: shared-memory (the ranks of a node share their rows, or in the fast step sum their gradients, in one shared window, each updating 1/n of the parameters), allreduce (MPI only, any number of nodes: the rows allgathered and every rank computing every weight gradient, or in the fast step one MPI_Allreduce of the gradient), or auto: shared-memory when every node holds two or more ranks.")
    var gradientExchange: GradientExchangeChoice = .auto
    @Flag(inversion: .prefixedNo, help: "Give the same bits for any number of ranks: each rank computes its rows, the ranks share them, and each computes the weight gradients of its share of the parameters over all rows (docs/parallel.md). Default: on when the BLAS kernel passes the start-up check (the banner says); --no-reproducible sums each rank's gradient instead (the last bits then depend on the number of ranks).")
    var reproducible: Bool?
    @Flag(help: "With --no-reproducible and the allreduce exchange: reduce the decoder's gradients while the encoder's are computed (non-blocking, two buckets); results are unchanged.")
    var overlapAllreduce = false
    @Option(help: "ReLU units of the first encoder layer that are provably off on every training row (dead units whose weights stopped changing): skip leaves them out of that layer's forward with the same results; compute computes them anyway.")
    var dormantUnits: DormantUnitsChoice = .skip

    func validate() throws {
        try validateOutputDirectory(out, option: "--out")
        if resume == "latest" && out == nil {
            throw ValidationError("--resume latest needs --out RUN_DIR: the run directory to continue")
        }
        guard checkpointEvery >= 1 else { throw ValidationError("--checkpoint-every must be at least 1, got \(checkpointEvery)") }
        if let earlyStopping, earlyStopping < 1 { throw ValidationError("--early-stopping must be at least 1 epoch, got \(earlyStopping)") }
        guard keepCheckpoints >= 1 else { throw ValidationError("--keep-checkpoints must be at least 1, got \(keepCheckpoints)") }
        if overlapAllreduce && gradientExchange == .sharedMemory {
            throw ValidationError("--overlap-allreduce overlaps the MPI allreduce: use it with --gradient-exchange allreduce or auto, not shared-memory")
        }
        if overlapAllreduce && reproducible != false {
            throw ValidationError("--overlap-allreduce overlaps the gradient allreduce of the fast step; the reproducible step (the default) shares rows and has none: add --no-reproducible")
        }
    }

    /// Sets the epochs and the seed the user gave in `configuration`.
    func apply(to configuration: inout TrainingConfiguration) {
        if let epochs { configuration.epochs = epochs }
        if let seed { configuration.seed = seed }
    }

    /// Everything else in `options`.
    func apply(to options: inout TrainingOptions) {
        options.resume = resume
        options.force = force
        options.initFrom = initFrom
        options.earlyStoppingPatience = earlyStopping
        options.tensorboard = tensorboard || tensorboardImages
        options.tensorboardImages = tensorboardImages
        options.checkpointEvery = checkpointEvery
        options.keepCheckpoints = keepCheckpoints
        options.overlapAllreduce = overlapAllreduce
        options.gradientExchange = gradientExchange
        options.dormantUnits = dormantUnits
        options.reproducible = reproducible.map { $0 ? .on : .off } ?? .auto
        options.nonFinitePolicy = onNonfinite
    }
}
