import Foundation
import VAEParallel
import XCTest
import VAETestSupport

/// One process is rank 0 of 1 and every collective is the identity, so the trainer's
/// single code path computes exactly the serial algorithm.
final class SingleProcessCommunicatorTests: XCTestCase {
    let communicator = SingleProcessCommunicator()

    func testIsRankZeroOfOne() {
        XCTAssertEqual(communicator.rank, 0)
        XCTAssertEqual(communicator.size, 1)
        XCTAssertTrue(communicator.isRoot)
    }

    func testEveryReductionLeavesEveryElementTypeUnchanged() throws {
        for reduction in Reduction.allCases {
            var floats: [Float] = [1.5, -2, .greatestFiniteMagnitude]
            var doubles: [Double] = [0.1, -3e300]
            var integers: [Int64] = [.min, 7, .max]
            try floats.withUnsafeMutableBufferPointer { try communicator.allreduce($0, reduction) }
            try doubles.withUnsafeMutableBufferPointer { try communicator.allreduce($0, reduction) }
            try integers.withUnsafeMutableBufferPointer { try communicator.allreduce($0, reduction) }
            XCTAssertEqual(floats, [1.5, -2, .greatestFiniteMagnitude])
            XCTAssertEqual(doubles, [0.1, -3e300])
            XCTAssertEqual(integers, [.min, 7, .max])
            XCTAssertEqual(try communicator.allreduce(Int64(-42), reduction), -42)
        }
    }

    func testBroadcastReturnsTheRootsValue() throws {
        XCTAssertEqual(try communicator.broadcast("grüße ✓", from: 0), "grüße ✓")
        XCTAssertEqual(try communicator.broadcast(Data([0, 255, 7]), from: 0), Data([0, 255, 7]))
        var floats: [Float] = [3, 4]
        try floats.withUnsafeMutableBufferPointer { try communicator.broadcast($0, from: 0) }
        XCTAssertEqual(floats, [3, 4])
    }

    func testGatherRowsReturnsTheLocalRowsAsRankZeros() throws {
        let rows: [Float] = [1, 2, 3, 4, 5, 6]  // [2, 3]
        let gathered = try rows.withUnsafeBufferPointer { try communicator.gatherRows($0, width: 3, to: 0) }
        XCTAssertEqual(gathered, GatheredRows(values: rows, width: 3, rowsPerRank: [2]))
        XCTAssertEqual(gathered?.rowCount, 2)
    }

    func testGatherOfNothingIsEmpty() throws {
        let gathered = try [UInt8]().withUnsafeBufferPointer { try communicator.gatherv($0, to: 0) }
        XCTAssertEqual(gathered, Gathered(values: [], counts: [0]))
    }

    func testFinalizeTwiceIsHarmless() throws {
        try communicator.barrier()
        try communicator.finalize()
        try communicator.finalize()
    }

    func testEveryMPICheckPassesOnOneProcess() throws {
        for check in CollectiveCheck.all {
            XCTAssertNoThrow(try check.verify(on: communicator), check.name)
        }
    }

    func testTimingChecksResultsAndReportsEveryRepetition() throws {
        let timing = try AllreduceTiming.measure(on: communicator, floatCount: 1000, repetitions: 5)
        XCTAssertEqual(timing.seconds.count, 5)
        XCTAssertEqual(timing.bytes, 4000)
        XCTAssertEqual(timing.busBandwidth, 0, "one rank moves nothing")
        XCTAssertLessThanOrEqual(timing.fastest, timing.median)
        XCTAssertLessThanOrEqual(timing.median, timing.slowest)
    }
}
