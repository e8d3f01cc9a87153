import CZlib
import Foundation

/// The PNG colour types vae-dist writes: 8 bits per channel, no palette, no alpha.
public enum PNGColorType: UInt8, Sendable {
    case grayscale = 0
    case rgb = 2

    public var channels: Int { self == .grayscale ? 1 : 3 }
}

/// An image that cannot be encoded (wrong pixel count, zlib failure).
public struct ImageError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A minimal, standard PNG writer (ISO/IEC 15948): the signature, IHDR, the
/// zlib-deflated scanlines in IDAT chunks, IEND. Every scanline uses filter 0
/// (none): the images are small and the files need only be correct.
public enum PNGEncoder {
    static let signature: [UInt8] = [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]
    /// IDAT payloads are split at this size: any split is valid; small chunks keep readers' buffers small.
    static let idatChunkBytes = 1 << 18

    /// The PNG file of `pixels`, row-major [height, width, channels] bytes.
    public static func encode(width: Int, height: Int, colorType: PNGColorType, pixels: [UInt8],
                              compressionLevel: Int32 = 6) throws -> [UInt8] {
        let maximum = Int(Int32.max)  // PNG stores sizes as 31-bit unsigned integers
        guard (1...maximum).contains(width), (1...maximum).contains(height) else {
            throw ImageError("PNG size \(width)x\(height) is out of range: width and height must be 1...\(maximum)")
        }
        let rowBytes = width * colorType.channels
        guard pixels.count == rowBytes * height else {
            throw ImageError("PNG of \(width)x\(height) \(colorType) needs \(rowBytes * height) bytes, got \(pixels.count)")
        }

        // Scanlines, each preceded by its filter-type byte (0 = none).
        var scanlines = [UInt8](repeating: 0, count: (rowBytes + 1) * height)
        pixels.withUnsafeBufferPointer { source in
            scanlines.withUnsafeMutableBufferPointer { destination in
                for row in 0..<height {
                    let target = destination.baseAddress! + row * (rowBytes + 1) + 1
                    target.update(from: source.baseAddress! + row * rowBytes, count: rowBytes)
                }
            }
        }
        let compressed = try deflate(scanlines, level: compressionLevel)

        var header: [UInt8] = []
        header += bigEndian(UInt32(width))
        header += bigEndian(UInt32(height))
        header += [8, colorType.rawValue, 0, 0, 0]  // bit depth, colour type, deflate, filter method 0, no interlace

        var file = signature
        appendChunk("IHDR", header, to: &file)
        var start = 0
        repeat {
            let end = min(start + idatChunkBytes, compressed.count)
            appendChunk("IDAT", compressed[start..<end], to: &file)
            start = end
        } while start < compressed.count
        appendChunk("IEND", [], to: &file)
        return file
    }

    /// Encodes and writes atomically: `path` holds its old content or the whole new image.
    public static func write(to path: String, width: Int, height: Int, colorType: PNGColorType, pixels: [UInt8]) throws {
        let bytes = try encode(width: width, height: height, colorType: colorType, pixels: pixels)
        try writeFileAtomically(to: path, bytes: bytes)
    }

    /// A zlib stream (RFC 1950), as PNG's compression method 0 requires.
    static func deflate(_ bytes: [UInt8], level: Int32) throws -> [UInt8] {
        var capacity = compressBound(uLong(bytes.count))
        var output = [UInt8](repeating: 0, count: Int(capacity))
        let status = output.withUnsafeMutableBufferPointer { destination in
            bytes.withUnsafeBufferPointer { source in
                compress2(destination.baseAddress, &capacity, source.baseAddress, uLong(source.count), level)
            }
        }
        guard status == Z_OK else { throw ImageError("zlib compress2 failed with status \(status)") }
        return Array(output[0..<Int(capacity)])
    }

    /// length, type, data, CRC-32 of type and data (zlib's crc32 is the PNG CRC).
    static func appendChunk<Bytes: Collection>(_ type: String, _ data: Bytes, to file: inout [UInt8]) where Bytes.Element == UInt8 {
        let typeBytes = Array(type.utf8)
        precondition(typeBytes.count == 4, "PNG chunk types are four letters")
        let body = typeBytes + Array(data)
        file += bigEndian(UInt32(data.count))
        file += body
        let crc = body.withUnsafeBufferPointer { crc32(0, $0.baseAddress, uInt($0.count)) }
        file += bigEndian(UInt32(truncatingIfNeeded: crc))
    }

    static func bigEndian(_ value: UInt32) -> [UInt8] {
        [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
    }
}
