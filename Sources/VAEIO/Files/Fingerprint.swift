/// FNV-1a, 64-bit (Fowler-Noll-Vo): a small, well-known, non-cryptographic hash.
/// Enough to tell which data a checkpoint was trained on; not a security check.
public struct FNV1a64: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        var hash = value
        for byte in bytes {
            hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
        }
        value = hash
    }

    public mutating func update(_ text: String) {
        var utf8 = Array(text.utf8)
        utf8.withUnsafeMutableBytes { update(UnsafeRawBufferPointer($0)) }
    }

    public var hex: String {
        let digits = String(value, radix: 16)
        return String(repeating: "0", count: 16 - digits.count) + digits
    }
}

/// The data fingerprint: FNV-1a 64 over the feature bytes (row-major,
/// little-endian), followed by the ASCII text "<dtype>[<rows>,<features>]".
/// In Python: h = fnv1a64(x.tobytes() + f"{x.dtype}[{n},{d}]".encode()).
public struct DataFingerprint: Sendable {
    private var hasher = FNV1a64()
    public init() {}

    public mutating func update(featureBytes: UnsafeRawBufferPointer) { hasher.update(featureBytes) }

    public func finish(featureType: FeatureType, rows: Int, features: Int) -> String {
        var final = hasher
        final.update("\(featureType.rawValue)[\(rows),\(features)]")
        return "fnv1a64:" + final.hex
    }
}
