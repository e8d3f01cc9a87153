import VAEParallel
import XCTest
import VAETestSupport

/// MPI can be initialised once and finalised once per process; the communicator says so
/// instead of crashing. This test starts MPI in the test process itself (a 1-rank
/// singleton) and finalises it for good, so no other in-process test may use MPI:
/// multi-rank behaviour is tested in subprocesses (MultiRankTests).
final class MPILifecycleTests: XCTestCase {
    func testMPIStartsOnceAndFinalizesOnce() throws {
        let communicator = try MPICommunicator()
        XCTAssertEqual(communicator.rank, 0)
        XCTAssertEqual(communicator.size, 1)
        XCTAssertTrue(communicator.backendDescription.hasPrefix("Open MPI"), communicator.backendDescription)
        XCTAssertFalse(communicator.backendDescription.contains("\0"), "MPI's terminating NUL leaked into the text")
        XCTAssertEqual(try communicator.allreduce(Int64(5), .sum), 5)

        XCTAssertThrowsError(try MPICommunicator()) { error in
            XCTAssertTrue("\(error)".contains("already initialized"), "\(error)")
        }
        try communicator.finalize()
        try communicator.finalize()  // the second call does nothing
        XCTAssertThrowsError(try MPICommunicator()) { error in
            XCTAssertTrue("\(error)".contains("already finalized"), "\(error)")
        }
    }
}
