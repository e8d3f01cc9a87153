import Foundation

/// A factorised, reparameterizable posterior q(z|x) over R^Z.
///
/// Each latent coordinate has a location `loc` and a raw scale parameter
/// `rawScale` = log(s^2), where s is the family's own scale parameter (the
/// Gaussian's sigma, the Laplace b, the logistic s, the Gumbel beta, the Cauchy
/// gamma; NOT the standard deviation in general), and is sampled as
/// z = loc + s * eps with eps from the family's standard member (loc 0, scale 1).
/// Gradients flow to (loc, rawScale) through z and through log q's explicit
/// arguments; the trainer only needs the per-coordinate pieces below.
/// docs/families.md derives every formula.
public protocol PosteriorFamily: Sendable {
    /// The name used on the command line and in configs.
    var name: String { get }

    /// Writes `count` standard-member noise values for one (row, draw).
    func noise(streams: RandomStreams, purpose: RandomPurpose, epoch: Int, row: Int, draw: Int,
               count: Int, into destination: UnsafeMutablePointer<Float>)

    /// log f(eps) of the standard member, and d/d eps of it.
    func standardLogDensity(_ eps: Float) -> (value: Float, derivative: Float)

    /// Whether KL(q || N(0, I)) has a closed form (estimator B needs it).
    var hasAnalyticKL: Bool { get }

    /// KL(q || N(0,1)) of one coordinate and its partials w.r.t. loc and rawScale.
    func klToStandardNormal(loc: Float, rawScale: Float) -> (value: Float, dLoc: Float, dRawScale: Float)
}

extension PosteriorFamily {
    /// The reparameterised sample z = loc + s * eps, s = exp(rawScale / 2), with its
    /// partials dz/dloc = 1 and dz/drawScale = s * eps / 2 (the backward's chain rule).
    /// The same for every location-scale family: only the noise differs.
    @inline(__always)
    public func sample(loc: Float, rawScale: Float, eps: Float) -> (z: Float, dLoc: Float, dRawScale: Float) {
        let scale = Foundation.exp(0.5 * rawScale)
        return (loc + scale * eps, 1, 0.5 * scale * eps)
    }
}

/// The posterior families of `--posterior`.
public enum PosteriorKind: String, CaseIterable, Codable, Sendable {
    case gaussian, laplace, logistic, gumbel, cauchy

    public var family: any PosteriorFamily {
        switch self {
        case .gaussian: DiagonalGaussian()
        case .laplace: LaplacePosterior()
        case .logistic: LogisticPosterior()
        case .gumbel: GumbelPosterior()
        case .cauchy: CauchyPosterior()
        }
    }

    /// B when the family has an analytic KL to the prior, else A.
    public var defaultEstimator: Estimator { family.hasAnalyticKL ? .B : .A }
}

/// KL(q || N(0,1)) for a location-scale q = loc + s * eps whose standard member
/// has entropy H, mean m1 and second moment m2 (all finite):
///   KL = -H - log s + 0.5 log(2 pi) + 0.5 E[z^2],
///   E[z^2] = loc^2 + 2 loc s m1 + s^2 m2,   log s = 0.5 rawScale.
/// Evaluated in float32 like the rest of the per-coordinate math.
@inline(__always)
func locationScaleKL(loc: Float, rawScale: Float, entropy: Float, mean: Float, secondMoment: Float)
    -> (value: Float, dLoc: Float, dRawScale: Float) {
    let scale = Foundation.exp(0.5 * rawScale)
    let variance = scale * scale
    let value = LatentConstants.halfLogTwoPi - entropy - 0.5 * rawScale
        + 0.5 * (loc * loc + 2 * loc * scale * mean + variance * secondMoment)
    // ds/d rawScale = s/2, d(s^2)/d rawScale = s^2.
    let dRawScale = -0.5 + 0.5 * loc * scale * mean + 0.5 * variance * secondMoment
    return (value, loc + scale * mean, dRawScale)
}

enum LatentConstants {
    static let halfLogTwoPi = Float(0.5 * Foundation.log(2 * Double.pi))
    /// Euler-Mascheroni gamma, the standard Gumbel's mean.
    static let eulerGamma = 0.57721566490153286
}

/// A family sampled by its inverse CDF: eps = quantile(u), u uniform on (0, 1)
/// (RandomStreams.inverseCDFNoise; docs/algorithm.md).
public protocol InverseCDFFamily: PosteriorFamily {
    /// The standard member's quantile function F^-1(u), in float64.
    static func quantile(_ u: Double) -> Double
}

extension InverseCDFFamily {
    public func noise(streams: RandomStreams, purpose: RandomPurpose, epoch: Int, row: Int, draw: Int,
                      count: Int, into destination: UnsafeMutablePointer<Float>) {
        streams.inverseCDFNoise(purpose: purpose, epoch: epoch, row: row, draw: draw, count: count,
                                into: destination, quantile: Self.quantile)
    }
}

/// The diagonal Gaussian of Kingma & Welling: q(z|x) = N(mu, diag(exp(logvar))).
public struct DiagonalGaussian: PosteriorFamily {
    public init() {}

    public var name: String { "gaussian" }

    public func noise(streams: RandomStreams, purpose: RandomPurpose, epoch: Int, row: Int, draw: Int,
                      count: Int, into destination: UnsafeMutablePointer<Float>) {
        streams.normals(purpose: purpose, epoch: epoch, row: row, draw: draw, count: count, into: destination)
    }

    @inline(__always)
    public func standardLogDensity(_ eps: Float) -> (value: Float, derivative: Float) {
        (-LatentConstants.halfLogTwoPi - 0.5 * eps * eps, -eps)
    }

    public var hasAnalyticKL: Bool { true }

    /// KL = 0.5 (mu^2 + e^logvar - 1 - logvar).
    @inline(__always)
    public func klToStandardNormal(loc: Float, rawScale: Float) -> (value: Float, dLoc: Float, dRawScale: Float) {
        let variance = Foundation.exp(rawScale)
        return (0.5 * (loc * loc + variance - 1 - rawScale), loc, 0.5 * (variance - 1))
    }
}

/// Laplace(loc, b): f(eps) = exp(-|eps|) / 2, eps by the inverse CDF.
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

/// Logistic(loc, s): f(eps) = e^-eps / (1 + e^-eps)^2, eps = log(u / (1 - u)).
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

/// Gumbel (maximum) with location loc and scale beta: f(eps) = exp(-(eps + e^-eps)),
/// eps = -log(-log u). Skewed, support all of R. Entropy 1 + gamma, mean gamma,
/// E[eps^2] = pi^2/6 + gamma^2: the KL is closed (and depends on loc * scale).
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

/// Cauchy(loc, gamma): f(eps) = 1 / (pi (1 + eps^2)), eps = tan(pi (u - 1/2)).
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
