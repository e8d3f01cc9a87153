import Foundation

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
