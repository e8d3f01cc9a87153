import Foundation

/// How features are stored in a data file.
public enum FeatureType: String, Sendable {
    case uint8, float32

    public var byteSize: Int { self == .uint8 ? 1 : 4 }
}

/// A validated vae-dist data file: `/features` [N, D] uint8 (with `scale`) or
/// float32, optional `/labels` [N] integer. Holds only metadata; the HDF5 file
/// is closed after validation, and readers open their own handles.
public struct DataFile: Sendable {
    public static let format = "vae-dist-data"
    /// 2: `image_shape` is [C, H, W] and image rows are stored channels first (1 recorded [H, W, C]).
    public static let formatVersion = 2
    public static let featuresPath = "/features"
    public static let labelsPath = "/labels"
    /// The root attribute naming the classes: name k for label k (h5py reads a list of str).
    public static let labelNamesAttribute = "label_names"

    public let path: String
    /// N
    public let rowCount: Int
    /// D
    public let featureCount: Int
    public let featureType: FeatureType
    /// A stored uint8 `x` means `Float(Double(x) * scale)`; 1 for float32.
    public let scale: Double
    public let hasLabels: Bool
    /// The root `fingerprint` attribute, when the file has one.
    public let storedFingerprint: String?
    /// The root `source` attribute, when present.
    public let source: String?
    /// The root `image_shape` attribute when it is one vae-dist can draw rows of this
    /// width with; else nil (the picture commands say what is wrong when asked to use it).
    public let imageShape: ImageShape?
    /// What `open` found of a vae-dist checksum header: verified, absent (an h5py file), or
    /// nil when `open` was told not to read the file for it.
    public let checksum: FileChecksum.Verdict?
    /// Where the rows are stored: one piece, or one per mapping of a virtual `/features`.
    public let pieces: [StoragePiece]

    /// Bytes of `/features` as stored (what an in-memory reader holds).
    public var featureBytes: Int { rowCount * featureCount * featureType.byteSize }

