import VAECore
import VAEIO

/// The lines rank 0 prints before the first step: what will run, on what, and how.
///
/// Every choice made at start-up that changes speed or numbers is here: the BLAS
/// kernel and threads, the exchange (and why `auto` did not take shared memory), the
/// dormant units (and why they are computed).
struct TrainingBanner {
    let configuration: TrainingConfiguration
    let ranks: Int
    let trainFile: ShardSet
    let testFile: ShardSet?
    /// Where the training rows are held (`DataPlacement`): per node, per rank.
    let memory: String
    let trainer: Trainer
    let runDirectory: String
    /// Rows held out of the training data for validation (`--validation-fraction`).
    let validationRows: Int
    let earlyStopping: Int?

    var text: String {
        let architecture = configuration.architecture
        let threads = BLASLibrary.threadCount
        var lines = [
            "vae-dist train: \(ranks) rank\(ranks == 1 ? "" : "s"), BLAS kernel \(BLASLibrary.coreName)"
                + " x \(threads) thread\(threads == 1 ? "" : "s") per rank",
            "  model    \(architecture.summary), \(trainer.layout.totalCount) parameters, "
                + "\(configuration.posterior.rawValue) posterior, \(configuration.likelihood.rawValue) likelihood"
                + "\(architecture.learnedVarianceFloor.map { " (learned variance, floor \($0))" } ?? ""), "
                + "estimator \(configuration.estimator.rawValue), L=\(configuration.samples)",
            "  data     \(trainFile.description): \(trainFile.rowCount) x \(trainFile.featureCount) \(trainFile.featureType.rawValue), "
                + shuffleDescription,
            "  memory   \(memory)",
        ]
        if validationRows > 0 {
            lines.append("  validate \(validationRows) of its rows held out (--validation-fraction \(configuration.validationFraction ?? 0)), "
                         + "best epoch kept as \(RunDirectory.bestCheckpointName)"
                         + (earlyStopping.map { "; early stopping after \($0) epochs without a new best" } ?? ""))
        }
        if let testFile { lines.append("  test     \(testFile.description): \(testFile.rowCount) rows") }
        lines.append("  training \(configuration.epochs) epochs, global batch \(configuration.globalBatch), "
                     + "\(configuration.optimizer.rawValue) lr \(learningRateDescription), seed \(configuration.seed)")
        if ranks > 1 { lines.append("  exchange \(trainer.exchangeSummary)") }
        lines.append("  gemm     \(GEMMRuntime.engine.name) (\(GEMMRuntime.reason ?? "default"))")
        lines.append("  bits     \(trainer.reproducibilityNote)")
        lines.append("  dormant  first-layer ReLU units \(trainer.dormantUnitsNote)")
        lines.append("  output   \(runDirectory)")
        return lines.joined(separator: "\n")
    }

    /// "rows shuffled", or "blocks of 83 rows shuffled, rows within windows of 65 blocks (5395 rows)".
    private var shuffleDescription: String {
        guard case .blocks(let blocks)? = configuration.epochOrdering else { return "rows shuffled (--shuffle rows)" }
        return "blocks of \(blocks.blockRows) rows shuffled, rows within windows of \(blocks.windowBlocks) blocks "
            + "(\(blocks.blockRows * blocks.windowBlocks) rows)"
    }

    /// "0.001", or "0.001 x linear(256/128) = 0.002 after a 5-epoch warm-up", then the schedule.
    private var learningRateDescription: String {
        var text = scaledLearningRateDescription
        switch configuration.learningRateSchedule?.kind {
        case .cosine?: text += ", cosine down to \(configuration.learningRateSchedule?.minimum ?? 0) at the last epoch"
        case .step?:
            let schedule = configuration.learningRateSchedule
            text += ", x \(schedule?.stepFactor ?? 0.1) every \(schedule?.stepEpochs ?? 1) epochs"
        case .constant?, nil: break
        }
        return text
    }

    private var scaledLearningRateDescription: String {
        let base = "\(configuration.learningRate)"
        guard let scaling = configuration.learningRateScaling, scaling != .none else { return base }
        let scaled = configuration.learningRate(step: Int.max / 2, stepsPerEpoch: 1)
        var text = "\(base) x \(scaling.rawValue)(\(configuration.globalBatch)/\(TrainingConfiguration.learningRateReferenceBatch)) = \(scaled)"
        if let warmup = configuration.learningRateWarmupEpochs, warmup > 0 { text += " after a \(warmup)-epoch warm-up" }
        return text
    }
}
