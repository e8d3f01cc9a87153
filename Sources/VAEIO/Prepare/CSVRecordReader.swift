import Foundation

/// The records of a CSV file as RFC 4180 defines them, read one at a time.
///
/// What spreadsheets and data tools write: fields in double quotes may hold the
/// delimiter, line breaks and doubled quotes (`"a ""b"", c"` is `a "b", c`); lines
/// end in LF, CRLF or CR; Excel starts its UTF-8 files with a byte order mark.
/// Unquoted fields keep their spaces (the caller trims numbers). Input goes through
/// `GzipReader`, so `.csv.gz` reads the same, in 64 KiB pieces whatever the file's size.
final class CSVRecordReader {
    let path: String
    private let reader: GzipReader
    private let delimiter: UInt8
    private var buffer = [UInt8](repeating: 0, count: 1 << 16)
    private var position = 0
    private var filled = 0
    private var line = 1
    private var atStart = true
    /// The bytes of the record being read, fields back to back, and where each field ends.
    private var recordBytes: [UInt8] = []
    private var fieldEnds: [Int] = []

    /// The 1-based line the last record returned by `nextRecord` started on.
    private(set) var recordLine = 0

    /// Bytes of the file read so far and its size (progress).
    var fileOffset: Int { reader.fileOffset }
    var fileSize: Int { reader.fileSize }

    /// `delimiter` is one ASCII byte other than a quote or a line break.
    init(_ path: String, delimiter: UInt8) throws {
        precondition(delimiter < 0x80 && ![UInt8(ascii: "\""), UInt8(ascii: "\n"), UInt8(ascii: "\r")].contains(delimiter),
                     "a CSV delimiter is one ASCII character other than a quote or a line break")
        self.path = path
        self.delimiter = delimiter
        reader = try GzipReader(path)
    }

    /// The next record's fields, skipping blank lines (only spaces or tabs); nil at the end.
    func nextRecord() throws -> [String]? {
        while let fields = try readRecord() {
            if fields.count == 1, fields[0].allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            return fields
        }
        return nil
    }

    private func readRecord() throws -> [String]? {
        if atStart {
            atStart = false
            try skipByteOrderMark()
        }
        guard try peek() != nil else { return nil }
        recordLine = line
        recordBytes.removeAll(keepingCapacity: true)
        fieldEnds.removeAll(keepingCapacity: true)
        var inQuotes = false
        var quotedFieldClosed = false
        var quoteLine = 0
        while true {
            guard let byte = try next() else {
                guard !inQuotes else {
                    throw DataError(file: path, "line \(quoteLine): a quoted field is never closed (no matching \" before the end of the file)")
                }
                break
            }
            if inQuotes {
                if byte == UInt8(ascii: "\"") {
                    if try peek() == UInt8(ascii: "\"") {
                        _ = try next()
                        recordBytes.append(byte)
                    } else {
                        inQuotes = false
                        quotedFieldClosed = true
                    }
                } else {
                    if byte == UInt8(ascii: "\n") { line += 1 }
                    if byte == UInt8(ascii: "\r"), try peek() != UInt8(ascii: "\n") { line += 1 }
                    recordBytes.append(byte)
                }
                continue
            }
            if byte == delimiter {
                fieldEnds.append(recordBytes.count)
                quotedFieldClosed = false
            } else if byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r") {
                if byte == UInt8(ascii: "\r"), try peek() == UInt8(ascii: "\n") { _ = try next() }
                line += 1
                break
            } else if quotedFieldClosed {
                // RFC 4180 allows nothing between a closing quote and the delimiter; spaces are harmless.
                guard byte == UInt8(ascii: " ") || byte == UInt8(ascii: "\t") else {
                    throw DataError(file: path, "line \(line): '\(Character(Unicode.Scalar(byte)))' after a closing quote; "
                                    + "expected the delimiter or the end of the line (a quote inside a quoted field is written \"\")")
                }
            } else if byte == UInt8(ascii: "\""), fieldIsEmptySoFar() {
                inQuotes = true
                quoteLine = line
            } else {
                recordBytes.append(byte)
            }
        }
        fieldEnds.append(recordBytes.count)
        var fields: [String] = []
        fields.reserveCapacity(fieldEnds.count)
        var start = 0
        for end in fieldEnds {
            fields.append(String(decoding: recordBytes[start..<end], as: UTF8.self))
            start = end
        }
        return fields
    }

    /// Whether the current field has no bytes yet but spaces (a quote there opens a quoted field).
    private func fieldIsEmptySoFar() -> Bool {
        let start = fieldEnds.last ?? 0
        guard recordBytes[start...].allSatisfy({ $0 == UInt8(ascii: " ") }) else { return false }
        recordBytes.removeSubrange(start...)
        return true
    }

    private func skipByteOrderMark() throws {
        guard try fill(atLeast: 3) >= 3 else { return }
        if buffer[position] == 0xEF, buffer[position + 1] == 0xBB, buffer[position + 2] == 0xBF { position += 3 }
    }

    @inline(__always)
    private func peek() throws -> UInt8? {
        if position == filled, try fill(atLeast: 1) == 0 { return nil }
        return buffer[position]
    }

    @inline(__always)
    private func next() throws -> UInt8? {
        guard let byte = try peek() else { return nil }
        position += 1
        return byte
    }

    /// Makes at least `count` unread bytes available where the file has them; returns how many there are.
    private func fill(atLeast count: Int) throws -> Int {
        if filled - position >= count { return filled - position }
        let unread = filled - position
        buffer.withUnsafeMutableBytes { _ = memmove($0.baseAddress!, $0.baseAddress! + position, unread) }
        position = 0
        filled = unread
        while filled < count {
            let got = try buffer.withUnsafeMutableBytes { try reader.read(into: UnsafeMutableRawBufferPointer(rebasing: $0[filled...])) }
            if got == 0 { break }
            filled += got
        }
        return filled
    }
}
