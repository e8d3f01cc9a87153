import Foundation

/// Cauchy(loc, gamma): f(eps) = 1 / (pi (1 + eps^2)), eps = tan(pi (u - 1/2)).
///
/// Its second moment is infinite, so E_q[log N(z; 0, 1)] = -inf and the KL to
/// the prior is +inf for every (loc, gamma): there is no analytic KL, estimator
/// B is refused, and estimator A's Monte Carlo "KL" is finite per sample but
/// has no finite expectation (docs/families.md).
public struct CauchyPosterior: InverseCDFFamily {
    public init() {}
    public var name: String { "cauchy" }

    @inline(__always)
    public static func quantile(_ u: Double) -> Double { Foundation.tan(Double.pi * (u - 0.5)) }

    private static let logPi = Float(Foundation.log(Double.pi))

    /// |eps| < 2.8e9, so eps^2 < 8e18 stays finite in float32.
    @inline(__always)
    public func standardLogDensity(_ eps: Float) -> (value: Float, derivative: Float) {
        let square = eps * eps
        return (-Self.logPi - Foundation.log1p(square), -2 * eps / (1 + square))
    }

    public var hasAnalyticKL: Bool { false }

    /// Never called by the objective (estimator B is refused for this family).
    public func klToStandardNormal(loc: Float, rawScale: Float) -> (value: Float, dLoc: Float, dRawScale: Float) {
        (.infinity, .nan, .nan)
    }
}
