import Foundation
import VAECore

/// One data set stored in one or more data files (shards), read as the concatenation of
/// their rows in the order the files are listed. The shards must agree on the row width,
/// dtype and scale; each is a complete data file (`DataFile`) that h5py reads alone.
public struct ShardSet: Sendable {
    /// What the user named: a data file, a glob such as `shards/train-*.h5`, or a list file.
    public let specification: String
    public let files: [DataFile]
    /// Where every row is stored, in data-set rows: the files' pieces one after another.
    public let pieces: [StoragePiece]
    public let rowCount: Int
    public var featureCount: Int { files[0].featureCount }
    public var featureType: FeatureType { files[0].featureType }
    public var scale: Double { files[0].scale }
    /// Every shard has labels.
    public var hasLabels: Bool { files.allSatisfy(\.hasLabels) }
    /// The shards' image shape when they all record the same one.
    public var imageShape: ImageShape? { files.allSatisfy({ $0.imageShape == files[0].imageShape }) ? files[0].imageShape : nil }
    /// Bytes of all rows as stored (what an in-memory reader holds).
    public var featureBytes: Int { rowCount * featureCount * featureType.byteSize }
    public var rowBytes: Int { featureCount * featureType.byteSize }

    /// How messages name the data: the file, or the specification and its file count.
    public var description: String {
        files.count == 1 ? files[0].path : "\(specification) (\(files.count) files)"
    }

    /// One file as a set.
    public init(_ file: DataFile) {
        self.init(specification: file.path, files: [file])
    }

    init(specification: String, files: [DataFile]) {
        precondition(!files.isEmpty, "a shard set needs at least one file")
        self.specification = specification
        self.files = files
        var pieces: [StoragePiece] = []
        var next = 0
        for file in files {
            for var piece in file.pieces {
                piece.firstRow += next
                pieces.append(piece)
            }
            next += file.rowCount
        }
        self.pieces = pieces
        rowCount = next
    }

    /// Opens every file `specification` names (`ShardSet.paths`) and checks that they agree.
    public static func open(_ specification: String, verifyingChecksums: Bool = true) throws -> ShardSet {
        let files = try paths(specification).map { try DataFile.open($0, verifyingChecksum: verifyingChecksums) }
        let first = files[0]
        for file in files.dropFirst() {
            guard file.featureCount == first.featureCount, file.featureType == first.featureType,
                  file.scale.bitPattern == first.scale.bitPattern else {
                throw DataError(file: file.path, object: DataFile.featuresPath,
                                "is \(file.featureType.rawValue) [\(file.rowCount), \(file.featureCount)]"
                                + (file.featureType == .uint8 ? " with scale \(file.scale)" : "")
                                + ", but the first file of \(specification), \(first.path), is \(first.featureType.rawValue) "
                                + "[\(first.rowCount), \(first.featureCount)]" + (first.featureType == .uint8 ? " with scale \(first.scale)" : "")
                                + "; every shard must have the same row width, dtype and scale")
            }
        }
        return ShardSet(specification: specification, files: files)
    }

    /// The set's fingerprint: one file's own (docs/data.md), or for several files FNV-1a 64
    /// over their fingerprints, one per line, then `<dtype>[<N>,<D>]` of the whole set.
    public func fingerprint() throws -> String {
        if files.count == 1 { return try files[0].fingerprint() }
        let text = try files.map { try $0.fingerprint() + "\n" }.joined() + "\(featureType.rawValue)[\(rowCount),\(featureCount)]"
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3 }
        return "fnv1a64:" + String(format: "%016llx", hash)
    }

    /// All labels, the shards' one after another.
    public func readLabels() throws -> [Int] {
        try files.flatMap { try $0.readLabels() }
    }

    /// The block shuffle this data's storage suggests: blocks of its first piece's chunk
    /// rows (or ~64 KiB of rows without chunks), windows of `BlockShuffle.windowBytes`.
    public var storageBlockShuffle: BlockShuffle {
        BlockShuffle.forStorage(blockRows: pieces[0].blockRows, rowBytes: rowBytes)
    }
}
