/// Writes a data file row block by row block: `/features` chunked by rows
/// with gzip, `/labels`, and the root attributes, computing the fingerprint
/// as the rows go by. Memory is one block, whatever the input size.
final class DataFileWriter {
    let file: HDF5File
    let featureType: FeatureType
    let featureCount: Int
    private let features: HDF5Dataset
    private var fingerprint = DataFingerprint()
    private(set) var rowCount = 0

    /// - Parameter expectedRows: chunk rows are capped by it when known (tiny files get tiny chunks).
    init(file: HDF5File, featureType: FeatureType, featureCount: Int, expectedRows: Int?, gzipLevel: Int?) throws {
        self.file = file
        self.featureType = featureType
        self.featureCount = featureCount
        let expected = max(1, expectedRows ?? Int.max)
        var chunks = HDF5Group.rowChunks(shape: [expected, featureCount], elementSize: featureType.byteSize)
        chunks[0] = min(chunks[0], expected)
        let root = try file.root()
        switch featureType {
        case .uint8:
            features = try root.createDataset(DataFile.featuresPath, of: UInt8.self, shape: [0, featureCount],
                                              extendibleRows: true, chunks: chunks, gzipLevel: gzipLevel)
        case .float32:
            // Shuffle groups the bytes of each float by significance: exponents compress well.
            features = try root.createDataset(DataFile.featuresPath, of: Float.self, shape: [0, featureCount],
                                              extendibleRows: true, chunks: chunks, gzipLevel: gzipLevel, shuffle: gzipLevel != nil)
        }
    }

    func append(uint8Rows values: UnsafeBufferPointer<UInt8>) throws {
        precondition(featureType == .uint8 && values.count % featureCount == 0)
        try appendRows(values, count: values.count / featureCount)
    }

    func append(float32Rows values: UnsafeBufferPointer<Float>, sourceRowOffset: Int, describe: (Int, Int) -> DataError) throws {
        precondition(featureType == .float32 && values.count % featureCount == 0)
        if let bad = values.firstIndex(where: { !$0.isFinite }) {
            throw describe(sourceRowOffset + bad / featureCount, bad % featureCount)
        }
        try appendRows(values, count: values.count / featureCount)
    }

    private func appendRows<T: HDF5Element>(_ values: UnsafeBufferPointer<T>, count: Int) throws {
        guard count > 0 else { return }
        try features.setRowCount(rowCount + count)
        try features.writeRows(startingAt: rowCount, from: values)
        fingerprint.update(featureBytes: UnsafeRawBufferPointer(values))
        rowCount += count
    }

    /// Writes labels and attributes; returns the fingerprint. `imageShape` is the rows'
    /// [C, H, W]; `labelNames` the class names, name k for label k (Fashion-MNIST's).
    func finish(labels: [Int64]?, source: String, scale: Double?, imageShape: ImageShape? = nil,
                labelNames: [String]? = nil) throws -> String {
        guard rowCount > 0 else {
            throw DataError(file: file.path, object: DataFile.featuresPath, "no rows to write: the input holds no data")
        }
        let root = try file.root()
        if let labels {
            guard labels.count == rowCount else {
                throw DataError(file: file.path, object: DataFile.labelsPath,
                                "\(labels.count) labels for \(rowCount) rows; expected one label per row")
            }
            try root.writeDataset(DataFile.labelsPath, labels, shape: [labels.count],
                                  chunks: HDF5Group.rowChunks(shape: [labels.count], elementSize: 8), gzipLevel: 4)
        }
        if let scale { try features.setAttribute("scale", scale) }
        if let imageShape {
            precondition(imageShape.valueCount == featureCount, "an image shape of the rows' \(featureCount) values")
            try root.setAttribute(ImageShape.attributeName, imageShape.dimensions)
        }
        if let labelNames { try root.setAttribute(DataFile.labelNamesAttribute, labelNames) }
        let digest = fingerprint.finish(featureType: featureType, rows: rowCount, features: featureCount)
        try root.setAttribute("format", DataFile.format)
        try root.setAttribute("format_version", DataFile.formatVersion)
        try root.setAttribute("source", source)
        try root.setAttribute("fingerprint", digest)
        return digest
    }
}
