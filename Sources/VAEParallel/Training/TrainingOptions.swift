import Foundation
import VAECore
import VAEIO

/// Where a training run reads and writes, beside the configuration that fixes its numbers.
public struct TrainingOptions: Sendable {
    public var configuration: TrainingConfiguration
    /// The training data: a file, a glob or a list file (`ShardSet.paths`); nil means the
    /// default Fashion-MNIST (prepared on first use).
    public var dataPath: String?
    /// Data evaluated after every epoch, named as `dataPath`; nil means none (the default
    /// data's test split when dataPath is nil).
    public var testDataPath: String?
    public var runDirectory: String
    public var readingMode: ReadingMode = .auto
    /// Bytes of training data each node may hold, its ranks together (`DataPlacement`);
    /// nil = a quarter of physical memory.
    public var memoryBudget: Int?
    /// Keep the newest K epoch checkpoints (the final one is always kept).
    public var keepCheckpoints: Int = 3
    public var checkpointEvery: Int = 1
    /// How rank 0 shows each epoch's progress (the command line chooses; none by default).
    public var progress: ProgressStyle = .off
    /// Rank 0 writes TensorBoard event files into the run directory (`TensorBoardLog`).
    public var tensorboard = false
    /// With them, 64 decoded prior draws per epoch.
    public var tensorboardImages = false
    /// Stop after this many epochs without a lower validation -ELBO (`--early-stopping`).
    public var earlyStoppingPatience: Int?
    /// Reduce the decoder's gradients while the encoder's are computed (see Trainer).
    public var overlapAllreduce = false
    /// How the ranks combine gradients (see Trainer and `GradientExchangeChoice`).
    public var gradientExchange: GradientExchangeChoice = .auto
    /// Whether any number of ranks gives one process's bits (see `ReproducibilityChoice`).
    public var reproducible: ReproducibilityChoice = .auto
    /// Whether the first encoder layer's dormant units are skipped (see `DormantUnits`).
    public var dormantUnits: DormantUnitsChoice = .skip
    /// The GEMM backend (`GEMMSetup`): auto measures, or keeps a resumed run's.
    public var gemm: GEMMBackendRequest = .auto
    /// Continue from "latest" (the newest checkpoint in the run directory) or a checkpoint path.
    public var resume: String?
    /// Resume even when the data fingerprint differs from the checkpoint's.
    public var force = false
    /// A new run starts from this checkpoint's weights with a fresh optimizer (`--init-from`);
    /// ignored when resuming, whose own checkpoint holds newer weights.
    public var initFrom: String?
    /// What a step with a NaN or infinite loss or gradient does.
    public var nonFinitePolicy: NonFinitePolicy = .stop
    /// Asked once per step on every rank (the CLI: "did a stop signal arrive?").
    ///
    /// When any rank says yes, every rank stops after that step and rank 0 writes a
    /// checkpoint.
    public var stopRequested: @Sendable () -> Bool = { false }
    /// The command line's explicit options applied to a configuration.
    ///
    /// On resume, applied to the checkpoint's to find options that contradict it.
    public var applyCommandLine: @Sendable (TrainingConfiguration) -> TrainingConfiguration = { $0 }

    public init(configuration: TrainingConfiguration, runDirectory: String) {
        self.configuration = configuration
        self.runDirectory = runDirectory
    }
}
