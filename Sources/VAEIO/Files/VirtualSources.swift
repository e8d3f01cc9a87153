import Foundation

/// The source files of an HDF5 virtual dataset, checked before any row is read.
///
/// HDF5 reads the rows of a source it cannot find as the fill value (zeros), silently:
/// a virtual dataset whose shard went missing would train on zeros and pass `check`.
/// vae-dist resolves every source itself (HDF5's search order), refuses a missing one,
/// and reads the rows from the sources it found, so what was checked is what is read.
enum VirtualSources {
    /// The pieces of virtual dataset `dataset` (shape [N, D]) of the data file at `path`:
    /// one per mapping, which must map whole rows, from a source that exists, holds the
    /// dataset with the same dtype and width, and stores every mapped row; together the
    /// mappings must show every row exactly once.
    static func pieces(of dataset: HDF5Dataset, path: String, rowCount: Int, featureCount: Int,
                       featureType: FeatureType, verifyingChecksums: Bool) throws -> [StoragePiece] {
        var pieces: [StoragePiece] = []
        for (index, mapping) in try dataset.virtualMappings().enumerated() {
            let what = "virtual mapping \(index) (source \(mapping.sourceFile):\(mapping.sourceDataset))"
            guard let rows = wholeRows(mapping.virtualBox, width: featureCount) else {
                throw DataError(file: path, object: dataset.path,
                                "\(what) does not map whole rows as one block; vae-dist reads virtual datasets that stack row blocks of their sources")
            }
            let sourcePath = try locate(mapping.sourceFile, virtualFile: path, object: dataset.path, what: what, rows: rows)
            if verifyingChecksums { try DataFile.checkReadableHDF5(sourcePath, kind: "virtual dataset source") }
            let sourceFile = try HDF5File.open(sourcePath)
            guard try sourceFile.root().contains(mapping.sourceDataset) else {
                throw DataError(file: path, object: dataset.path,
                                "\(what): \(sourcePath) has no dataset \(mapping.sourceDataset); HDF5 would read rows \(rows) as zeros")
            }
            let source = try sourceFile.root().openDataset(mapping.sourceDataset)
            let shape = try source.shape()
            let elementType = try source.elementType()
            guard shape.count == 2, shape[1] == featureCount, elementType == (featureType == .uint8 ? .uint8 : .float32) else {
                throw DataError(file: path, object: dataset.path,
                                "\(what): the source is \(elementType) \(shape), expected \(featureType.rawValue) [rows, \(featureCount)]")
            }
            guard let sourceRows = wholeRows(mapping.sourceBox, width: featureCount), sourceRows.count == rows.count,
                  sourceRows.upperBound <= shape[0] else {
                throw DataError(file: path, object: dataset.path,
                                "\(what) maps source rows that are not \(rows.count) whole rows within its \(shape[0]); "
                                + "HDF5 would read the missing ones as zeros")
            }
            let whole = try StoragePiece.inspect(source, path: sourcePath, rowCount: shape[0], featureCount: featureCount,
                                                 featureType: featureType)
            pieces.append(StoragePiece(path: sourcePath, dataset: source.path, sourceRows: sourceRows,
                                       firstRow: rows.lowerBound, layout: whole.layout))
        }
        try checkCoverage(pieces.map(\.rows), rowCount: rowCount, path: path, object: dataset.path)
        return pieces.sorted { $0.firstRow < $1.firstRow }
    }

