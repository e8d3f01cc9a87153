/// The storage blocks of a data set: the units a reader loads whole. A block is one
/// chunk of a piece (decoded into a slab of a whole chunk's rows), or a run of rows HDF5
/// reads (aligned to the piece's chunks when it has any).
struct StorageBlocks: Sendable {
    struct Block: Sendable {
        let piece: Int
        /// Rows of the piece's dataset this block holds.
        let sourceRows: Range<Int>
        /// The dataset row at the slab's first row: the chunk's first row for a raw chunk
        /// (decoded whole), the block's first row for an HDF5 read.
        let origin: Int
    }

    let pieces: [StoragePiece]
    let blocks: [Block]
    let rowBytes: Int
    /// Bytes of the largest slab a block needs.
    let slabBytes: Int
    /// Index of each piece's first block.
    private let firstBlockOfPiece: [Int]

    init(pieces: [StoragePiece], rowBytes: Int) {
        self.pieces = pieces
        self.rowBytes = rowBytes
        var blocks: [Block] = []
        var firstBlockOfPiece: [Int] = []
        var slabRows = 1
        for (index, piece) in pieces.enumerated() {
            firstBlockOfPiece.append(blocks.count)
            let size = piece.blockRows
            let raw = if case .rawChunks = piece.layout { true } else { false }
            var start = piece.sourceRows.lowerBound
            while start < piece.sourceRows.upperBound {
                let chunkStart = start / size * size
                let end = min(chunkStart + size, piece.sourceRows.upperBound)
                blocks.append(Block(piece: index, sourceRows: start..<end, origin: raw ? chunkStart : start))
                // A raw chunk decodes whole, past the data's last row too; an HDF5 read holds its rows.
                slabRows = max(slabRows, raw ? size : end - start)
                start = end
            }
        }
        self.blocks = blocks
        self.firstBlockOfPiece = firstBlockOfPiece
        slabBytes = slabRows * rowBytes
    }

    /// The piece holding data-set row `row`.
    func piece(ofRow row: Int) -> Int {
        var low = 0
        var high = pieces.count
        while high - low > 1 {
            let middle = (low + high) / 2
            if pieces[middle].firstRow <= row { low = middle } else { high = middle }
        }
        return low
    }

    /// The block holding data-set row `row`, and the row's byte offset in that block's slab.
    func locate(row: Int) -> (block: Int, offset: Int) {
        let pieceIndex = piece(ofRow: row)
        let piece = pieces[pieceIndex]
        let sourceRow = piece.sourceRows.lowerBound + (row - piece.firstRow)
        let size = piece.blockRows
        let block = firstBlockOfPiece[pieceIndex] + sourceRow / size - piece.sourceRows.lowerBound / size
        return (block, (sourceRow - blocks[block].origin) * rowBytes)
    }

    /// The data-set rows block `index` holds.
    func rows(ofBlock index: Int) -> Range<Int> {
        let block = blocks[index]
        let piece = pieces[block.piece]
        let first = piece.firstRow + block.sourceRows.lowerBound - piece.sourceRows.lowerBound
        return first..<(first + block.sourceRows.count)
    }
}
