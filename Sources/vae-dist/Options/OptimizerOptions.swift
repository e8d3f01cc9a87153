import ArgumentParser
import VAECore

/// `train`'s optimizer, learning rate and clipping (optional, as `ModelOptions`).
struct OptimizerOptions: ParsableArguments {
    @Option(name: .customLong("optimizer"), help: "Optimizer: adam, adagrad or sgd with momentum (default adam).")
    var kind: OptimizerKind?
    @Option(help: "Learning rate for a global batch of 128 (default 0.001).")
    var lr: Float?
    @Option(help: "Scale --lr with the global batch: none, linear (x batch/128, Goyal et al.) or sqrt (x sqrt(batch/128)) (default none).")
    var lrScaling: LearningRateScaling?
    @Option(help: "Ramp the learning rate linearly from --lr to the scaled rate over this many epochs (default 0).")
    var lrWarmup: Double?
    @Option(help: "After the warm-up: constant, cosine (half a cosine down to --lr-min at the last epoch) or step (x --lr-step-factor every --lr-step-epochs) (default constant).")
    var lrSchedule: LearningRateSchedule.Kind?
    @Option(help: "cosine: the rate at the end of the run (default 0).")
    var lrMin: Double?
    @Option(help: "step: epochs between two decays (required with --lr-schedule step).")
    var lrStepEpochs: Int?
    @Option(help: "step: what each decay multiplies the rate by (default 0.1).")
    var lrStepFactor: Double?
    @Option(help: "Coupled L2 weight decay (default 0).")
    var weightDecay: Float?
    @Option(help: "Momentum of sgd (default 0.9).")
    var momentum: Float?
    @Option(help: "Clip the global gradient norm to this value, 0 = off (default 0).")
    var clip: Float?

    func validate() throws {
        if lrMin != nil, lrSchedule != .cosine { throw ValidationError("--lr-min is the end of --lr-schedule cosine: give both") }
        if lrStepEpochs != nil || lrStepFactor != nil, lrSchedule != .step {
            throw ValidationError("--lr-step-epochs and --lr-step-factor shape --lr-schedule step: give it too")
        }
    }

    /// Sets every option the user gave in `configuration`.
    func apply(to configuration: inout TrainingConfiguration) {
        if let kind { configuration.optimizer = kind }
        if let lr { configuration.learningRate = lr }
        if let lrScaling { configuration.learningRateScaling = lrScaling }
        if let lrWarmup { configuration.learningRateWarmupEpochs = lrWarmup }
        if let lrSchedule {
            configuration.learningRateSchedule = lrSchedule == .constant ? nil : LearningRateSchedule(
                kind: lrSchedule, minimum: lrSchedule == .cosine ? lrMin ?? 0 : nil,
                stepEpochs: lrSchedule == .step ? lrStepEpochs : nil, stepFactor: lrSchedule == .step ? lrStepFactor ?? 0.1 : nil)
        }
        if let weightDecay { configuration.weightDecay = weightDecay }
        if let momentum { configuration.momentum = momentum }
        if let clip { configuration.clipNorm = clip }
    }
}
