/// The closed set of optimizers and their settings, as chosen on the command line.
public enum OptimizerKind: String, CaseIterable, Codable, Sendable {
    case adam, adagrad, sgd

    /// The optimizer of this kind; `allocate` makes each per-parameter state buffer.
    ///
    /// There are `stateBufferCount` of them; the shared-memory trainer places them where every
    /// rank of a node can read them.
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
