import CVAEKernels
import Foundation

/// An update rule over the flat parameter and gradient buffers (PyTorch
/// semantics; docs/algorithm.md, "Optimizers"). `step` consumes the averaged
/// gradient of one global batch; weight decay is coupled L2, added to it.
public protocol Optimizer: AnyObject {
    var name: String { get }
    /// The rate of the next update (the trainer sets it per step when it follows a schedule).
    var learningRate: Float { get set }
    /// Number of updates applied so far (t of the last update).
    var stepCount: Int { get set }
    /// Per-parameter state, each buffer laid out like the parameters; named for checkpoints.
    var state: [(name: String, buffer: FloatBuffer)] { get }
    /// One update from `gradients` times `gradientScale` (the trainer's 1 / rows and clip factor),
    /// of the parameters in `range` only: a rank of a sharded update owns one range, and the
    /// ranks together update every parameter once. The step count advances once per call.
    /// Returns whether every gradient in `range` was finite: the pass checks each as it reads
    /// it, so a caller that needs nothing else of the gradient makes no pass of its own (an
    /// Inf or NaN has then already reached the parameters and state).
    @discardableResult
    func step(parameters: FloatBuffer, gradients: FloatBuffer, gradientScale: Float, range: Range<Int>) -> Bool
    /// After a step: true when it wrote no parameter inside the ranges it was told hold a
    /// zero gradient (`Adam.quietRangesHint`), within its range; false when it cannot say.
    var leftQuietRangesUnwritten: Bool { get }
}

extension Optimizer {
    /// Optimizers without a quiet pass write every parameter they update.
    public var leftQuietRangesUnwritten: Bool { false }

    /// One update of every parameter; whether every gradient was finite.
    @discardableResult
    public func step(parameters: FloatBuffer, gradients: FloatBuffer, gradientScale: Float = 1) -> Bool {
        step(parameters: parameters, gradients: gradients, gradientScale: gradientScale, range: 0..<parameters.count)
    }
}

/// Checks shared by the optimizers' steps: the gradient buffer may carry extra slots after
/// the parameters (the trainer fuses its loss sums there); `range` lies inside the parameters.
private func checkStep(parameters: FloatBuffer, gradients: FloatBuffer, range: Range<Int>) {
    precondition(gradients.count >= parameters.count, "gradient buffer smaller than the parameters")
    precondition(range.lowerBound >= 0 && range.upperBound <= parameters.count, "update range outside the parameters")
}

/// The closed set of optimizers and their settings, as chosen on the command line.
public enum OptimizerKind: String, CaseIterable, Codable, Sendable {
    case adam, adagrad, sgd

    /// `allocate` makes each per-parameter state buffer (`stateBufferCount` of them); the
    /// shared-memory trainer places them where every rank of a node can read them.
    public func make(parameterCount: Int, learningRate: Float, weightDecay: Float, momentum: Float,
                     allocate: (Int) -> FloatBuffer = { FloatBuffer(count: $0) }) -> any Optimizer {
        switch self {
        case .adam: return Adam(parameterCount: parameterCount, learningRate: learningRate, weightDecay: weightDecay,
                                allocate: allocate)
        case .adagrad: return Adagrad(parameterCount: parameterCount, learningRate: learningRate,
                                      weightDecay: weightDecay, allocate: allocate)
        case .sgd: return SGD(parameterCount: parameterCount, learningRate: learningRate,
                              momentum: momentum, weightDecay: weightDecay, allocate: allocate)
        }
    }

    /// How many per-parameter state buffers the optimizer keeps.
    public var stateBufferCount: Int {
        switch self {
        case .adam: 2
        case .adagrad, .sgd: 1
        }
    }
}

/// Adam (Kingma & Ba) with bias correction; one fused pass over the buffers.
public final class Adam: Optimizer {
    public var learningRate: Float
    public let beta1: Float = 0.9
    public let beta2: Float = 0.999
    public let epsilon: Float = 1e-8
    public let weightDecay: Float
    public var stepCount = 0
    /// Ranges of the parameters whose gradient the caller expects to be exactly 0 and whose
    /// first moments +0 (the dormant units' weights: docs/performance.md), ascending and
    /// disjoint. A hint for speed: there `vae_adam_step_quiet` checks each block and only
    /// decays the second moments where the expectation holds. The results are the same bits
    /// whether or not it does.
    public var quietRangesHint: [Range<Int>] = []
    /// Whether the last step took the quiet path in every hinted block of its range (it
    /// wrote none of those parameters): `DormantUnits.verify` may then trust their rows.
    public private(set) var leftQuietRangesUnwritten = false
    let firstMoment: FloatBuffer
    let secondMoment: FloatBuffer

