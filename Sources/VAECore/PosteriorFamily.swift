import Foundation

/// A factorised, reparameterizable posterior q(z|x) over R^Z.
///
/// Each latent coordinate has a location `loc` and a raw scale parameter
/// `rawScale` = log(scale^2) (for the Gaussian: mu and log sigma^2), and is
/// sampled as z = loc + scale * eps with eps from the family's standard member.
/// Gradients flow to (loc, rawScale) through z and through log q's explicit
/// arguments; the trainer only needs the per-coordinate pieces below.
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

/// The diagonal Gaussian of Kingma & Welling: q(z|x) = N(mu, diag(exp(logvar))).
public struct DiagonalGaussian: PosteriorFamily {
    public init() {}

    public var name: String { "gaussian" }

    public func noise(streams: RandomStreams, purpose: RandomPurpose, epoch: Int, row: Int, draw: Int,
                      count: Int, into destination: UnsafeMutablePointer<Float>) {
        streams.normals(purpose: purpose, epoch: epoch, row: row, draw: draw, count: count, into: destination)
    }

    private static let halfLogTwoPi = Float(0.5 * Foundation.log(2 * Double.pi))

    @inline(__always)
    public func standardLogDensity(_ eps: Float) -> (value: Float, derivative: Float) {
        (-Self.halfLogTwoPi - 0.5 * eps * eps, -eps)
    }

    public var hasAnalyticKL: Bool { true }

    /// KL = 0.5 (mu^2 + e^logvar - 1 - logvar).
    @inline(__always)
    public func klToStandardNormal(loc: Float, rawScale: Float) -> (value: Float, dLoc: Float, dRawScale: Float) {
        let variance = Foundation.exp(rawScale)
        return (0.5 * (loc * loc + variance - 1 - rawScale), loc, 0.5 * (variance - 1))
    }
}
