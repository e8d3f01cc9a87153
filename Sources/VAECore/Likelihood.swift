import CVAEKernels
import Foundation

/// The decoder's observation model p(x|z), factorised over the D pixels.
/// The decoder's output layer gives one unconstrained value y per pixel.
public protocol Likelihood: Sendable {
    var name: String { get }

    /// Whether data must lie in [0, 1] (checked when data is opened).
    var requiresUnitInterval: Bool { get }

    /// Sum over `count` pixels of -log p(x|y), and `gradientScale` times its
    /// derivative w.r.t. each y written to `gradient` — one fused pass.
    func negativeLogLikelihood(
        data: UnsafePointer<Float>, output: UnsafePointer<Float>, count: Int,
        gradientScale: Float, gradient: UnsafeMutablePointer<Float>
    ) -> Double
}

/// Bernoulli on logits: -log p = softplus(y) - x y, written to never overflow.
public struct BernoulliLikelihood: Likelihood {
    public init() {}
    public var name: String { "bernoulli" }
    public var requiresUnitInterval: Bool { true }

    public func negativeLogLikelihood(
        data: UnsafePointer<Float>, output: UnsafePointer<Float>, count: Int,
        gradientScale: Float, gradient: UnsafeMutablePointer<Float>
    ) -> Double {
        // One fused pass (CVAEKernels): e = exp(-|y|) in (0, 1] never overflows and gives
        // both the loss (through log1p) and sigmoid(y) for the gradient. `gradient` may be `output`.
        let total = vae_bernoulli_nll(data, output, gradient, count, gradientScale)
        return Double(total)
    }
}

/// Gaussian with a fixed variance s2: -log p = 0.5 log(2 pi s2) + (x - y)^2 / (2 s2).
public struct GaussianLikelihood: Likelihood {
    public let variance: Float

    public init(variance: Float) {
        precondition(variance > 0, "Gaussian likelihood variance must be positive")
        self.variance = variance
    }

    public var name: String { "gaussian" }
    public var requiresUnitInterval: Bool { false }

    public func negativeLogLikelihood(
        data: UnsafePointer<Float>, output: UnsafePointer<Float>, count: Int,
        gradientScale: Float, gradient: UnsafeMutablePointer<Float>
    ) -> Double {
        let inverseVariance = 1 / variance
        var squares: Float = 0
        for i in 0..<count {
            let residual = output[i] - data[i]
            squares += residual * residual
            gradient[i] = gradientScale * residual * inverseVariance
        }
        let normalizer = 0.5 * Foundation.log(2 * Double.pi * Double(variance))
        return Double(count) * normalizer + 0.5 * Double(squares * inverseVariance)
    }
}
