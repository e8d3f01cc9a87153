/// Which CSV column holds the labels.
public enum CSVLabelColumn: Sendable, Equatable {
    /// 0-based; negative counts from the end (-1 is the last column).
    case index(Int)
    /// A header name (the file must have a header line).
    case name(String)

    /// "0", "-1", "last" or a header name.
    public init(argument: String) {
        if argument == "last" { self = .index(-1) } else if let index = Int(argument) { self = .index(index) } else { self = .name(argument) }
    }
}

extension DataPreparation {
    /// Numeric CSV (RFC 4180: quoted fields, CRLF, a UTF-8 byte order mark) -> float32
    /// features, one row per record; an optional label column (integers) -> /labels.
    /// `hasHeader` nil: a first record with any non-numeric field is taken as the header.
    /// `delimiter` is one ASCII character other than a quote or a line break.
    public static func prepareCSV(
        _ input: String, output: String, labelColumn: CSVLabelColumn? = nil, hasHeader: Bool? = nil,
        delimiter: Character = ",", gzipLevel: Int? = 4, onProgress: PrepareProgress? = nil
    ) throws -> PrepareSummary {
        try timed(output: output) {
            guard let delimiterByte = delimiter.asciiValue, ![0x22, 0x0A, 0x0D].contains(delimiterByte) else {
                throw DataError(file: input, "delimiter '\(delimiter)' must be one ASCII character other than a quote or a line break")
            }
            let reader = try CSVRecordReader(input, delimiter: delimiterByte)
            var lineNumber: Int { reader.recordLine }
            func nextFields() throws -> [Substring]? {
                try reader.nextRecord()?.map { $0.trimmingCharacters(in: .whitespaces)[...] }
            }
            guard var fields = try nextFields() else { throw DataError(file: input, "is empty, expected CSV rows of numbers") }
            var header: [String]? = nil
            let looksLikeHeader = fields.contains { Double($0) == nil }
            if hasHeader ?? looksLikeHeader {
                header = fields.map(String.init)
                guard let next = try nextFields() else { throw DataError(file: input, "has a header line but no rows") }
                fields = next
            }
            let columnCount = fields.count
            var labelIndex: Int? = nil
            switch labelColumn {
            case nil: break
            case .index(let index)?:
                let resolved = index < 0 ? columnCount + index : index
                guard resolved >= 0, resolved < columnCount else {
                    throw DataError(file: input, "has \(columnCount) columns; label column \(index) is out of range (0..<\(columnCount), or -1 for the last)")
                }
                labelIndex = resolved
            case .name(let name)?:
                guard let header else { throw DataError(file: input, "has no header line, so label column '\(name)' cannot be found; give a column number") }
                guard let index = header.firstIndex(of: name) else {
                    throw DataError(file: input, "has no column '\(name)'; the header has \(header.prefix(10).joined(separator: ", "))\(header.count > 10 ? ", ..." : "")")
                }
                labelIndex = index
            }
            let featureCount = columnCount - (labelIndex == nil ? 0 : 1)
            guard featureCount >= 1 else { throw DataError(file: input, "has no feature columns besides the label column") }

            var summary = PrepareSummary(path: output, rows: 0, features: featureCount, featureType: .float32,
                                         hasLabels: labelIndex != nil, fingerprint: "", seconds: 0)
            try writeHDF5FileAtomically(to: output) { file in
                let writer = try DataFileWriter(file: file, featureType: .float32, featureCount: featureCount, expectedRows: nil, gzipLevel: gzipLevel)
                let blockRows = max(1, (4 << 20) / (4 * featureCount))
                var block: [Float] = []
                block.reserveCapacity(blockRows * featureCount)
                var labels: [Int64] = []
                var blockStartRow = 0
                var row = 0
                func flush() throws {
                    try block.withUnsafeBufferPointer { pointer in
                        try writer.append(float32Rows: pointer, sourceRowOffset: blockStartRow) { row, column in
                            DataError(file: input, row: row, "column \(column) is not a finite number")
                        }
                    }
                    block.removeAll(keepingCapacity: true)
                    blockStartRow = row
                }
                var current: [Substring]? = fields
                while let fields = current {
                    guard fields.count == columnCount else {
                        throw DataError(file: input, "line \(lineNumber): \(fields.count) fields, expected \(columnCount) like the first row")
                    }
                    for (column, field) in fields.enumerated() {
                        if column == labelIndex {
                            guard let label = Int64(field) ?? Double(field).flatMap({ $0 == $0.rounded() ? Int64(exactly: $0) : nil }) else {
                                throw DataError(file: input, "line \(lineNumber), column \(column): label '\(field)' is not an integer")
                            }
                            labels.append(label)
                        } else {
                            guard let value = Double(field), Float(value).isFinite else {
                                throw DataError(file: input, "line \(lineNumber), column \(column): '\(field)' is not a finite number")
                            }
                            block.append(Float(value))
                        }
                    }
                    row += 1
                    if block.count >= blockRows * featureCount {
                        try flush()
                        onProgress?(reader.fileOffset, reader.fileSize, row)
                    }
                    current = try nextFields()
                }
                try flush()
                let headerNote = header == nil ? "" : " (header line skipped)"
                summary.fingerprint = try writer.finish(labels: labelIndex == nil ? nil : labels,
                                                        source: "csv: \(input)\(headerNote)", scale: nil)
                summary.rows = writer.rowCount
            }
            return summary
        }
    }
}
