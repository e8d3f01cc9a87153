/// Everything that determines a training run's numbers.
///
/// Stored as JSON in every checkpoint and embedding file, so a file says how it was made.
public struct TrainingConfiguration: Codable, Sendable, Equatable {
    public var architecture: ModelArchitecture
    public var likelihood: LikelihoodKind = .bernoulli
    /// Fixed variance of the Gaussian likelihood (unused when the architecture learns it).
    public var gaussianVariance: Float = 1
    /// The posterior family, encoded as its name.
    ///
    /// So configs written before the families existed ("gaussian") still decode.
    public var posterior: PosteriorKind = .gaussian
    public var estimator: Estimator = .B
    /// L, samples of z per datapoint.
    public var samples: Int = 1
    public var beta: Float = 1
    /// Linear KL warm-up length in epochs (0 = off).
    public var klWarmupEpochs: Double = 0
    public var optimizer: OptimizerKind = .adam
    public var learningRate: Float = 1e-3
    /// How `learningRate` scales with the global batch; nil (as in older configs) is none.
    public var learningRateScaling: LearningRateScaling?
    /// Linear warm-up, in epochs, from `learningRate` to the scaled rate; nil or 0 is off.
    public var learningRateWarmupEpochs: Double?
    /// How the rate falls after the warm-up; nil (as in older configs) is constant.
    public var learningRateSchedule: LearningRateSchedule?
    public var weightDecay: Float = 0
    public var momentum: Float = 0.9
    /// Global gradient-norm clip (0 = off).
    public var clipNorm: Float = 0
    /// Rows per optimizer step summed over all ranks.
    public var globalBatch: Int = 128
    public var epochs: Int = 10
    public var seed: UInt64 = 0
    public var initialization: ParameterInitialization = .pytorch
    public var lastBatch: LastBatchPolicy = .partial
    /// The number format of the GEMM inputs (`--precision`); nil, as in configs written
    /// before bf16, is fp32.
    public var precision: GEMMPrecision?
    /// The GEMM library the run trains with, recorded once start-up chose it (`GEMMSetup`),
    /// so that a resumed run computes as the uninterrupted one; nil before that.
    public var gemm: GEMMBackend?
    /// How each epoch's order is drawn; nil (as in configs from before block shuffling) is rows.
    public var shuffle: ShuffleMode?
    /// The data layout a block shuffle permutes: set from the training data when a run
    /// starts with `shuffle == .blocks`, then kept (in checkpoints too).
    public var blockShuffle: BlockShuffle?
    /// The share of the training file's rows held out for validation (`--validation-fraction`,
    /// `RandomStreams.validationRows`); nil (as in older configs) holds out none.
    public var validationFraction: Double?

    public init(architecture: ModelArchitecture) { self.architecture = architecture }

    /// The default model of the PyTorch VAE example: 784-400-20, ReLU.
    public static func defaults(dataDimension: Int = 784) -> TrainingConfiguration {
        TrainingConfiguration(architecture: ModelArchitecture(
            dataDimension: dataDimension, hiddenSizes: [400], latentDimension: 20, activation: .relu))
    }

    /// The epoch order this configuration draws: rows, or blocks once the layout is known
    /// (nil while `shuffle == .blocks` and `blockShuffle` is unset).
    public var epochOrdering: EpochOrdering? {
        switch shuffle ?? .rows {
        case .rows: return .rows
        case .blocks: return blockShuffle.map { .blocks($0) }
        }
    }

    public var objectiveSettings: ObjectiveSettings {
        let model: any Likelihood = switch likelihood {
        case .bernoulli: BernoulliLikelihood()
        case .gaussian: GaussianLikelihood(variance: gaussianVariance)
        }
        return ObjectiveSettings(likelihood: model, posterior: posterior.family, estimator: estimator, samples: samples)
    }

    public func makeOptimizer(parameterCount: Int,
                              allocate: (Int) -> FloatBuffer = { FloatBuffer(count: $0) }) -> any Optimizer {
        optimizer.make(parameterCount: parameterCount, learningRate: learningRate,
                       weightDecay: weightDecay, momentum: momentum, allocate: allocate)
    }

    /// The global batch at which `learningRate` applies unscaled.
    public static let learningRateReferenceBatch = 128

    /// The learning rate at optimizer step `step` (1-based).
    ///
    /// The scaled rate, reached linearly from `learningRate` over the warm-up, then falling
    /// as `learningRateSchedule` says over the run's `epochs`. A pure function of the step,
    /// so a resumed run continues the schedule exactly.
    public func learningRate(step: Int, stepsPerEpoch: Int) -> Float {
        let ratio = Double(globalBatch) / Double(Self.learningRateReferenceBatch)
        let factor: Double
        switch learningRateScaling ?? .none {
        case .none: factor = 1
        case .linear: factor = ratio
        case .sqrt: factor = ratio.squareRoot()
        }
        let target = Double(learningRate) * factor
        let warmupSteps = (learningRateWarmupEpochs ?? 0) * Double(stepsPerEpoch)
        if warmupSteps > 0, Double(step) < warmupSteps {
            return Float(Double(learningRate) + (target - Double(learningRate)) * Double(step) / warmupSteps)
        }
        guard let schedule = learningRateSchedule else { return Float(target) }
        return Float(schedule.rate(target, step: step, stepsPerEpoch: stepsPerEpoch, warmupSteps: warmupSteps,
                                   totalSteps: epochs * stepsPerEpoch))
    }