    /// Opens and validates the layout (not the values: readers check those as they read).
    /// `verifyingChecksum: false` skips the pass over the whole file that checks a
    /// vae-dist checksum header: for the ranks of a job whose rank 0 ran `verify` first.
    public static func open(_ path: String, verifyingChecksum: Bool = true) throws -> DataFile {
        let checksum = try checkReadableHDF5(path, verifyingChecksum: verifyingChecksum)
        let file = try HDF5File.open(path)
        let root = try file.root()

        if let format = try root.stringAttribute("format"), format != Self.format {
            throw DataError(file: path, "is a '\(format)' file, expected a data file (format '\(Self.format)')")
        }
        if let version = try root.intAttribute("format_version"), version > Self.formatVersion {
            throw DataError(file: path, "has format_version \(version); this vae-dist reads data format_version \(Self.formatVersion) or older")
        }

        guard try root.contains(featuresPath) else {
            throw DataError(file: path, object: featuresPath,
                            "missing dataset; expected /features [rows, features] of uint8 (with a 'scale' attribute) or float32")
        }
        guard try root.kind(of: featuresPath) == .dataset else {
            throw DataError(file: path, object: featuresPath, "is a group, expected a dataset [rows, features]")
        }
        let features = try root.openDataset(featuresPath)
        try requireFilters(of: features, in: path, object: featuresPath)
        let shape = try features.shape()
        // What `prepare hdf5` converts (images, float64), the error says how.
        let convert = "; convert it with `vae-dist prepare hdf5 \(path) --out OUT.h5`"
        guard shape.count == 2 else {
            throw DataError(file: path, object: featuresPath, "has rank \(shape.count) (shape \(shape)), expected rank 2 [rows, features]"
                            + (shape.count >= 3 ? convert : ""))
        }
        guard shape[0] >= 1, shape[1] >= 1 else {
            throw DataError(file: path, object: featuresPath, "is empty (shape \(shape)), expected at least one row and one feature")
        }
        let elementType = try features.elementType()
        let featureType: FeatureType
        switch elementType {
        case .uint8: featureType = .uint8
        case .float32: featureType = .float32
        default:
            throw DataError(file: path, object: featuresPath,
                            "has dtype \(elementType), expected uint8 (with a 'scale' attribute) or float32"
                            + (elementType == .float64 ? convert : ""))
        }

        var scale = 1.0
        if featureType == .uint8 {
            // A uint8 file must say what its bytes mean: a silent 1/255 would be
            // wrong for count data or labels-as-images, and cheap to state.
            guard let stored = try features.doubleAttribute("scale") ?? root.doubleAttribute("scale") else {
                throw DataError(file: path, object: featuresPath,
                                "is uint8 but has no 'scale' attribute (on the dataset or the root); "
                                + "expected one, e.g. scale = 1/255 for pixel bytes")
            }
            guard stored.isFinite, stored > 0 else {
                throw DataError(file: path, object: featuresPath, "has scale \(stored), expected a finite number > 0")
            }
            // Training squares and sums a row's values in float32: a scale that takes the
            // byte 255 past what that can hold is a mistake, not data (it used to surface
            // as "training diverged, try a lower --lr").
            let largest = (Double(Float.greatestFiniteMagnitude) / Double(shape[1])).squareRoot()
            guard 255 * stored <= largest else {
                throw DataError(file: path, object: featuresPath,
                                "has scale \(stored): the byte 255 becomes \(255 * stored), beyond the \(Float(largest)) whose "
                                + "square summed over the \(shape[1]) features float32 training can hold; expected e.g. "
                                + "scale = 1/255 for pixel bytes")
            }
            scale = stored
        }

        // Every row must be stored: HDF5 reads unwritten chunks and missing virtual sources as zeros.
        let pieces: [StoragePiece]
        if try features.storageKind() == .virtual {
            pieces = try VirtualSources.pieces(of: features, path: path, rowCount: shape[0], featureCount: shape[1],
                                               featureType: featureType, verifyingChecksums: verifyingChecksum)
        } else {
            pieces = [try StoragePiece.inspect(features, path: path, rowCount: shape[0], featureCount: shape[1],
                                               featureType: featureType)]
        }

        var hasLabels = false
        if try root.contains(labelsPath) {
            guard try root.kind(of: labelsPath) == .dataset else {
                throw DataError(file: path, object: labelsPath, "is a group, expected a dataset [rows] of integers")
            }
            let labels = try root.openDataset(labelsPath)
            try requireFilters(of: labels, in: path, object: labelsPath)
            let labelShape = try labels.shape()
            let labelType = try labels.elementType()
            guard labelShape.count == 1 else {
                throw DataError(file: path, object: labelsPath, "has rank \(labelShape.count) (shape \(labelShape)), expected rank 1 [rows]")
            }
            guard labelType.isInteger else {
                throw DataError(file: path, object: labelsPath, "has dtype \(labelType), expected an integer type")
            }
            guard labelShape[0] == shape[0] else {
                throw DataError(file: path, object: labelsPath,
                                "has \(labelShape[0]) labels, expected one per row of /features (\(shape[0]))")
            }
            if try labels.storageKind() == .virtual {
                try VirtualSources.checkSources(of: labels, path: path, rowCount: labelShape[0])
            } else {
                try StoragePiece.checkEveryRowStored(labels, path: path)
            }
            hasLabels = true
        }

        // Not a reason to refuse the data: an attribute of another type or shape is ignored here.
        let imageShape = ((try? ImageShape.attribute(of: root)) ?? nil).flatMap { $0.valueCount == shape[1] ? $0 : nil }
        return DataFile(path: path, rowCount: shape[0], featureCount: shape[1], featureType: featureType, scale: scale,
                        hasLabels: hasLabels, storedFingerprint: try root.stringAttribute("fingerprint"),
                        source: try root.stringAttribute("source"), imageShape: imageShape, checksum: checksum,
                        pieces: pieces)
    }

    /// Refuses a dataset compressed with a filter this HDF5 lacks, naming the filter.
    static func requireFilters(of dataset: HDF5Dataset, in path: String, object: String) throws {
        let missing = try dataset.unavailableFilters()
        guard !missing.isEmpty else { return }
        throw DataError(file: path, object: object,
                        "is compressed with the HDF5 filter \(missing.joined(separator: " and ")), which this HDF5 cannot "
                        + "decode (no plugin for it in $HDF5_PLUGIN_PATH or HDF5's plugin directory): install the plugin, "
                        + "or rewrite the file with gzip (h5py: compression=\"gzip\"; or `vae-dist prepare npy`)")
    }

