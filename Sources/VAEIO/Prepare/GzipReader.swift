import CZlib
import Foundation

/// Reads a file through zlib: gzip-compressed files are decompressed,
/// uncompressed files are read as they are (zlib detects which).
final class GzipReader {
    let path: String
    private let handle: gzFile
    /// Uncompressed bytes consumed so far.
    private(set) var offset = 0
    private var lineBuffer: [UInt8] = []
    private var lineStart = 0

    init(_ path: String) throws {
        try InputFile.requireRegularFile(path, expected: "a file")
        guard let handle = gzopen(path, "rb") else {
            throw DataError(file: path, "cannot open: \(String(cString: strerror(errno)))")
        }
        self.path = path
        self.handle = handle
        gzbuffer(handle, 1 << 18)
    }

    deinit { gzclose(handle) }

    /// Bytes of the file itself read so far (compressed ones for gzip): with `fileSize`,
    /// how far through the file a reader is.
    var fileOffset: Int { Int(gzoffset(handle)) }

    /// The file's size in bytes, 0 when it cannot be told.
    var fileSize: Int { ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0 }

    /// Reads up to `buffer.count` bytes; fewer only at the end of the file.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        var total = 0
        while total < buffer.count {
            let want = UInt32(min(buffer.count - total, 1 << 30))
            let got = gzread(handle, buffer.baseAddress! + total, want)
            if got < 0 {
                var code: Int32 = 0
                let message = gzerror(handle, &code).map { String(cString: $0) } ?? "read error"
                throw DataError(file: path, "cannot read at byte \(offset + total): \(message)")
            }
            if got == 0 { break }
            total += Int(got)
        }
        offset += total
        return total
    }

    /// Reads exactly `buffer.count` bytes or throws naming what was being read.
    func readExactly(into buffer: UnsafeMutableRawBufferPointer, what: String) throws {
        let start = offset
        let got = try read(into: buffer)
        guard got == buffer.count else {
            throw DataError(file: path, "is truncated: expected \(buffer.count) bytes of \(what) at byte \(start), found \(got)")
        }
    }

    func readBytes(_ count: Int, what: String) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        try bytes.withUnsafeMutableBytes { try readExactly(into: $0, what: what) }
        return bytes
    }

    /// True when no bytes remain.
    func atEnd() throws -> Bool {
        var byte: UInt8 = 0
        return try withUnsafeMutableBytes(of: &byte) { try read(into: $0) } == 0
    }

    /// The next line without its terminator (\n or \r\n); nil at the end.
    func readLine() throws -> String? {
        while true {
            if let newline = lineBuffer[lineStart...].firstIndex(of: UInt8(ascii: "\n")) {
                var end = newline
                if end > lineStart, lineBuffer[end - 1] == UInt8(ascii: "\r") { end -= 1 }
                let line = String(decoding: lineBuffer[lineStart..<end], as: UTF8.self)
                lineStart = newline + 1
                return line
            }
            lineBuffer.removeFirst(lineStart)
            lineStart = 0
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let got = try chunk.withUnsafeMutableBytes { try read(into: $0) }
            if got == 0 {
                guard !lineBuffer.isEmpty else { return nil }
                var end = lineBuffer.endIndex
                if lineBuffer.last == UInt8(ascii: "\r") { end -= 1 }
                let line = String(decoding: lineBuffer[0..<end], as: UTF8.self)
                lineBuffer.removeAll()
                return line
            }
            lineBuffer.append(contentsOf: chunk[0..<got])
        }
    }
}
