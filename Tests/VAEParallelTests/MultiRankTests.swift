import Foundation
import XCTest
import VAETestSupport

/// The built `vae-dist` under `mpirun -n N --oversubscribe`, end to end: the collectives
/// give exact results on every rank, and one rank's failure ends every rank, quickly,
/// with that rank's message.
final class MultiRankTests: XCTestCase {
    /// Small and few: the point here is correctness, not timing, on a shared 2-core box.
    let quickTiming = ["--floats", "4096", "--repetitions", "3"]

    func mpiCheck(ranks: Int, _ arguments: [String], environment: [String: String] = [:]) throws -> ProcessResult {
        try runProcess(try mpirunExecutable(),
                       ["-n", "\(ranks)", "--oversubscribe", try vaeDistBinary().path, "mpi-check"] + arguments,
                       environment: childEnvironment(environment))
    }

    func testMPICheckPassesOnOneToFourRanks() throws {
        for ranks in 1 ... 4 {
            let result = try mpiCheck(ranks: ranks, quickTiming)
            XCTAssertEqual(result.status, 0, "n = \(ranks): \(result.standardError)")
            let output = result.standardOutput
            XCTAssertFalse(output.contains("\0"), "n = \(ranks): NUL in the output")
            XCTAssertTrue(output.contains("mpi-check: \(ranks) rank\(ranks == 1 ? "" : "s"), Open MPI"),
                          "n = \(ranks) must run over MPI:\n\(output)")
            for rank in 0 ..< ranks {
                XCTAssertTrue(output.contains("rank \(rank) of \(ranks) on "), "n = \(ranks): no line for rank \(rank)")
            }
            XCTAssertEqual(output.components(separatedBy: "\nok   ").count - 1, 10, "n = \(ranks): checks run:\n\(output)")
            if ranks > 1 {
                XCTAssertTrue(output.contains("shared-memory exchange (1 node x \(ranks) ranks, what training uses by default)"),
                              "n = \(ranks): the exchange is checked and timed:\n\(output)")
            }
            XCTAssertTrue(output.contains("mpi-check: all checks passed"), "n = \(ranks):\n\(output)")
        }
    }

    /// The shared-memory exchange over "nodes" made with VAE_DIST_RANKS_PER_NODE: each node
    /// sums in its own window and the ranges are allreduced across; the check verifies every
    /// reduced value. Nodes of unequal size say the exchange is not available.
    func testMPICheckVerifiesTheSharedMemoryExchangeAcrossNodes() throws {
        for (ranks, perNode, expected) in [(4, 2, "shared-memory exchange (2 nodes x 2 ranks, what training uses by default)"),
                                           (2, 1, "shared-memory exchange (2 nodes x 1 rank, training uses the allreduce"),
                                           (3, 2, "shared-memory exchange: not available")] {
            let result = try mpiCheck(ranks: ranks, quickTiming, environment: ["VAE_DIST_RANKS_PER_NODE": "\(perNode)"])
            XCTAssertEqual(result.status, 0, "n = \(ranks), \(perNode) per node: \(result.standardError)")
            XCTAssertTrue(result.standardOutput.contains(expected), "n = \(ranks), \(perNode) per node:\n\(result.standardOutput)")
            XCTAssertTrue(result.standardOutput.contains("mpi-check: all checks passed"))
        }
    }

    func testFailureOnOneRankEndsEveryRankWithItsMessage() throws {
        let result = try mpiCheck(ranks: 3, ["--fail-on-rank", "1"] + quickTiming)
        XCTAssertEqual(result.status, 1, result.standardError)
        // Every rank stops; rank 0 prints the agreed failure once, for the job, before finalizing.
        let lines = result.errorLines(containing: "vae-dist: error: rank 1: simulated failure")
        XCTAssertEqual(lines.count, 1, result.standardError)
        XCTAssertFalse(result.standardOutput.contains("all checks passed"))
        // The failure path is one allreduce and a broadcast: seconds, not a time-out.
        XCTAssertLessThan(result.seconds, 30)
    }

    func testFailureOnTheLastRankIsReportedToo() throws {
        let result = try mpiCheck(ranks: 2, ["--fail-on-rank", "1"] + quickTiming)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertEqual(result.errorLines(containing: "vae-dist: error: rank 1: simulated failure").count, 1,
                       result.standardError)
    }

    func testUnagreedFailureAbortsEveryRankWithItsMessage() throws {
        // Rank 1 throws alone while the others wait in a barrier: only MPI_Abort ends them.
        let result = try mpiCheck(ranks: 3, ["--fail-on-rank", "1", "--failure-path", "abort"] + quickTiming)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertEqual(result.errorLines(containing: "vae-dist: error: rank 1: simulated failure").count, 1,
                       result.standardError)
        XCTAssertTrue(result.standardError.contains("aborting the job"), result.standardError)
        XCTAssertFalse(result.standardError.contains("did not end the job"), result.standardError)
        XCTAssertLessThan(result.seconds, 30)
    }

    func testFailOnRankOutsideTheJobIsAnErrorOnEveryRank() throws {
        let result = try mpiCheck(ranks: 2, ["--fail-on-rank", "5"] + quickTiming)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertEqual(result.errorLines(containing: "--fail-on-rank 5 is not a rank of this 2-rank job").count, 1,
                       result.standardError)
    }
}
