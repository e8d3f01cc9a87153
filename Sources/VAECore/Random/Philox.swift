/// Philox4x32-10, the counter-based generator of Salmon et al. (SC'11), as Random123 defines it.
///
/// A draw is a pure function of (key, counter), which is what makes every random number
/// in vae-dist reproducible for any number of ranks and any resume point
/// (docs/algorithm.md, "Random numbers").
public struct Philox4x32: Sendable {
    public let key: (UInt32, UInt32)

    public init(key0: UInt32, key1: UInt32) { key = (key0, key1) }

    /// The key of a run: the low and high halves of its 64-bit seed.
    public init(seed: UInt64) {
        self.init(key0: UInt32(truncatingIfNeeded: seed), key1: UInt32(truncatingIfNeeded: seed >> 32))
    }

    private static let multiplier0: UInt32 = 0xD251_1F53
    private static let multiplier1: UInt32 = 0xCD9E_8D57
    private static let weyl0: UInt32 = 0x9E37_79B9
    private static let weyl1: UInt32 = 0xBB67_AE85

    /// The four output words for one 128-bit counter.
    @inline(__always)
    public func block(_ c0: UInt32, _ c1: UInt32, _ c2: UInt32, _ c3: UInt32)
        -> (UInt32, UInt32, UInt32, UInt32)
    {
        var (x0, x1, x2, x3) = (c0, c1, c2, c3)
        var (k0, k1) = key
        for round in 0..<10 {
            if round > 0 {
                k0 &+= Self.weyl0
                k1 &+= Self.weyl1
            }
            let product0 = UInt64(Self.multiplier0) &* UInt64(x0)
            let product1 = UInt64(Self.multiplier1) &* UInt64(x2)
            let high0 = UInt32(truncatingIfNeeded: product0 >> 32)
            let low0 = UInt32(truncatingIfNeeded: product0)
            let high1 = UInt32(truncatingIfNeeded: product1 >> 32)
            let low1 = UInt32(truncatingIfNeeded: product1)
            (x0, x1, x2, x3) = (high1 ^ x1 ^ k0, low1, high0 ^ x3 ^ k1, low0)
        }
        return (x0, x1, x2, x3)
    }
}
