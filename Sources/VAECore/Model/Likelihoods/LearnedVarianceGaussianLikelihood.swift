import Foundation

/// Gaussian with a learned per-pixel variance, for continuous data in any range.
///
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

    /// -log p(x|y) of one row, given `prepare`'s results.
    ///
    /// Writes gradientScale * d/dy to `gradient` (may alias `output`) and ADDS
    /// gradientScale * (1 - r_d^2 / s2_d) to `logVarianceAccumulator` [count] (see
    /// `logVarianceGradient`).
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

    /// d(-log p)/d v_d = 0.5 (exp(v_d) / s2_d) (1 - r_d^2 / s2_d), written to `gradient` [count].
    ///
    /// That is the accumulated sums times 0.5 exp(v_d) / s2_d.
    public func logVarianceGradient(logVariance: UnsafePointer<Float>, inverseVariance: UnsafePointer<Float>,
                                    accumulator: UnsafePointer<Float>, count: Int,
                                    gradient: UnsafeMutablePointer<Float>) {
        for d in 0..<count {
            gradient[d] = 0.5 * Foundation.exp(logVariance[d]) * inverseVariance[d] * accumulator[d]
        }
    }
}
