import CDeflate
import CVAEKernels
import Foundation

/// Loads storage blocks into slabs and checks their rows: one per loading thread, since
/// it owns scratch buffers and a libdeflate decompressor.
///
/// A raw chunk is read under HDF5's lock (H5Dread_chunk: the stored bytes, no filter
/// run) and inflated and unshuffled outside it, so several threads decode at once while
/// HDF5 stays serial. Blocks HDF5 must decode itself (other filters, contiguous storage)
/// are read through H5Dread, under the lock. Unchecked Sendable: a loader is handed to one
/// thread and used by that thread alone.
final class BlockLoader: @unchecked Sendable {
    private let blocks: StorageBlocks
    private let decoder: FeatureDecoder
    private let datasets: OpenDatasets
    private var stored: [UInt8] = []
    private let unshuffled: UnsafeMutableRawPointer
    private let inflater: OpaquePointer

    init(blocks: StorageBlocks, decoder: FeatureDecoder, datasets: OpenDatasets) {
        self.blocks = blocks
        self.decoder = decoder
        self.datasets = datasets
        unshuffled = UnsafeMutableRawPointer.allocate(byteCount: max(1, blocks.slabBytes), alignment: 64)
        inflater = libdeflate_alloc_decompressor()
    }

    deinit {
        unshuffled.deallocate()
        libdeflate_free_decompressor(inflater)
    }

    /// Block `index`'s rows at `slab` (from its origin row on), checked.
    func load(_ index: Int, into slab: UnsafeMutableRawPointer) throws {
        let block = blocks.blocks[index]
        let piece = blocks.pieces[block.piece]
        let dataset = try datasets.dataset(of: piece)
        switch piece.layout {
        case .rawChunks(let chunkRows, let filters):
            try decodeChunk(dataset, at: block.origin, rows: chunkRows, filters: filters, piece: piece, into: slab)
        case .hdf5Reads:
            let count = block.sourceRows.count * decoder.featureCount
            switch decoder.featureType {
            case .uint8:
                try dataset.readRows(block.sourceRows, into: UnsafeMutableBufferPointer(
                    start: slab.assumingMemoryBound(to: UInt8.self), count: count))
            case .float32:
                try dataset.readRows(block.sourceRows, into: UnsafeMutableBufferPointer(
                    start: slab.assumingMemoryBound(to: Float.self), count: count))
            }
        }
        try check(block, piece: piece, slab: slab)
    }

    /// Undoes the filters in reverse order, skipping those the chunk's filter mask says
    /// HDF5 left out (it stores a chunk unfiltered when a filter would not shrink it).
    private func decodeChunk(_ dataset: HDF5Dataset, at firstRow: Int, rows: Int, filters: [StoragePiece.RawFilter],
                             piece: StoragePiece, into slab: UnsafeMutableRawPointer) throws {
        let expected = rows * blocks.rowBytes
        // HDF5 stores a chunk unfiltered when a filter would grow it: a few bytes over is the most.
        let (size, mask) = try dataset.readRawChunk(at: [firstRow, 0], into: &stored, maximumBytes: expected + expected / 64 + 4096)
        let applied = filters.enumerated().filter { mask & (1 << UInt32($0.offset)) == 0 }.map(\.element)
        try stored.withUnsafeBytes { storedBytes in
            var input = UnsafeRawBufferPointer(rebasing: storedBytes[0..<size])
            for (position, filter) in applied.enumerated().reversed() {
                // The last stage writes into the slab; an earlier one into the scratch buffer.
                let output = position == 0 ? slab : unshuffled
                switch filter {
                case .deflate:
                    var produced = 0
                    let status = libdeflate_zlib_decompress(inflater, input.baseAddress, input.count, output, expected, &produced)
                    guard status == LIBDEFLATE_SUCCESS, produced == expected else {
                        throw DataError(file: piece.path, object: piece.dataset,
                                        "the gzip chunk at row \(firstRow) does not inflate to its \(expected) bytes "
                                        + "(libdeflate status \(status.rawValue)): the file is damaged")
                    }
                case .shuffle:
                    guard input.count == expected else { throw chunkSizeError(piece, firstRow, input.count, expected) }
                    vae_unshuffle(input.baseAddress!.assumingMemoryBound(to: UInt8.self),
                                  output.assumingMemoryBound(to: UInt8.self), expected, decoder.featureType.byteSize)
                }
                input = UnsafeRawBufferPointer(start: output, count: expected)
            }
            if applied.isEmpty {
                guard size == expected else { throw chunkSizeError(piece, firstRow, size, expected) }
                slab.copyMemory(from: storedBytes.baseAddress!, byteCount: expected)
            }
        }
    }

    private func chunkSizeError(_ piece: StoragePiece, _ row: Int, _ size: Int, _ expected: Int) -> DataError {
        DataError(file: piece.path, object: piece.dataset,
                  "the chunk at row \(row) holds \(size) bytes, expected \(expected): the file is damaged")
    }

    /// The same checks an in-memory load makes, naming the file and its row.
    private func check(_ block: StorageBlocks.Block, piece: StoragePiece, slab: UnsafeMutableRawPointer) throws {
        let first = block.sourceRows.lowerBound
        let start = slab + (first - block.origin) * blocks.rowBytes
        let count = block.sourceRows.count * decoder.featureCount
        let rowIndex = { (position: Int) in first + position }
        switch decoder.featureType {
        case .uint8:
            try decoder.validate(uint8: UnsafeBufferPointer(start: start.assumingMemoryBound(to: UInt8.self), count: count),
                                 file: piece.path, rowIndex: rowIndex)
        case .float32:
            try decoder.validate(float32: UnsafeBufferPointer(start: start.assumingMemoryBound(to: Float.self), count: count),
                                 file: piece.path, rowIndex: rowIndex)
        }
    }
}

/// The open datasets of a data set's pieces, shared by the loading threads (every HDF5
/// call runs under the library's one lock anyway). Opened on first use, closed with it.
final class OpenDatasets: @unchecked Sendable {
    private let lock = NSLock()
    private var open: [String: HDF5Dataset] = [:]

    func dataset(of piece: StoragePiece) throws -> HDF5Dataset {
        let key = piece.path + "\u{0}" + piece.dataset
        lock.lock()
        defer { lock.unlock() }
        if let dataset = open[key] { return dataset }
        let dataset = try HDF5File.open(piece.path).root().openDataset(piece.dataset)
        open[key] = dataset
        return dataset
    }
}
