import Foundation

extension DataPreparation {
    /// The shard paths of `output` (`dir/train.h5` -> `dir/train-00000.h5`, ...): zero-padded,
    /// so a glob lists them in order.
    public static func shardPath(_ output: String, index: Int) -> String {
        let directory = (output as NSString).deletingLastPathComponent
        let name = (output as NSString).lastPathComponent
        let stem = name.lowercased().hasSuffix(".h5") ? String(name.dropLast(3)) : name
        let shard = stem + "-" + String(format: "%05d", index) + ".h5"
        return directory.isEmpty ? shard : (directory as NSString).appendingPathComponent(shard)
    }

    /// Splits the data file at `wholePath` into shards of `shardRows` rows (rounded up to
    /// whole chunks, so no storage block spans two shards and a block shuffle reads them as
    /// it reads one file), each a complete data file written atomically: labels, scale,
    /// image shape, its own fingerprint and checksum header. Memory: one block of rows.
    public static func writeShards(of wholePath: String, output: String, shardRows requested: Int,
                                   gzipLevel: Int?) throws -> [PrepareSummary] {
        let whole = try DataFile.open(wholePath)
        let chunkRows = HDF5Group.rowChunks(shape: [whole.rowCount, whole.featureCount],
                                            elementSize: whole.featureType.byteSize)[0]
        let shardRows = (max(1, requested) + chunkRows - 1) / chunkRows * chunkRows
        let count = (whole.rowCount + shardRows - 1) / shardRows
        // Shards of an earlier, longer split would join a glob of these: refuse before writing.
        let stale = shardPath(output, index: count)
        if FileManager.default.fileExists(atPath: stale) {
            throw DataError(file: stale, "exists from an earlier prepare into more shards, and `\(shardPath(output, index: 0)) ...` "
                            + "globs would read it too: remove the old shards first")
        }
        let labels = whole.hasLabels ? try whole.readLabels().map(Int64.init) : nil
        let features = try HDF5File.open(wholePath).root().openDataset(DataFile.featuresPath)
        let source = (try HDF5File.open(wholePath).root().stringAttribute("source")) ?? wholePath
        return try (0..<count).map { index in
            let rows = (index * shardRows)..<min((index + 1) * shardRows, whole.rowCount)
            let path = shardPath(output, index: index)
            return try timed(output: path) {
                var summary = PrepareSummary(path: path, rows: rows.count, features: whole.featureCount, featureType: whole.featureType,
                                             hasLabels: labels != nil, fingerprint: "", seconds: 0)
                try writeHDF5FileAtomically(to: path) { file in
                    let writer = try DataFileWriter(file: file, featureType: whole.featureType, featureCount: whole.featureCount,
                                                    expectedRows: rows.count, gzipLevel: gzipLevel)
                    try copyRows(rows, of: features, type: whole.featureType, width: whole.featureCount, to: writer)
                    summary.fingerprint = try writer.finish(labels: labels.map { Array($0[rows]) },
                                                            source: "\(source) (shard \(index + 1) of \(count), rows \(rows.lowerBound)..<\(rows.upperBound))",
                                                            scale: whole.featureType == .uint8 ? whole.scale : nil)
                    if let imageShape = whole.imageShape {
                        try file.root().setAttribute(ImageShape.attributeName, imageShape.dimensions)
                    }
                }
                return summary
            }
        }
    }

    /// Rows `rows` of `features` appended to `writer`, about 4 MiB at a time.
    private static func copyRows(_ rows: Range<Int>, of features: HDF5Dataset, type: FeatureType, width: Int,
                                 to writer: DataFileWriter) throws {
        let blockRows = max(1, (4 << 20) / max(1, width * type.byteSize))
        for start in stride(from: rows.lowerBound, to: rows.upperBound, by: blockRows) {
            let block = start..<min(start + blockRows, rows.upperBound)
            switch type {
            case .uint8:
                let values = try features.readRows(block, as: UInt8.self)
                try values.withUnsafeBufferPointer { try writer.append(uint8Rows: $0) }
            case .float32:
                let values = try features.readRows(block, as: Float.self)
                try values.withUnsafeBufferPointer { buffer in
                    try writer.append(float32Rows: buffer, sourceRowOffset: block.lowerBound) { row, column in
                        DataError(file: features.file.path, row: row, "column \(column) is not a finite number")
                    }
                }
            }
        }
    }
}