    /// How many of a file's `rowCount` rows `validationFraction` holds out: round(F N), at
    /// least 1 and leaving at least 1 to train on; 0 without a fraction.
    public func validationRowCount(rowCount: Int) -> Int {
        guard let fraction = validationFraction, rowCount >= 2 else { return 0 }
        return min(max(1, Int((fraction * Double(rowCount)).rounded())), rowCount - 1)
    }

    /// The KL weight at optimizer step `step` (1-based): linear warm-up to `beta`.
    public func klWeight(step: Int, stepsPerEpoch: Int) -> Float {
        guard klWarmupEpochs > 0 else { return beta }
        let warmupSteps = klWarmupEpochs * Double(stepsPerEpoch)
        return beta * Float(min(1, Double(step) / warmupSteps))
    }

    /// Problems a user can fix, in the words of the command line; empty when valid.
    public var problems: [String] {
        var found: [String] = []
        if let warmup = learningRateWarmupEpochs {
            if !(warmup >= 0) || !warmup.isFinite { found.append("--lr-warmup must be >= 0 epochs (got \(warmup))") }
            if warmup > 0 && (learningRateScaling ?? LearningRateScaling.none) == LearningRateScaling.none {
                found.append("--lr-warmup warms up to a scaled rate: it needs --lr-scaling linear or sqrt")
            }
        }
        if architecture.dataDimension < 1 { found.append("the data dimension must be at least 1") }
        if architecture.latentDimension < 1 { found.append("--latent must be at least 1 (got \(architecture.latentDimension))") }
        if architecture.hiddenSizes.contains(where: { $0 < 1 }) {
            found.append("--hidden sizes must be at least 1 (got \(architecture.hiddenSizes.map(String.init).joined(separator: ",")))")
        }
        if let convolution = architecture.convolution {
            found += convolution.problems(dataDimension: architecture.dataDimension)
        }
        if samples < 1 { found.append("--samples must be at least 1 (got \(samples))") }
        if samples >= 1 << 24 { found.append("--samples must be below 16777216 (got \(samples))") }
        if !(beta >= 0) || !beta.isFinite { found.append("--beta must be a finite number >= 0 (got \(beta))") }
        if !(klWarmupEpochs >= 0) || !klWarmupEpochs.isFinite { found.append("--kl-warmup must be >= 0 epochs (got \(klWarmupEpochs))") }
        if !(learningRate > 0) || !learningRate.isFinite { found.append("--lr must be a positive number (got \(learningRate))") }
        if let schedule = learningRateSchedule { found += schedule.problems(learningRate: learningRate) }
        if let fraction = validationFraction, !(fraction > 0 && fraction < 1) {
            found.append("--validation-fraction must be between 0 and 1, e.g. 0.1 (got \(fraction))")
        }
        if !(weightDecay >= 0) || !weightDecay.isFinite { found.append("--weight-decay must be >= 0 (got \(weightDecay))") }
        if !(momentum >= 0 && momentum < 1) { found.append("--momentum must be in [0, 1) (got \(momentum))") }
        if !(clipNorm >= 0) || !clipNorm.isFinite { found.append("--clip must be >= 0, 0 meaning off (got \(clipNorm))") }
        if globalBatch < 1 { found.append("--batch must be at least 1 (got \(globalBatch))") }
        if let blockShuffle, blockShuffle.blockRows < 1 || blockShuffle.windowBlocks < 1 {
            found.append("a block shuffle needs blocks and windows of at least 1 (got \(blockShuffle.blockRows) rows, \(blockShuffle.windowBlocks) blocks)")
        }
        if epochs < 1 { found.append("--epochs must be at least 1 (got \(epochs))") }
        if likelihood == .gaussian && !(gaussianVariance > 0 && gaussianVariance.isFinite) {
            found.append("--gaussian-variance must be a positive number (got \(gaussianVariance))")
        }
        if estimator == .B && !posterior.family.hasAnalyticKL {
            found.append("--estimator B needs an analytic KL; --posterior \(posterior.rawValue) has none "
                         + "(its KL to the N(0, I) prior is infinite): use --estimator A")
        }
        if let floor = architecture.learnedVarianceFloor {
            if likelihood != .gaussian { found.append("--learned-variance needs --likelihood gaussian (got \(likelihood.rawValue))") }
            if !(floor > 0 && floor.isFinite) { found.append("--variance-floor must be a positive number (got \(floor))") }
        }
        return found
    }
}