    public init(parameterCount: Int, learningRate: Float, weightDecay: Float = 0,
                allocate: (Int) -> FloatBuffer = { FloatBuffer(count: $0) }) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        firstMoment = allocate(parameterCount)
        secondMoment = allocate(parameterCount)
    }

    public var name: String { "adam" }
    public var state: [(name: String, buffer: FloatBuffer)] { [("exp_avg", firstMoment), ("exp_avg_sq", secondMoment)] }

    /// Whether every first moment in `range` is +0 (bitwise): with a zero gradient there,
    /// the quiet pass leaves those parameters unwritten.
    public func firstMomentsArePositiveZero(in range: Range<Int>) -> Bool {
        UnsafeBufferPointer(start: firstMoment.pointer + range.lowerBound, count: range.count)
            .allSatisfy { $0.bitPattern == 0 }
    }

    @discardableResult
    public func step(parameters: FloatBuffer, gradients: FloatBuffer, gradientScale: Float, range: Range<Int>) -> Bool {
        checkStep(parameters: parameters, gradients: gradients, range: range)
        stepCount += 1
        let t = Double(stepCount)
        let stepSize = Float(Double(learningRate) / (1 - pow(Double(beta1), t)))
        let inverseCorrection2Root = Float(1 / (1 - pow(Double(beta2), t)).squareRoot())
        let (b1, b2, eps, decay) = (beta1, beta2, epsilon, weightDecay)
        // One fused pass over the four buffers (CVAEKernels), the hinted ranges by the quiet kernel.
        var finite = true
        var allQuiet: Int32 = 1
        var next = range.lowerBound
        func update(_ part: Range<Int>, quiet: Bool) {
            guard !part.isEmpty else { return }
            let (m, v) = (firstMoment.pointer + part.lowerBound, secondMoment.pointer + part.lowerBound)
            let (p, g) = (parameters.pointer + part.lowerBound, gradients.pointer + part.lowerBound)
            let result = quiet
                ? vae_adam_step_quiet(p, g, m, v, part.count, gradientScale, b1, b2, stepSize, inverseCorrection2Root,
                                      eps, decay, &allQuiet)
                : vae_adam_step(p, g, m, v, part.count, gradientScale, b1, b2, stepSize, inverseCorrection2Root, eps,
                                decay)
            finite = result != 0 && finite
        }
        for hint in quietRangesHint {
            let quiet = hint.clamped(to: next..<range.upperBound)
            guard !quiet.isEmpty else { continue }
            update(next..<quiet.lowerBound, quiet: false)
            update(quiet, quiet: true)
            next = quiet.upperBound
        }
        update(next..<range.upperBound, quiet: false)
        leftQuietRangesUnwritten = allQuiet != 0
        return finite
    }
}

/// Adagrad (Duchi et al.), the optimizer of Kingma & Welling's experiments.
public final class Adagrad: Optimizer {
    public var learningRate: Float
    public let epsilon: Float = 1e-10
    public let weightDecay: Float
    public var stepCount = 0
    let squaredSum: FloatBuffer

    public init(parameterCount: Int, learningRate: Float, weightDecay: Float = 0,
                allocate: (Int) -> FloatBuffer = { FloatBuffer(count: $0) }) {
        self.learningRate = learningRate
        self.weightDecay = weightDecay
        squaredSum = allocate(parameterCount)
    }

    public var name: String { "adagrad" }
    public var state: [(name: String, buffer: FloatBuffer)] { [("sum", squaredSum)] }

    @discardableResult
    public func step(parameters: FloatBuffer, gradients: FloatBuffer, gradientScale: Float, range: Range<Int>) -> Bool {
        checkStep(parameters: parameters, gradients: gradients, range: range)
        stepCount += 1
        let (lr, eps, decay) = (learningRate, epsilon, weightDecay)
        let first = range.lowerBound
        let s = squaredSum.pointer + first
        let p = parameters.pointer + first, g = gradients.pointer + first
        return vae_adagrad_step(p, g, s, range.count, gradientScale, lr, eps, decay) != 0
    }
}

/// SGD with heavy-ball momentum (PyTorch's form: the buffer starts as the first gradient).
public final class SGD: Optimizer {
    public var learningRate: Float
    public let momentum: Float
    public let weightDecay: Float
    public var stepCount = 0
    let velocity: FloatBuffer

    public init(parameterCount: Int, learningRate: Float, momentum: Float = 0.9, weightDecay: Float = 0,
                allocate: (Int) -> FloatBuffer = { FloatBuffer(count: $0) }) {
        self.learningRate = learningRate
        self.momentum = momentum
        self.weightDecay = weightDecay
        velocity = allocate(parameterCount)
    }

    public var name: String { "sgd" }
    public var state: [(name: String, buffer: FloatBuffer)] { [("momentum_buffer", velocity)] }

    @discardableResult
    public func step(parameters: FloatBuffer, gradients: FloatBuffer, gradientScale: Float, range: Range<Int>) -> Bool {
        checkStep(parameters: parameters, gradients: gradients, range: range)
        stepCount += 1
        let isFirst = stepCount == 1
        let (lr, mu, decay) = (learningRate, momentum, weightDecay)
        let first = range.lowerBound
        let buffer = velocity.pointer + first
        let p = parameters.pointer + first, g = gradients.pointer + first
        return vae_sgd_step(p, g, buffer, range.count, gradientScale, lr, mu, decay, isFirst ? 1 : 0) != 0
    }
}

/// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_), as a factor the
/// optimizer applies while it reads the gradient (no pass of its own).
public enum GradientClipping {
    /// The sum of squares of `count` floats in Double: non-finite exactly when a value is.
    public static func sumOfSquares(_ values: UnsafePointer<Float>, count: Int) -> Double {
        vae_sum_of_squares(values, count)
    }

    /// The L2 norm of the whole buffer.
    public static func norm(_ gradients: UnsafeBufferPointer<Float>) -> Double {
        guard let base = gradients.baseAddress else { return 0 }
        return sumOfSquares(base, count: gradients.count).squareRoot()
    }

    /// The factor that brings a gradient of norm `norm` to at most `maxNorm`.
    public static func factor(norm: Double, maxNorm: Double) -> Float {
        norm > maxNorm ? Float(maxNorm / (norm + 1e-6)) : 1
    }
}
