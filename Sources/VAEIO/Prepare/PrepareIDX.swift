/// IDX (LeCun's MNIST format, also Fashion-MNIST): a big-endian header
/// `00 00 <type> <rank>`, `rank` u32 dimensions, then the values, row-major.
struct IDXHeader {
    enum ElementType: UInt8 {
        case uint8 = 0x08, int8 = 0x09, int16 = 0x0B, int32 = 0x0C, float32 = 0x0D, float64 = 0x0E
        var byteSize: Int { [1, 1, 2, 4, 4, 8][[0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E].firstIndex(of: rawValue)!] }
    }
    let elementType: ElementType
    let dimensions: [Int]
    var rows: Int { dimensions[0] }
    var rowElements: Int { dimensions.dropFirst().reduce(1, *) }

    static func read(from reader: GzipReader) throws -> IDXHeader {
        let magic = try reader.readBytes(4, what: "the IDX header")
        guard magic[0] == 0, magic[1] == 0 else {
            throw DataError(file: reader.path, "is not an IDX file: it starts with \(magic.map { String($0, radix: 16) }), expected 00 00 <type> <rank>")
        }
        guard let type = ElementType(rawValue: magic[2]) else {
            throw DataError(file: reader.path, "has IDX type code 0x\(String(magic[2], radix: 16)); expected 0x08 (uint8), 0x09, 0x0B, 0x0C, 0x0D or 0x0E")
        }
        let rank = Int(magic[3])
        guard rank >= 1 else { throw DataError(file: reader.path, "has IDX rank 0, expected at least 1 dimension") }
        let bytes = try reader.readBytes(4 * rank, what: "the IDX dimensions")
        let dimensions = (0..<rank).map { index in
            bytes[(4 * index)..<(4 * index + 4)].reduce(0) { ($0 << 8) | Int($1) }
        }
        return IDXHeader(elementType: type, dimensions: dimensions)
    }
}

extension DataPreparation {
    /// IDX images (uint8 -> uint8 features with scale 1/255; float32 and float64 -> float32)
    /// and optional IDX labels (rank 1, integer). Either file may be gzip-compressed.
    /// [N, H, W] images record `image_shape` [1, H, W] (RowLayout); `labelNames`, name k
    /// for label k, become the `label_names` attribute.
    public static func prepareIDX(images: String, labels: String?, output: String, labelNames: [String]? = nil,
                                  gzipLevel: Int? = 4, onProgress: PrepareProgress? = nil) throws -> PrepareSummary {
        try timed(output: output) {
            let reader = try GzipReader(images)
            let header = try IDXHeader.read(from: reader)
            let element: InputElement
            switch header.elementType {
            case .uint8: element = .uint8
            case .float32: element = .float32
            case .float64: element = .float64
            default:
                throw DataError(file: images, "has IDX element type \(header.elementType) (0x\(String(header.elementType.rawValue, radix: 16))); "
                                + "expected images of uint8 (0x08), float32 (0x0D) or float64 (0x0E)")
            }
            let layout = try RowLayout.of(shape: header.dimensions, layout: .auto, file: images)
            let labelValues = try labels.map { try readIDXLabels($0, expectedCount: header.rows) }
            let summary = try writeConverted(
                to: output, rows: header.rows, element: element, layout: layout, input: images, inputShape: header.dimensions,
                labels: labelValues, labelNames: labelNames, source: "idx: \(images)" + (labels.map { " + \($0)" } ?? ""),
                scale: element == .uint8 ? 1.0 / 255.0 : nil, gzipLevel: gzipLevel, onProgress: onProgress
            ) { start, count, bytes in
                try reader.readExactly(into: bytes, what: "image rows \(start)..<\(start + count) (the header declares \(header.rows))")
                // IDX is big-endian; the converter reads the host's order (little-endian).
                if element.byteSize > 1 {
                    for offset in stride(from: 0, to: bytes.count, by: element.byteSize) {
                        var value = UnsafeMutableRawBufferPointer(rebasing: bytes[offset..<(offset + element.byteSize)])
                        value.reverse()
                    }
                }
                if start + count == header.rows, try !reader.atEnd() {
                    throw DataError(file: images, "has bytes after the \(header.rows) rows its IDX header declares; expected the file to end there")
                }
            }
            return summary
        }
    }

    static func readIDXLabels(_ path: String, expectedCount: Int) throws -> [Int64] {
        let reader = try GzipReader(path)
        let header = try IDXHeader.read(from: reader)
        guard header.dimensions.count == 1 else {
            throw DataError(file: path, "has IDX dimensions \(header.dimensions), expected labels of rank 1 [rows]")
        }
        guard header.rows == expectedCount else {
            throw DataError(file: path, "has \(header.rows) labels, expected one per image (\(expectedCount))")
        }
        let bytes = try reader.readBytes(header.rows * header.elementType.byteSize, what: "\(header.rows) labels")
        let size = header.elementType.byteSize
        switch header.elementType {
        case .uint8: return bytes.map { Int64($0) }
        case .int8: return bytes.map { Int64(Int8(bitPattern: $0)) }
        case .int16, .int32:
            return (0..<header.rows).map { index in
                let raw = bytes[(index * size)..<((index + 1) * size)].reduce(UInt64(0)) { ($0 << 8) | UInt64($1) }
                let shift = UInt64(64 - 8 * size)
                return Int64(bitPattern: raw << shift) >> Int64(shift)  // sign-extend
            }
        case .float32, .float64:
            throw DataError(file: path, "has floating-point labels (IDX type \(header.elementType)); expected integer labels")
        }
    }
}
