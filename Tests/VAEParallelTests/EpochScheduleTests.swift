import XCTest
import VAECore
import VAEIO
@testable import VAEParallel

/// The schedule's global order never depends on the rank count: each step's global batch
/// is a run of the epoch's order, and ranks take contiguous shares of it.
final class EpochScheduleTests: XCTestCase {
    func schedule(_ ordering: EpochOrdering, epoch: Int = 1, rows: Int = 1000, batch: Int = 96) -> EpochSchedule {
        EpochSchedule(epoch: epoch, rowCount: rows, globalBatch: batch, lastBatch: .partial,
                      streams: RandomStreams(seed: 42), ordering: ordering)
    }

    func testTheGlobalOrderIsTheSameForOneTwoAndThreeRanks() {
        for ordering in [EpochOrdering.rows, .blocks(BlockShuffle(blockRows: 83, windowBlocks: 4))] {
            let epoch = schedule(ordering)
            let oneRank = epoch.plan(rank: 0, size: 1)
            XCTAssertEqual(oneRank.flatMap { $0 }, epoch.order)
            XCTAssertEqual(epoch.order.sorted(), Array(0..<1000))
            for size in [2, 3] {
                let plans = (0..<size).map { epoch.plan(rank: $0, size: size) }
                for step in 0..<epoch.stepCount {
                    XCTAssertEqual(plans.flatMap { $0[step] }, oneRank[step], "step \(step) on \(size) ranks")
                }
                // A node of all ranks reads each step's global batch; each rank its own share of it.
                let reading = epoch.readingPlan(rank: 1, nodeRanks: Array(0..<size), size: size, from: 2)
                XCTAssertEqual(reading.nodeRows, Array(oneRank.dropFirst(2)))
                XCTAssertEqual(reading.rows, Array(plans[1].dropFirst(2)))
            }
        }
    }
}
