import Foundation

/// TFRecord framing of event files, both ways: writing a record, and cutting a run's event
/// files back to a step when training resumes from a checkpoint.
enum TensorBoardRecords {
    /// One record: length, masked CRC-32C of the length, the bytes, their masked CRC-32C.
    static func frame(_ data: [UInt8]) -> [UInt8] {
        var record: [UInt8] = []
        record.reserveCapacity(data.count + 16)
        let length = withUnsafeBytes(of: UInt64(data.count).littleEndian) { Array($0) }
        record += length
        withUnsafeBytes(of: CRC32C.masked(length).littleEndian) { record += $0 }
        record += data
        withUnsafeBytes(of: CRC32C.masked(data).littleEndian) { record += $0 }
        return record
    }

    /// The records of an event file's bytes, in order; a torn last record (a killed writer) is left out.
    static func records(_ bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        var records: [ArraySlice<UInt8>] = []
        var offset = 0
        while offset + 12 <= bytes.count {
            let length = bytes[offset..<(offset + 8)].reversed().reduce(0) { $0 << 8 | Int($1) }
            let end = offset + 12 + length + 4
            guard length >= 0, end <= bytes.count else { break }
            records.append(bytes[(offset + 12)..<(offset + 12 + length)])
            offset = end
        }
        return records
    }

    /// The `Event.step` (field 2, a varint) of an event's bytes; 0 when absent (the version event).
    static func step(ofEvent event: ArraySlice<UInt8>) -> Int {
        var index = event.startIndex
        func varint() -> UInt64? {
            var value: UInt64 = 0
            var shift: UInt64 = 0
            while index < event.endIndex {
                let byte = event[index]
                index += 1
                value |= UInt64(byte & 0x7F) << shift
                if byte < 0x80 { return value }
                shift += 7
            }
            return nil
        }
        while index < event.endIndex, let key = varint() {
            switch key & 7 {
            case 0:
                guard let value = varint() else { return 0 }
                if key >> 3 == 2 { return Int(Int64(bitPattern: value)) }
            case 1: index += 8
            case 2: index += Int(varint() ?? 0)
            case 5: index += 4
            default: return 0
            }
        }
        return 0
    }

    /// Drops the events after `step` from every event file in `directory`, so a run resumed
    /// from the checkpoint at `step` logs what the uninterrupted run would have, once.
    /// Files are rewritten atomically; files left with their version event only are removed.
    static func truncate(directory: String, afterStep step: Int) throws {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        for name in names where name.hasPrefix(TensorBoardEventWriter.fileNamePrefix) {
            let path = (directory as NSString).appendingPathComponent(name)
            guard let data = FileManager.default.contents(atPath: path) else {
                throw DataError(file: path, "cannot read the TensorBoard event file to cut it back to step \(step)")
            }
            let records = Self.records(Array(data))
            let kept = records.enumerated().filter { $0.offset == 0 || Self.step(ofEvent: $0.element) <= step }.map(\.element)
            if kept.count == records.count, kept.map(\.count).reduce(0, +) + 16 * kept.count == data.count { continue }
            if kept.count <= 1 {
                try FileManager.default.removeItem(atPath: path)
            } else {
                try writeFileAtomically(to: path, bytes: kept.flatMap { frame(Array($0)) })
            }
        }
    }
}
