import Foundation

/// Gumbel (maximum) with location loc and scale beta: f(eps) = exp(-(eps + e^-eps)), eps = -log(-log u).
///
/// Skewed, support all of R. Entropy 1 + gamma, mean gamma, E[eps^2] = pi^2/6 + gamma^2: the KL is closed (and
/// depends on loc * scale).
public struct GumbelPosterior: InverseCDFFamily {
    public init() {}
    public var name: String { "gumbel" }

    @inline(__always)
    public static func quantile(_ u: Double) -> Double { -Foundation.log(-Foundation.log(u)) }

    private static let entropy = Float(1 + LatentConstants.eulerGamma)
    private static let mean = Float(LatentConstants.eulerGamma)
    private static let secondMoment = Float(Double.pi * Double.pi / 6 + LatentConstants.eulerGamma * LatentConstants.eulerGamma)

    /// With u in (2^-33, 1 - 2^-33), eps lies in about (-3.1, 23): e^-eps cannot overflow.
    @inline(__always)
    public func standardLogDensity(_ eps: Float) -> (value: Float, derivative: Float) {
        let tail = Foundation.exp(-eps)
        return (-(eps + tail), tail - 1)
    }

    public var hasAnalyticKL: Bool { true }

    @inline(__always)
    public func klToStandardNormal(loc: Float, rawScale: Float) -> (value: Float, dLoc: Float, dRawScale: Float) {
        locationScaleKL(loc: loc, rawScale: rawScale, entropy: Self.entropy, mean: Self.mean,
                        secondMoment: Self.secondMoment)
    }
}