    /// For a virtual `/labels`: every source file exists and holds its dataset, and the
    /// mappings cover every label once (the values are read through HDF5).
    static func checkSources(of dataset: HDF5Dataset, path: String, rowCount: Int) throws {
        var covered: [Range<Int>] = []
        for (index, mapping) in try dataset.virtualMappings().enumerated() {
            let what = "virtual mapping \(index) (source \(mapping.sourceFile):\(mapping.sourceDataset))"
            guard let box = mapping.virtualBox, box.count == 1 else {
                throw DataError(file: path, object: dataset.path, "\(what) is not one block of labels")
            }
            let sourcePath = try locate(mapping.sourceFile, virtualFile: path, object: dataset.path, what: what, rows: box[0])
            guard try HDF5File.open(sourcePath).root().contains(mapping.sourceDataset) else {
                throw DataError(file: path, object: dataset.path,
                                "\(what): \(sourcePath) has no dataset \(mapping.sourceDataset); HDF5 would read labels \(box[0]) as zeros")
            }
            covered.append(box[0])
        }
        try checkCoverage(covered, rowCount: rowCount, path: path, object: dataset.path)
    }

    /// The rows of a [rows, width] box that spans every column; nil otherwise.
    private static func wholeRows(_ box: [Range<Int>]?, width: Int) -> Range<Int>? {
        guard let box, box.count == 2, box[1] == 0..<width, !box[0].isEmpty else { return nil }
        return box[0]
    }

    private static func locate(_ name: String, virtualFile: String, object: String, what: String,
                               rows: Range<Int>) throws -> String {
        guard let found = resolve(name, virtualFile: virtualFile) else {
            throw DataError(file: virtualFile, object: object,
                            "\(what) is missing: no file \(name) where HDF5 looks for it (HDF5_VDS_PREFIX, then "
                            + "\((absolute(virtualFile) as NSString).deletingLastPathComponent), then the current directory); "
                            + "HDF5 would read rows \(rows.lowerBound)..<\(rows.upperBound) as zeros")
        }
        return found
    }

    /// Where HDF5 1.10 finds source file `name` of a virtual dataset in `virtualFile`
    /// (H5Pset_virtual): "." is that file; an absolute path as it is, else its last
    /// component; a relative one under each HDF5_VDS_PREFIX entry, then in the virtual
    /// file's directory, then in the current directory. nil when none is a regular file.
    static func resolve(_ name: String, virtualFile: String,
                        environment: [String: String] = ProcessInfo.processInfo.environment) -> String? {
        if name == "." { return virtualFile }
        var candidates: [String] = []
        var relative = name
        if name.hasPrefix("/") {
            candidates.append(name)
            relative = (name as NSString).lastPathComponent
        }
        let directory = (absolute(virtualFile) as NSString).deletingLastPathComponent
        for prefix in (environment["HDF5_VDS_PREFIX"] ?? "").split(separator: ":") where !prefix.isEmpty {
            let expanded = prefix.replacingOccurrences(of: "${ORIGIN}", with: directory)
            candidates.append((expanded as NSString).appendingPathComponent(relative))
        }
        candidates.append((directory as NSString).appendingPathComponent(relative))
        candidates.append(relative)
        return candidates.first { candidate in
            var isDirectory: ObjCBool = false
            return FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory) && !isDirectory.boolValue
        }
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
    }

    /// The mapped row ranges must tile 0 ..< rowCount: a gap reads as zeros, an overlap is ambiguous.
    private static func checkCoverage(_ ranges: [Range<Int>], rowCount: Int, path: String, object: String) throws {
        var next = 0
        for range in ranges.sorted(by: { $0.lowerBound < $1.lowerBound }) {
            if range.upperBound > rowCount {
                throw DataError(file: path, object: object, "a virtual mapping shows rows up to \(range.upperBound), "
                                + "beyond the dataset's \(rowCount)")
            }
            if range.lowerBound > next {
                throw DataError(file: path, object: object, "rows \(next)..<\(range.lowerBound) are mapped to no source: "
                                + "HDF5 would read them as zeros")
            }
            if range.lowerBound < next {
                throw DataError(file: path, object: object, "rows \(range.lowerBound)..<\(min(next, range.upperBound)) are "
                                + "mapped by two virtual mappings; expected each row from one source")
            }
            next = range.upperBound
        }
        if next < rowCount {
            throw DataError(file: path, object: object, "rows \(next)..<\(rowCount) are mapped to no source: HDF5 would read them as zeros")
        }
    }
}
