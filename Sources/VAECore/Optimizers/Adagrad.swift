import CVAEKernels

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
