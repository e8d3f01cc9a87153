/// How an epoch's visiting order of the rows is drawn (`--shuffle`).
public enum ShuffleMode: String, CaseIterable, Codable, Sendable {
    /// A permutation of all rows: every row's neighbours are random. A streaming
    /// reader then decompresses a whole storage block for each row it reads.
    case rows
    /// A permutation of storage blocks, then the rows of each window of consecutive
    /// blocks shuffled together: a reader decompresses each block once per epoch.
    case blocks
}

/// The layout a block shuffle permutes: blocks of `blockRows` consecutive rows (the
/// data's HDF5 chunks), shuffled together `windowBlocks` at a time. Taken from the
/// training data when a run starts and kept in its checkpoints, so a resumed run draws
/// the same orders even if the file was re-chunked since.
public struct BlockShuffle: Codable, Sendable, Equatable {
    /// Rows per block: block j holds rows [j R, (j + 1) R), the last one possibly fewer.
    public var blockRows: Int
    /// Blocks per window: the rows of W consecutive blocks of the permuted sequence are shuffled together.
    public var windowBlocks: Int

    public init(blockRows: Int, windowBlocks: Int) {
        self.blockRows = blockRows
        self.windowBlocks = windowBlocks
    }

    /// Stored bytes a window holds at least (docs/algorithm.md, "Epoch shuffle"): a streaming
    /// reader keeps about two windows decompressed, and 4 MiB mixes thousands of rows.
    public static let windowBytes = 4 << 20

    /// The block shuffle of data stored in blocks of `blockRows` rows of `rowBytes` bytes:
    /// windows of the fewest whole blocks holding `windowBytes`.
    public static func forStorage(blockRows: Int, rowBytes: Int) -> BlockShuffle {
        let blockBytes = max(1, blockRows) * max(1, rowBytes)
        return BlockShuffle(blockRows: max(1, blockRows), windowBlocks: max(1, (windowBytes + blockBytes - 1) / blockBytes))
    }
}

/// The two shuffles as one value: what `EpochSchedule` draws its order from.
public enum EpochOrdering: Sendable, Equatable {
    case rows
    case blocks(BlockShuffle)
}

extension RandomStreams {
    /// The order epoch `epoch` visits `rowCount` rows in.
    public func epochOrder(epoch: Int, rowCount: Int, ordering: EpochOrdering) -> [Int] {
        switch ordering {
        case .rows: return epochOrder(epoch: epoch, rowCount: rowCount)
        case .blocks(let blocks): return blockEpochOrder(epoch: epoch, rowCount: rowCount, shuffle: blocks)
        }
    }

    /// The block shuffle (docs/algorithm.md): blocks sorted by their Philox key
    /// (counter (block, 0, epoch, 5 << 24)), cut into windows of `windowBlocks`
    /// consecutive blocks; each window's rows sorted by their own key (counter
    /// (row, 1, epoch, 5 << 24)); ties by index. A permutation of all rows that depends
    /// on (seed, epoch, rowCount, blockRows, windowBlocks) only.
    public func blockEpochOrder(epoch: Int, rowCount: Int, shuffle: BlockShuffle) -> [Int] {
        precondition(shuffle.blockRows >= 1 && shuffle.windowBlocks >= 1, "a block shuffle needs blocks and windows of at least 1")
        let blockCount = (rowCount + shuffle.blockRows - 1) / shuffle.blockRows
        let blocks = sortedByKey(0..<blockCount, stream: 0, epoch: epoch)
        var order: [Int] = []
        order.reserveCapacity(rowCount)
        var windowRows: [Int] = []
        for windowStart in stride(from: 0, to: blockCount, by: shuffle.windowBlocks) {
            windowRows.removeAll(keepingCapacity: true)
            for block in blocks[windowStart..<min(windowStart + shuffle.windowBlocks, blockCount)] {
                let first = block * shuffle.blockRows
                windowRows.append(contentsOf: first..<min(first + shuffle.blockRows, rowCount))
            }
            order.append(contentsOf: sortedByKey(windowRows, stream: 1, epoch: epoch))
        }
        return order
    }

    /// `indices` sorted by the 64-bit key (x1 << 32) | x0 of counter (index, stream, epoch, 5 << 24), ties by index.
    private func sortedByKey<Indices: Collection<Int>>(_ indices: Indices, stream: UInt32, epoch: Int) -> [Int] {
        let c2 = UInt32(truncatingIfNeeded: epoch)
        let c3 = RandomPurpose.blockShuffle.rawValue << 24
        let philox = Philox4x32(seed: seed)
        var keyed = indices.map { index -> (key: UInt64, index: Int) in
            let words = philox.block(UInt32(truncatingIfNeeded: index), stream, c2, c3)
            return (UInt64(words.1) << 32 | UInt64(words.0), index)
        }
        keyed.sort { $0.key != $1.key ? $0.key < $1.key : $0.index < $1.index }
        return keyed.map(\.index)
    }
}
