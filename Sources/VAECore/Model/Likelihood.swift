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

/// Gaussian with a learned per-pixel variance, for continuous data in any range:
/// -log p = sum_d 0.5 log(2 pi s2_d) + (x_d - y_d)^2 / (2 s2_d), s2_d = floor + exp(v_d),
/// v = `decoder.logvar` [D] (a parameter of the model, not a decoder output).
/// The floor keeps the density bounded when a pixel is reconstructed exactly
/// (without it s2_d -> 0 drives the loss to -inf); floor + exp(v) rather than
/// max(floor, exp(v)) keeps the gradient alive at the floor.
///
/// Per step: `prepare` once from the parameters, `negativeLogLikelihood` per
/// (row, draw), `logVarianceGradient` once at the end. The per-pixel loop does
/// one more multiply-add than the fixed-variance one and allocates nothing.
public struct LearnedVarianceGaussianLikelihood: Sendable {
    public let varianceFloor: Float

    public init(varianceFloor: Float) {
        precondition(varianceFloor >= 0 && varianceFloor.isFinite, "variance floor must be finite and >= 0")
        self.varianceFloor = varianceFloor
    }

    /// Writes 1 / s2_d to `inverseVariance` [count]; returns sum_d 0.5 log(2 pi s2_d).
    public func prepare(logVariance: UnsafePointer<Float>, count: Int,
                        inverseVariance: UnsafeMutablePointer<Float>) -> Double {
        var normalizer = 0.0
        for d in 0..<count {
            let variance = varianceFloor + Foundation.exp(logVariance[d])
            inverseVariance[d] = 1 / variance
            normalizer += 0.5 * Foundation.log(2 * Double.pi * Double(variance))
        }
        return normalizer
    }

    /// -log p(x|y) of one row given `prepare`'s results; writes gradientScale * d/dy to
    /// `gradient` (may alias `output`) and ADDS gradientScale * (1 - r_d^2 / s2_d) to
    /// `logVarianceAccumulator` [count] (see `logVarianceGradient`).
    @inline(__always)
    public func negativeLogLikelihood(
        data: UnsafePointer<Float>, output: UnsafePointer<Float>, count: Int,
        inverseVariance: UnsafePointer<Float>, normalizer: Double,
        gradientScale: Float, gradient: UnsafeMutablePointer<Float>,
        logVarianceAccumulator: UnsafeMutablePointer<Float>
    ) -> Double {
        var weightedSquares: Float = 0
        for d in 0..<count {
            let residual = output[d] - data[d]
            let scaledResidual = residual * inverseVariance[d]
            let standardizedSquare = residual * scaledResidual
            weightedSquares += standardizedSquare
            gradient[d] = gradientScale * scaledResidual
            logVarianceAccumulator[d] += gradientScale * (1 - standardizedSquare)
        }
        return normalizer + 0.5 * Double(weightedSquares)
    }

    /// d(-log p)/d v_d = 0.5 (exp(v_d) / s2_d) (1 - r_d^2 / s2_d): the accumulated
    /// sums times 0.5 exp(v_d) / s2_d, written to `gradient` [count].
    public func logVarianceGradient(logVariance: UnsafePointer<Float>, inverseVariance: UnsafePointer<Float>,
                                    accumulator: UnsafePointer<Float>, count: Int,
                                    gradient: UnsafeMutablePointer<Float>) {
        for d in 0..<count {
            gradient[d] = 0.5 * Foundation.exp(logVariance[d]) * inverseVariance[d] * accumulator[d]
        }
    }
}
