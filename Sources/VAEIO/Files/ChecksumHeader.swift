/// The header vae-dist writes into the 512-byte HDF5 user block of every HDF5 file
/// it writes (checkpoints, prepared data, embeddings), so that a damaged file is
/// refused before HDF5 reads it: HDF5 1.10 can loop forever on a damaged file
/// (docs/faults.md). HDF5 itself never reads or writes the user block, so h5py and
/// h5dump see the file as before. ASCII lines, NUL padding, and a closing line,
/// so `head -c 512 FILE` shows it:
///
///     vae-dist checksum v1
///     algorithm crc32
///     offset 512
///     length 8123904
///     checksum 5e0a11c3
///     HDF5 file follows at byte 512
///
/// `checksum` is zlib's CRC-32 (Python's `zlib.crc32`) of the `length` bytes from
/// `offset`: everything after the block, to the end of the file.
public struct ChecksumHeader: Equatable, Sendable {
    /// The user block HDF5 reserves for it: the smallest size HDF5 allows.
    public static let size = 512
    static let firstLine = "vae-dist checksum v1"
    static let lastLine = "HDF5 file follows at byte 512"

    /// Bytes after the header that the checksum covers: the rest of the file.
    public var coveredByteCount: Int
    /// zlib's CRC-32 of those bytes.
    public var checksum: UInt32

    public init(coveredByteCount: Int, checksum: UInt32) {
        self.coveredByteCount = coveredByteCount
        self.checksum = checksum
    }

    public var checksumHex: String { Self.hex(checksum) }

    /// 8 lowercase hex digits, as the header stores a checksum.
    static func hex(_ checksum: UInt32) -> String {
        let digits = String(checksum, radix: 16)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }

    /// The lines before the padding.
    private var text: String {
        [Self.firstLine, "algorithm crc32", "offset \(Self.size)", "length \(coveredByteCount)", "checksum \(checksumHex)"]
            .map { $0 + "\n" }.joined()
    }

    /// The whole block, `size` bytes.
    public var bytes: [UInt8] {
        let head = Array(text.utf8), tail = Array((Self.lastLine + "\n").utf8)
        return head + [UInt8](repeating: 0, count: Self.size - head.count - tail.count) + tail
    }

    /// Whether the start of a file is meant to hold this header: it begins with the first
    /// line or the block ends with the last one. Two markers 470 bytes apart, so that
    /// damage to one still reads as a damaged header, not as another program's user
    /// block (MATLAB's v7.3 .mat files, for one, keep text in a 512-byte user block).
    static func isMarked(_ start: ArraySlice<UInt8>) -> Bool {
        let first = Array((firstLine + "\n").utf8), last = Array((lastLine + "\n").utf8)
        if start.starts(with: first) { return true }
        guard start.count >= size else { return false }
        let base = start.startIndex
        return start[(base + size - last.count)..<(base + size)].elementsEqual(last)
    }

    /// Whether a file this short could be the start of a header (a file truncated inside it).
    static func couldBeginHeader(_ start: ArraySlice<UInt8>) -> Bool {
        !start.isEmpty && start.count < firstLine.utf8.count && firstLine.utf8.starts(with: start)
    }

    /// What is wrong with a block that `isMarked` but does not parse.
    struct Damage: Error {
        let reason: String
    }

    /// Reads a marked block. Only the exact block `bytes` would write is accepted:
    /// any other byte, in the lines or the padding, is damage.
    static func parse(_ block: ArraySlice<UInt8>) throws -> ChecksumHeader {
        guard block.count == size else { throw Damage(reason: "\(block.count) bytes, expected \(size)") }
        let textEnd = block.firstIndex(of: 0) ?? block.endIndex
        let lines = String(decoding: block[block.startIndex..<textEnd], as: UTF8.self)
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        guard lines.first == firstLine else {
            if let first = lines.first, first.hasPrefix("vae-dist checksum "), first.count < 40,
               first.unicodeScalars.allSatisfy({ $0.isASCII && $0.value >= 0x20 && $0.value < 0x7f }) {
                throw Damage(reason: "its first line is '\(first)'; this vae-dist reads '\(firstLine)' "
                             + "(a damaged header, or one of a newer vae-dist)")
            }
            throw Damage(reason: "its first line is not '\(firstLine)'")
        }
        func value(_ index: Int, _ key: String) throws -> String {
            guard index < lines.count, lines[index].hasPrefix(key + " ") else {
                throw Damage(reason: "line \(index + 1) should be '\(key) ...'")
            }
            return String(lines[index].dropFirst(key.count + 1))
        }
        guard try value(1, "algorithm") == "crc32" else { throw Damage(reason: "the algorithm is not crc32") }
        guard try value(2, "offset") == String(size) else { throw Damage(reason: "the offset is not \(size)") }
        let lengthText = try value(3, "length"), checksumText = try value(4, "checksum")
        guard lengthText.count <= 18, lengthText.allSatisfy({ $0.isASCII && $0.isNumber }), let length = Int(lengthText) else {
            throw Damage(reason: "the length is not a byte count")
        }
        guard checksumText.count == 8, let checksum = UInt32(checksumText, radix: 16) else {
            throw Damage(reason: "the checksum is not 8 hex digits")
        }
        let header = ChecksumHeader(coveredByteCount: length, checksum: checksum)
        guard header.bytes.elementsEqual(block) else {
            throw Damage(reason: "bytes other than the header's lines, padding and last line")
        }
        return header
    }
}
