import Foundation
import VAEParallel
import XCTest
import VAETestSupport

/// The agreement protocol on one rank: it must let success through untouched and turn
/// any local failure into a `RankFailure` naming the rank. (Several ranks: MultiRankTests.)
final class ErrorAgreementTests: XCTestCase {
    let communicator = SingleProcessCommunicator()

    func testAgreementWithoutFailureReturns() throws {
        try communicator.agreeOnFailure(nil as String?)
        try communicator.agreeOnFailure(nil as (any Error)?)
    }

    func testLocalFailureBecomesRankFailureWithItsMessage() {
        XCTAssertThrowsError(try communicator.agreeOnFailure("cannot read data.h5: no such file")) { error in
            XCTAssertEqual(error as? RankFailure,
                           RankFailure(rank: 0, message: "cannot read data.h5: no such file", failingRankCount: 1))
            XCTAssertEqual("\(error)", "rank 0: cannot read data.h5: no such file")
        }
    }

    func testCaughtErrorIsAgreedWithItsDescription() {
        XCTAssertThrowsError(try communicator.agreeOnFailure(CommunicatorError("disk full") as any Error)) { error in
            XCTAssertEqual((error as? RankFailure)?.message, "disk full")
        }
    }

    func testDescriptionCountsTheOtherFailingRanks() {
        XCTAssertEqual(RankFailure(rank: 2, message: "NaN loss", failingRankCount: 4).description,
                       "rank 2: NaN loss (and 3 other ranks failed too)")
        XCTAssertEqual(RankFailure(rank: 2, message: "NaN loss", failingRankCount: 2).description,
                       "rank 2: NaN loss (and 1 other rank failed too)")
    }

    func testHealthyFusedStepKeepsTheSumAndClearsTheStatus() throws {
        var buffer: [Float] = [0.5, -1, 2, 99]  // 3 gradients + status slot
        try buffer.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0, reportingFailure: nil) }
        XCTAssertEqual(buffer, [0.5, -1, 2, 0])
    }

    func testFailingFusedStepThrowsAndContributesZeros() {
        var buffer: [Float] = [0.5, -1, 2, 0]
        XCTAssertThrowsError(try buffer.withUnsafeMutableBufferPointer {
            try communicator.allreduceSum($0, reportingFailure: "NaN in the loss at step 12")
        }) { error in
            XCTAssertEqual("\(error)", "rank 0: NaN in the loss at step 12")
        }
        XCTAssertEqual(buffer, [0, 0, 0, 1])
    }

    func testStatusWithoutAnyFailingRankIsReportedAsInconsistent() {
        XCTAssertThrowsError(try communicator.resolveFailure(localFailure: nil, reducedStatus: .nan)) { error in
            XCTAssertTrue(error is InconsistentFailureStatus, "\(error)")
        }
    }
}