    /// Clear messages for the commonest mistakes, before HDF5 reports them in its own words;
    /// and the checksum of a file vae-dist wrote, before HDF5 can hang on a damaged one.
    /// `kind` names the file in a checksum error ("data file is corrupt: ...").
    @discardableResult
    static func checkReadableHDF5(_ path: String, kind: String = "data file",
                                  verifyingChecksum: Bool = true) throws -> FileChecksum.Verdict? {
        try InputFile.requireRegularFile(path, expected: "an HDF5 file")
        guard FileManager.default.isReadableFile(atPath: path) else { throw DataError(file: path, "is not readable (permission denied)") }
        let verdict = verifyingChecksum ? try FileChecksum.verify(path, kind: kind) : nil
        guard HDF5File.isHDF5(path) else {
            throw DataError(file: path, "is not an HDF5 file (no HDF5 signature); expected an HDF5 data file, e.g. from `vae-dist prepare`")
        }
        return verdict
    }

    /// The checks `open` starts with, the checksum included, without HDF5 opening the file.
    /// A job's rank 0 runs this once for all ranks (one read of the data, not one per rank:
    /// at 1,000 ranks on a shared filesystem that matters), and the ranks open the file
    /// only after it passed, since HDF5 can hang on a damaged one.
    /// A virtual dataset's source files are checked too (they hold the rows).
    public static func verify(_ path: String) throws {
        try checkReadableHDF5(path)
        let root = try HDF5File.open(path).root()
        guard try root.contains(featuresPath), try root.kind(of: featuresPath) == .dataset else { return }
        let features = try root.openDataset(featuresPath)
        guard try features.storageKind() == .virtual else { return }
        for mapping in try features.virtualMappings() {
            if let source = VirtualSources.resolve(mapping.sourceFile, virtualFile: path), source != path {
                try checkReadableHDF5(source, kind: "virtual dataset source")
            }
        }
    }

    /// The labels as Int, one per row.
    public func readLabels() throws -> [Int] {
        guard hasLabels else { throw DataError(file: path, object: Self.labelsPath, "missing dataset; this data file has no labels") }
        let file = try HDF5File.open(path)
        return try file.root().openDataset(Self.labelsPath).read(as: Int64.self).map { Int($0) }
    }

    /// The class names of the root `label_names` attribute (name k for label k); nil when absent.
    public func readLabelNames() throws -> [String]? {
        try HDF5File.open(path).root().stringArrayAttribute(Self.labelNamesAttribute)
    }

    /// The stored fingerprint, or the one computed from the content when the file has none.
    public func fingerprint() throws -> String {
        if let storedFingerprint { return storedFingerprint }
        return try computeFingerprint()
    }

    /// Hashes the feature bytes, reading about 8 MiB of rows at a time.
    public func computeFingerprint() throws -> String {
        let file = try HDF5File.open(path)
        let features = try file.root().openDataset(Self.featuresPath)
        let rowBytes = featureCount * featureType.byteSize
        let blockRows = max(1, (8 << 20) / rowBytes)
        var fingerprint = DataFingerprint()
        var start = 0
        switch featureType {
        case .uint8:
            var block = [UInt8](repeating: 0, count: blockRows * featureCount)
            while start < rowCount {
                let rows = min(blockRows, rowCount - start)
                try block.withUnsafeMutableBufferPointer { try features.readRows(start..<(start + rows), into: $0) }
                block.withUnsafeBytes { fingerprint.update(featureBytes: UnsafeRawBufferPointer(rebasing: $0[0..<(rows * rowBytes)])) }
                start += rows
            }
        case .float32:
            var block = [Float](repeating: 0, count: blockRows * featureCount)
            while start < rowCount {
                let rows = min(blockRows, rowCount - start)
                try block.withUnsafeMutableBufferPointer { try features.readRows(start..<(start + rows), into: $0) }
                // Little-endian hosts only (x86-64, aarch64): the bytes are the file's bytes.
                block.withUnsafeBytes { fingerprint.update(featureBytes: UnsafeRawBufferPointer(rebasing: $0[0..<(rows * rowBytes)])) }
                start += rows
            }
        }
        return fingerprint.finish(featureType: featureType, rows: rowCount, features: featureCount)
    }
}
