import Foundation
import XCTest
import VAETestSupport

/// `vae-dist` started without a launcher needs no mpirun and runs as rank 0 of 1.
final class PlainProcessTests: XCTestCase {
    func testMPICheckWithoutMpirunUsesTheSingleProcessCommunicator() throws {
        let result = try runProcess(try vaeDistBinary(), ["mpi-check", "--floats", "1000", "--repetitions", "2"],
                                    environment: childEnvironment())
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.hasPrefix("mpi-check: 1 rank, single process (no MPI)\n"),
                      result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("mpi-check: all checks passed"))
    }

    func testSimulatedFailureOnTheOnlyRankExitsNonZero() throws {
        let result = try runProcess(try vaeDistBinary(), ["mpi-check", "--fail-on-rank", "0", "--floats", "10"],
                                    environment: childEnvironment())
        XCTAssertEqual(result.status, 1)
        XCTAssertEqual(result.errorLines(containing: "vae-dist: error: rank 0: simulated failure").count, 1,
                       result.standardError)
    }

    func testLauncherWhoseRanksMPICannotSeeIsAnError() throws {
        // srun without an MPI plugin: each task would otherwise train alone as rank 0 of 1.
        let result = try runProcess(try vaeDistBinary(), ["mpi-check"],
                                    environment: childEnvironment(["SLURM_PROCID": "0", "SLURM_STEP_NUM_TASKS": "3"]))
        XCTAssertEqual(result.status, 1)
        XCTAssertTrue(result.standardError.contains("Slurm srun started 3 tasks but MPI sees 1 rank(s)"),
                      result.standardError)
    }

    func testCommandLineErrorIsOneLine() throws {
        let result = try runProcess(try vaeDistBinary(), ["mpi-check", "--repetitions", "0"],
                                    environment: childEnvironment())
        assertUsageError(result, message: [])
        XCTAssertEqual(result.standardError, "vae-dist: error: --repetitions must be 1...1000000, got 0\n")
    }
}
