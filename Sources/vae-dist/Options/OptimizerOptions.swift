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
    @Option(help: "Coupled L2 weight decay (default 0).")
    var weightDecay: Float?
    @Option(help: "Momentum of sgd (default 0.9).")
    var momentum: Float?
    @Option(help: "Clip the global gradient norm to this value, 0 = off (default 0).")
    var clip: Float?

    /// Sets every option the user gave in `configuration`.
    func apply(to configuration: inout TrainingConfiguration) {
        if let kind { configuration.optimizer = kind }
        if let lr { configuration.learningRate = lr }
        if let lrScaling { configuration.learningRateScaling = lrScaling }
        if let lrWarmup { configuration.learningRateWarmupEpochs = lrWarmup }
        if let weightDecay { configuration.weightDecay = weightDecay }
        if let momentum { configuration.momentum = momentum }
        if let clip { configuration.clipNorm = clip }
    }
}
