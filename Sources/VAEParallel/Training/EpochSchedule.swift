import VAECore
import VAEIO

/// Which rows each step of an epoch trains on, globally and on each rank (docs/algorithm.md, "Sampler").
///
/// A pure function of (seed, epoch, ordering): each step's global batch is a run of the
/// epoch's order and the ranks take contiguous shares of it, so the global order never
/// depends on the rank count and n ranks compute the one-rank math.
public struct EpochSchedule: Sendable {
    public let epoch: Int
    /// The epoch's visiting order of the data rows.
    public let order: [Int]
    public let globalBatch: Int
    public let stepCount: Int

    public init(epoch: Int, rowCount: Int, globalBatch: Int, lastBatch: LastBatchPolicy, streams: RandomStreams,
                ordering: EpochOrdering) {
        precondition(globalBatch >= 1, "global batch must be at least 1")
        self.epoch = epoch
        self.globalBatch = globalBatch
        order = streams.epochOrder(epoch: epoch, rowCount: rowCount, ordering: ordering)
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

    /// What a source shared by the ranks `nodeRanks` of one node reads from step
    /// `firstStep` on: this rank's rows, and every step's rows of all those ranks.
    public func readingPlan(rank: Int, nodeRanks: [Int], size: Int, from firstStep: Int = 0) -> ReadingPlan {
        let steps = firstStep..<stepCount
        let own = steps.map { Array(rows(step: $0, rank: rank, size: size)) }
        guard nodeRanks != [rank] else { return ReadingPlan(rows: own) }
        let node = steps.map { step in nodeRanks.flatMap { rows(step: step, rank: $0, size: size) } }
        return ReadingPlan(rows: own, nodeRows: node)
    }
}
