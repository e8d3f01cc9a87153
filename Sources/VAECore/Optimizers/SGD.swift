import CVAEKernels

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
