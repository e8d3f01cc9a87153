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

/// The element types `prepare` reads features as, and what they are stored as.
enum InputElement: String {
    case uint8, float32, float64

    var byteSize: Int { [1, 4, 8][[.uint8, .float32, .float64].firstIndex(of: self)!] }
    /// float64 is narrowed to float32 (RowConverter).
    var stored: FeatureType { self == .uint8 ? .uint8 : .float32 }
}

extension DataPreparation {
    /// NPY features (uint8, float32 or float64, C order) and optional NPY labels (1-D,
    /// integer). [N, H, W], [N, C, H, W] and [N, H, W, C] are images: rows are stored
    /// [C, H, W] and `image_shape` recorded (RowLayout); [N, D] and other ranks are rows of
    /// values as they are. uint8 features get `scale` (default 1/255); float64 becomes float32.
    public static func prepareNPY(
        _ input: String, labels: String? = nil, output: String, scale: Double? = nil, layout: ImageLayout = .auto,
        gzipLevel: Int? = 4, onProgress: PrepareProgress? = nil
    ) throws -> PrepareSummary {
        try timed(output: output) {
            let reader = try GzipReader(input)
            let header = try NPYHeader.read(from: reader)
            let element: InputElement
            switch header.descr {
            case "|u1", "<u1", ">u1", "u1": element = .uint8
            case "<f4": element = .float32
            case "<f8": element = .float64
            default:
                throw DataError(file: input, "has dtype '\(header.descr)'; expected uint8 ('|u1'), little-endian float32 ('<f4') "
                                + "or float64 ('<f8'), e.g. np.save(path, x.astype(np.float32))")
            }
            guard !header.fortranOrder else {
                throw DataError(file: input, "is in Fortran order; expected C order, e.g. np.save(path, np.ascontiguousarray(x))")
            }
            let rowLayout = try RowLayout.of(shape: header.shape, layout: layout, file: input)
            let rows = header.shape[0]
            let labelValues = try labels.map { try readNPYLabels($0, expectedCount: rows) }
            return try writeConverted(
                to: output, rows: rows, element: element, layout: rowLayout, input: input, inputShape: header.shape,
                labels: labelValues, source: "npy: \(input)" + (labels.map { " + \($0)" } ?? ""),
                scale: element == .uint8 ? (scale ?? 1.0 / 255.0) : nil, gzipLevel: gzipLevel, onProgress: onProgress
            ) { start, count, destination in
                try reader.readExactly(into: destination, what: "rows \(start)..<\(start + count) (the header declares \(rows))")
            }
        }
    }

    /// Writes a data file from an input read block by block: `readRows(start, count, bytes)`
    /// fills `bytes` with input rows start..<start+count as `element`s, little-endian.
    /// The one loop behind every converter that reads arrays (NPY, HDF5, IDX).
    static func writeConverted(
        to output: String, rows: Int, element: InputElement, layout: RowLayout, input: String, inputShape: [Int],
        labels: [Int64]?, labelNames: [String]? = nil, source: String, scale: Double?, gzipLevel: Int?,
        onProgress: PrepareProgress? = nil,
        readRows: (_ start: Int, _ count: Int, _ bytes: UnsafeMutableRawBufferPointer) throws -> Void
    ) throws -> PrepareSummary {
        var summary = PrepareSummary(path: output, rows: 0, features: layout.featureCount, featureType: element.stored,
                                     hasLabels: labels != nil, fingerprint: "", seconds: 0)
        summary.imageShape = layout.imageShape
        summary.reading = layout.reading + (element == .float64 ? ", float64 stored as float32" : "")
        try writeHDF5FileAtomically(to: output) { file in
            let writer = try DataFileWriter(file: file, featureType: element.stored, featureCount: layout.featureCount,
                                            expectedRows: rows, gzipLevel: gzipLevel)
            let converter = RowConverter(writer: writer, layout: layout, input: input, inputShape: inputShape)
            let blockRows = max(1, (4 << 20) / (layout.featureCount * element.byteSize))
            // Raw memory, bound to the element type block by block: the readers fill bytes.
            let bytes = UnsafeMutableRawBufferPointer.allocate(
                byteCount: min(blockRows, rows) * layout.featureCount * element.byteSize, alignment: 16)
            defer { bytes.deallocate() }
            var start = 0
            while start < rows {
                let count = min(blockRows, rows - start)
                let block = UnsafeMutableRawBufferPointer(rebasing: bytes[0..<(count * layout.featureCount * element.byteSize)])
                try readRows(start, count, block)
                switch element {
                case .uint8: try converter.append(uint8: UnsafeBufferPointer(block.bindMemory(to: UInt8.self)))
                case .float32: try converter.append(float32: UnsafeBufferPointer(block.bindMemory(to: Float.self)))
                case .float64: try converter.append(float64: UnsafeBufferPointer(block.bindMemory(to: Double.self)))
                }
                start += count
                onProgress?(start, rows, start)
            }
            summary.fingerprint = try writer.finish(labels: labels, source: source, scale: scale, imageShape: layout.imageShape,
                                                    labelNames: labelNames)
            summary.rows = writer.rowCount
        }
        return summary
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
