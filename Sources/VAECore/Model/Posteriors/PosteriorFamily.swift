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
    /// The reparameterised sample z = loc + s * eps, s = exp(rawScale / 2), and its partials.
    ///
    /// dz/dloc = 1 and dz/drawScale = s * eps / 2 (the backward's chain rule). The same for
    /// every location-scale family: only the noise differs.
    @inline(__always)
    public func sample(loc: Float, rawScale: Float, eps: Float) -> (z: Float, dLoc: Float, dRawScale: Float) {
        let scale = Foundation.exp(0.5 * rawScale)
        return (loc + scale * eps, 1, 0.5 * scale * eps)
    }
}

/// KL(q || N(0,1)) for a location-scale q = loc + s * eps.
///
/// With H, m1 and m2 the entropy, mean and second moment of the standard member (all finite):
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
