import Foundation

/// A stretch of a data set's rows as stored: rows `sourceRows` of one HDF5 dataset in
/// one file, which the data set shows from row `firstRow` on. A plain data file is one
/// piece; a virtual dataset is one piece per mapping; shards add their pieces up.
public struct StoragePiece: Sendable, Equatable {
    /// The file holding the rows (a virtual dataset's source file, resolved).
    public let path: String
    public let dataset: String
    public let sourceRows: Range<Int>
    /// The data-set row of `sourceRows.lowerBound`.
    public var firstRow: Int
    public let layout: Layout

    /// How a reader gets at the rows.
    public enum Layout: Sendable, Equatable {
        /// Chunks of `chunkRows` whole rows, read raw and decoded by vae-dist (off HDF5's lock):
        /// `filters` in the order they were applied when writing.
        case rawChunks(chunkRows: Int, filters: [RawFilter])
        /// Rows read through HDF5 in blocks of `blockRows` (aligned to the chunks, if any):
        /// contiguous storage, or chunks with filters vae-dist does not decode itself.
        case hdf5Reads(blockRows: Int)
    }

    /// The filters vae-dist undoes itself.
    public enum RawFilter: Sendable, Equatable {
        case shuffle
        case deflate
    }

    /// Data-set rows this piece holds.
    public var rows: Range<Int> { firstRow..<(firstRow + sourceRows.count) }

    /// Rows per storage block: a chunk's rows, or a read block's.
    public var blockRows: Int {
        switch layout {
        case .rawChunks(let chunkRows, _): return chunkRows
        case .hdf5Reads(let blockRows): return blockRows
        }
    }

    /// Rows per read block where the storage has no chunks: about 64 KiB of rows, the size
    /// `prepare`'s chunks have had, so a block shuffle behaves alike on both.
    public static func contiguousBlockRows(rowBytes: Int) -> Int { max(1, (64 << 10) / max(1, rowBytes)) }

    /// The piece of a non-virtual dataset holding all its rows, after checking that every
    /// row has storage: HDF5 reads rows of chunks never written as the fill value (zeros),
    /// silently, so a half-written file would train on zeros.
    static func inspect(_ dataset: HDF5Dataset, path: String, rowCount: Int, featureCount: Int,
                        featureType: FeatureType) throws -> StoragePiece {
        let rowBytes = featureCount * featureType.byteSize
        let layout: Layout
        try checkEveryRowStored(dataset, path: path)
        switch try dataset.storageKind() {
        case .compact, .contiguous:
            layout = .hdf5Reads(blockRows: contiguousBlockRows(rowBytes: rowBytes))
        case .chunked(let chunks):
            layout = try chunkLayout(dataset, chunks: chunks, featureCount: featureCount, featureType: featureType)
        case .virtual:
            throw DataError(file: path, object: dataset.path, "is a virtual dataset inside a virtual dataset's sources; "
                            + "vae-dist reads one level of virtual datasets: map the files holding the rows directly")
        }
        return StoragePiece(path: path, dataset: dataset.path, sourceRows: 0..<rowCount, firstRow: 0, layout: layout)
    }

    /// Refuses a non-virtual dataset with storage never written: HDF5 reads it as the fill value.
    static func checkEveryRowStored(_ dataset: HDF5Dataset, path: String) throws {
        switch try dataset.storageKind() {
        case .contiguous:
            if try dataset.spaceStatus() != .allocated {
                throw DataError(file: path, object: dataset.path,
                                "has no storage in the file (never written; a half-written file?): HDF5 would read every row "
                                + "as zeros; write the file again")
            }
        case .chunked(let chunks):
            // H5Dget_space_status compares stored bytes with the full size, so a compressed
            // complete dataset counts as partly allocated: count the chunks instead.
            let expected = zip(try dataset.shape(), chunks).reduce(1) { $0 * (($1.0 + $1.1 - 1) / max(1, $1.1)) }
            let written = try dataset.allocatedChunkCount()
            if written < expected {
                throw DataError(file: path, object: dataset.path,
                                "\(expected - written) of its \(expected) chunks were never written (a half-written file?): "
                                + "HDF5 would read their rows as zeros; write the file again")
            }
        case .compact, .virtual:
            break
        }
    }

    /// Raw chunks when each chunk holds whole rows, stored as this machine holds them,
    /// through filters vae-dist undoes (shuffle, deflate); else HDF5 reads chunk by chunk.
    private static func chunkLayout(_ dataset: HDF5Dataset, chunks: [Int], featureCount: Int,
                                    featureType: FeatureType) throws -> Layout {
        let chunkRows = max(1, chunks.first ?? 1)
        let native = switch featureType {
        case .uint8: try dataset.storesNativeBytes(of: UInt8.self)
        case .float32: try dataset.storesNativeBytes(of: Float.self)
        }
        var filters: [RawFilter] = []
        for filter in try dataset.filterPipeline() {
            switch filter.id {
            case HDF5Filter.shuffleID: filters.append(.shuffle)
            case HDF5Filter.deflateID: filters.append(.deflate)
            default: return .hdf5Reads(blockRows: chunkRows)
            }
        }
        guard native, chunks.count == 2, chunks[1] == featureCount else { return .hdf5Reads(blockRows: chunkRows) }
        return .rawChunks(chunkRows: chunkRows, filters: filters)
    }
}
