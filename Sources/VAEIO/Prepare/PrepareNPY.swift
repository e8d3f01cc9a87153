/// NumPy .npy: magic "\x93NUMPY", version, header length, a Python dict
/// literal {'descr': ..., 'fortran_order': ..., 'shape': (...)}, then the data.
struct NPYHeader {
    let descr: String
    let fortranOrder: Bool
    let shape: [Int]

    static func read(from reader: GzipReader) throws -> NPYHeader {
        let magic = try reader.readBytes(8, what: "the NPY magic")
        guard magic[0..<6].elementsEqual([0x93] + Array("NUMPY".utf8)) else {
            throw DataError(file: reader.path, "is not an NPY file (no \\x93NUMPY magic); expected a file from numpy.save")
        }
        let headerLength: Int
        switch magic[6] {
        case 1: headerLength = try reader.readBytes(2, what: "the NPY header length").reversed().reduce(0) { ($0 << 8) | Int($1) }
        case 2, 3: headerLength = try reader.readBytes(4, what: "the NPY header length").reversed().reduce(0) { ($0 << 8) | Int($1) }
        default: throw DataError(file: reader.path, "has NPY version \(magic[6]).\(magic[7]); expected 1, 2 or 3")
        }
        let text = String(decoding: try reader.readBytes(headerLength, what: "the NPY header"), as: UTF8.self)
        func value(_ key: String) throws -> Substring {
            guard let keyRange = text.range(of: "'\(key)':") else {
                throw DataError(file: reader.path, "has an NPY header without '\(key)': \(text)")
            }
            return text[keyRange.upperBound...].drop(while: { $0 == " " })
        }
        let descrText = try value("descr")
        guard descrText.first == "'", let close = descrText.dropFirst().firstIndex(of: "'") else {
            throw DataError(file: reader.path, "has an NPY header whose descr is not a simple dtype (structured arrays are not supported): \(text)")
        }
        let descr = String(descrText[descrText.index(after: descrText.startIndex)..<close])
        let fortran = try value("fortran_order").hasPrefix("True")
        let shapeText = try value("shape")
        guard shapeText.first == "(", let end = shapeText.firstIndex(of: ")") else {
            throw DataError(file: reader.path, "has an NPY header with an unreadable shape: \(text)")
        }
        let shape = shapeText[shapeText.index(after: shapeText.startIndex)..<end]
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.compactMap { Int($0) }
        return NPYHeader(descr: descr, fortranOrder: fortran, shape: shape)
    }
}

extension DataPreparation {
    /// NPY features (uint8 or float32, C order, [N, ...] flattened to [N, D]) and
    /// optional NPY labels (1-D, integer). uint8 features get `scale` (default 1/255).
    public static func prepareNPY(
        _ input: String, labels: String? = nil, output: String, scale: Double? = nil, gzipLevel: Int? = 4
    ) throws -> PrepareSummary {
        try timed(output: output) {
            let reader = try GzipReader(input)
            let header = try NPYHeader.read(from: reader)
            let featureType: FeatureType
            switch header.descr {
            case "|u1", "<u1", ">u1", "u1": featureType = .uint8
            case "<f4": featureType = .float32
            default:
                throw DataError(file: input, "has dtype '\(header.descr)'; expected uint8 ('|u1') or little-endian float32 ('<f4'), "
                                + "e.g. np.save(path, x.astype(np.float32))")
            }
            guard !header.fortranOrder else {
                throw DataError(file: input, "is in Fortran order; expected C order, e.g. np.save(path, np.ascontiguousarray(x))")
            }
            guard header.shape.count >= 2 else {
                throw DataError(file: input, "has shape \(header.shape); expected at least 2 dimensions [rows, features...]")
            }
            let rows = header.shape[0]
            let featureCount = header.shape.dropFirst().reduce(1, *)
            guard rows >= 1, featureCount >= 1 else { throw DataError(file: input, "has shape \(header.shape); expected at least one row and one feature") }
            let labelValues = try labels.map { try readNPYLabels($0, expectedCount: rows) }
            var summary = PrepareSummary(path: output, rows: 0, features: featureCount, featureType: featureType,
                                         hasLabels: labelValues != nil, fingerprint: "", seconds: 0)
            try writeHDF5FileAtomically(to: output) { file in
                let writer = try DataFileWriter(file: file, featureType: featureType, featureCount: featureCount,
                                                expectedRows: rows, gzipLevel: gzipLevel)
                let blockRows = max(1, (4 << 20) / (featureCount * featureType.byteSize))
                var start = 0
                while start < rows {
                    let count = min(blockRows, rows - start)
                    let what = "rows \(start)..<\(start + count) (the header declares \(rows))"
                    switch featureType {
                    case .uint8:
                        var block = [UInt8](repeating: 0, count: count * featureCount)
                        try block.withUnsafeMutableBytes { try reader.readExactly(into: $0, what: what) }
                        try block.withUnsafeBufferPointer { try writer.append(uint8Rows: $0) }
                    case .float32:
                        var block = [Float](repeating: 0, count: count * featureCount)
                        try block.withUnsafeMutableBytes { try reader.readExactly(into: $0, what: what) }
                        try block.withUnsafeBufferPointer { pointer in
                            try writer.append(float32Rows: pointer, sourceRowOffset: start) { row, column in
                                DataError(file: input, row: row, "element \(column) is not a finite number (NaN or Inf)")
                            }
                        }
                    }
                    start += count
                }
                summary.fingerprint = try writer.finish(labels: labelValues, source: "npy: \(input)" + (labels.map { " + \($0)" } ?? ""),
                                                        scale: featureType == .uint8 ? (scale ?? 1.0 / 255.0) : nil)
                if header.shape.count >= 3 {
                    // [N, H, W] or [N, H, W, C] images: record the per-row shape for pictures.
                    try file.root().setAttribute(ImageShape.attributeName, Array(header.shape.dropFirst()))
                }
                summary.rows = writer.rowCount
            }
            return summary
        }
    }

    static func readNPYLabels(_ path: String, expectedCount: Int) throws -> [Int64] {
        let reader = try GzipReader(path)
        let header = try NPYHeader.read(from: reader)
        guard header.shape.count == 1 else {
            throw DataError(file: path, "has shape \(header.shape); expected labels of shape (rows,)")
        }
        guard header.shape[0] == expectedCount else {
            throw DataError(file: path, "has \(header.shape[0]) labels, expected one per row of the features (\(expectedCount))")
        }
        let kinds: [String: (size: Int, signed: Bool)] = [
            "u1": (1, false), "i1": (1, true), "u2": (2, false), "i2": (2, true),
            "u4": (4, false), "i4": (4, true), "u8": (8, false), "i8": (8, true),
        ]
        let code = header.descr.drop(while: { $0 == "<" || $0 == "|" })
        guard !header.descr.hasPrefix(">"), let kind = kinds[String(code)] else {
            throw DataError(file: path, "has dtype '\(header.descr)'; expected little-endian integer labels (e.g. '<i8' or '|u1')")
        }
        let bytes = try reader.readBytes(expectedCount * kind.size, what: "\(expectedCount) labels")
        return (0..<expectedCount).map { index in
            let raw = bytes[(index * kind.size)..<((index + 1) * kind.size)].reversed().reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
            guard kind.signed else { return Int64(truncatingIfNeeded: raw) }
            let shift = UInt64(64 - 8 * kind.size)
            return Int64(bitPattern: raw << shift) >> Int64(shift)
        }
    }
}
