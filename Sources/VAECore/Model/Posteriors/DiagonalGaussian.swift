import Foundation

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
