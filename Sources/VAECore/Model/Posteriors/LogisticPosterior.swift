import Foundation

/// Logistic(loc, s): f(eps) = e^-eps / (1 + e^-eps)^2, eps = log(u / (1 - u)).
///
/// Entropy 2, mean 0, E[eps^2] = pi^2 / 3: the KL is closed.
public struct LogisticPosterior: InverseCDFFamily {
    public init() {}
    public var name: String { "logistic" }

    @inline(__always)
    public static func quantile(_ u: Double) -> Double { Foundation.log(u) - Foundation.log(1 - u) }

    private static let secondMoment = Float(Double.pi * Double.pi / 3)

    /// log f = -|eps| - 2 log(1 + e^-|eps|) (symmetric, never overflows); d/d eps = -tanh(eps / 2).
    @inline(__always)
    public func standardLogDensity(_ eps: Float) -> (value: Float, derivative: Float) {
        let magnitude = abs(eps)
        return (-magnitude - 2 * Foundation.log1p(Foundation.exp(-magnitude)), -Foundation.tanh(0.5 * eps))
    }

    public var hasAnalyticKL: Bool { true }

    @inline(__always)
    public func klToStandardNormal(loc: Float, rawScale: Float) -> (value: Float, dLoc: Float, dRawScale: Float) {
        locationScaleKL(loc: loc, rawScale: rawScale, entropy: 2, mean: 0, secondMoment: Self.secondMoment)
    }
}
