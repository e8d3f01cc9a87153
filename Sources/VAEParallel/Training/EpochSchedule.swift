import VAECore

/// Which rows each step of an epoch trains on, globally and on each rank (docs/algorithm.md, "Sampler").
///
/// A pure function of (seed, epoch): which rank holds a row never changes its noise, so n
/// ranks compute the one-rank math.
public struct EpochSchedule: Sendable {
    public let epoch: Int
    /// The epoch's visiting order of the data rows.
    public let order: [Int]
    public let globalBatch: Int
    public let stepCount: Int

    public init(epoch: Int, rowCount: Int, globalBatch: Int, lastBatch: LastBatchPolicy, streams: RandomStreams) {
        precondition(globalBatch >= 1, "global batch must be at least 1")
        self.epoch = epoch
        self.globalBatch = globalBatch
        order = streams.epochOrder(epoch: epoch, rowCount: rowCount)
        stepCount = Self.stepsPerEpoch(rowCount: rowCount, globalBatch: globalBatch, lastBatch: lastBatch)
    }

    /// Steps of an epoch (free of overflow for any batch, `--batch 9223372036854775807` included).
    public static func stepsPerEpoch(rowCount: Int, globalBatch: Int, lastBatch: LastBatchPolicy) -> Int {
        switch lastBatch {
        case .partial: return rowCount / globalBatch + (rowCount % globalBatch == 0 ? 0 : 1)
        case .drop: return rowCount / globalBatch
        }
    }

    /// The most rows one global step holds: the batch, or every row when the batch is
    /// larger than the data. Buffers are sized by this, never by the batch a user asked for.
    public static func largestStep(rowCount: Int, globalBatch: Int) -> Int {
        max(1, min(globalBatch, rowCount))
    }

    /// The data rows of global step `step`, in batch order.
    public func globalRows(step: Int) -> ArraySlice<Int> {
        let start = step * Self.largestStep(rowCount: order.count, globalBatch: globalBatch)
        return order[start..<(order.count - start <= globalBatch ? order.count : start + globalBatch)]
    }

    /// Batch positions [floor(r b / n), floor((r+1) b / n)) of a batch of `batchSize` rows.
    public static func rankRange(batchSize: Int, rank: Int, size: Int) -> Range<Int> {
        (rank * batchSize / size)..<((rank + 1) * batchSize / size)
    }

    /// Rank `rank`'s rows of global step `step`.
    public func rows(step: Int, rank: Int, size: Int) -> ArraySlice<Int> {
        let batch = globalRows(step: step)
        let range = Self.rankRange(batchSize: batch.count, rank: rank, size: size)
        return batch[batch.startIndex + range.lowerBound..<batch.startIndex + range.upperBound]
    }

    /// Every step's rows for one rank: what the minibatch source reads ahead.
    public func plan(rank: Int, size: Int) -> [[Int]] {
        (0..<stepCount).map { Array(rows(step: $0, rank: rank, size: size)) }
    }
}
