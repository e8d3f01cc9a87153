/// A family sampled by its inverse CDF: eps = quantile(u), u uniform on (0, 1).
///
/// See `RandomStreams.inverseCDFNoise` and docs/algorithm.md.
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
