import CVAEKernels
import Foundation

/// Hidden-layer nonlinearities.
///
/// Each derivative is computed from the activation's OUTPUT, so the forward pass stores one buffer per layer.
public enum Activation: String, CaseIterable, Codable, Sendable {
    case relu, tanh, softplus, sigmoid

    /// y = act(v), in place over `count` floats.
    public func forward(_ values: UnsafeMutablePointer<Float>, count: Int) {
        switch self {
        case .relu:
            vae_relu_forward(values, count)
        case .tanh:
            for i in 0..<count { values[i] = Foundation.tanh(values[i]) }
        case .softplus:
            for i in 0..<count { values[i] = Self.softplus(values[i]) }
        case .sigmoid:
            for i in 0..<count { values[i] = Self.sigmoid(values[i]) }
        }
    }

    /// Multiplies the gradient w.r.t. y by dy/dv, in place, given y.
    public func backward(gradient: UnsafeMutablePointer<Float>, output: UnsafePointer<Float>, count: Int) {
        switch self {
        case .relu:
            // The derivative at 0 is taken as 0, as PyTorch does.
            vae_relu_backward(gradient, output, count)
        case .tanh:
            for i in 0..<count { gradient[i] *= 1 - output[i] * output[i] }
        case .softplus:
            // y = log(1 + e^v)  =>  dy/dv = sigmoid(v) = 1 - e^(-y)
            for i in 0..<count { gradient[i] *= -Foundation.expm1(-output[i]) }
        case .sigmoid:
            for i in 0..<count { gradient[i] *= output[i] * (1 - output[i]) }
        }
    }

    /// log(1 + e^v) without overflow.
    @inline(__always)
    public static func softplus(_ v: Float) -> Float {
        max(v, 0) + Foundation.log1p(Foundation.exp(-abs(v)))
    }

    @inline(__always)
    public static func sigmoid(_ v: Float) -> Float {
        if v >= 0 { return 1 / (1 + Foundation.exp(-v)) }
        let e = Foundation.exp(v)
        return e / (1 + e)
    }
}
