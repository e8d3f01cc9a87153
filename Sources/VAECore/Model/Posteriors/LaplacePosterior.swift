import Foundation

/// Laplace(loc, b): f(eps) = exp(-|eps|) / 2, eps by the inverse CDF.
///
/// Entropy 1 + log 2, mean 0, E[eps^2] = 2: the KL is closed.
public struct LaplacePosterior: InverseCDFFamily {
    public init() {}
    public var name: String { "laplace" }

    /// F^-1(u): log(2u) below the median, -log(2(1-u)) above (1 - u is exact in float64 here).
    @inline(__always)
    public static func quantile(_ u: Double) -> Double {
        u < 0.5 ? Foundation.log(2 * u) : -Foundation.log(2 * (1 - u))
    }

    private static let logTwo = Float(Foundation.log(2.0))
    private static let entropy = Float(1 + Foundation.log(2.0))

    @inline(__always)
    public func standardLogDensity(_ eps: Float) -> (value: Float, derivative: Float) {
        // The derivative at exactly 0 is taken as 0; the noise never is 0 (u is never 1/2).
        (-Self.logTwo - abs(eps), eps > 0 ? -1 : (eps < 0 ? 1 : 0))
    }

    public var hasAnalyticKL: Bool { true }

    @inline(__always)
    public func klToStandardNormal(loc: Float, rawScale: Float) -> (value: Float, dLoc: Float, dRawScale: Float) {
        locationScaleKL(loc: loc, rawScale: rawScale, entropy: Self.entropy, mean: 0, secondMoment: 2)
    }
}
