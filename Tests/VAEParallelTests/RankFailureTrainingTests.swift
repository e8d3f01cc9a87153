import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// A failure on one rank ends every rank with that rank's message, never a hang.
/// mpirun's MPMD form (`A : B`) gives one rank a different --data than the others.
final class RankFailureTrainingTests: XCTestCase {
    private func runMPMD(good: String, bad: String, extra: [String], out: String) throws -> ProcessResult {
        let configuration = smallConfiguration()
        let binary = try vaeDistBinary().path
        let goodRanks = trainArguments(configuration, data: good, out: out) + extra
        let badRank = trainArguments(configuration, data: bad, out: out) + extra
        return try runProcess(
            try mpirunExecutable(),
            ["--oversubscribe", "--bind-to", "none", "-n", "2", binary] + goodRanks + [":", "-n", "1", binary] + badRank,
            environment: childEnvironment(), timeout: 60)
    }

    func testUnreadableDataMidEpochOnOneRankEndsEveryRank() throws {
        let scratch = try makeScratchDirectory(self)
        var features = syntheticFeatures(rows: 37, features: 10, seed: 3)
        try writeDataFile(scratch + "/good.h5", features: features, rows: 37)
        features[30 * 10 + 4] = .nan  // row 30: read by rank 2 somewhere in epoch 1
        try writeDataFile(scratch + "/bad.h5", features: features, rows: 37)

        let result = try runMPMD(good: scratch + "/good.h5", bad: scratch + "/bad.h5",
                                 extra: ["--reading", "streaming"], out: scratch + "/run")
        XCTAssertEqual(result.status, 1, result.standardError)
        let lines = result.errorLines(containing: "rank 2:")
        XCTAssertFalse(lines.isEmpty, "no rank reported rank 2's failure:\n\(result.standardError)")
        XCTAssertTrue(lines.allSatisfy { $0.contains("bad.h5") && $0.contains("NaN") }, "\(lines)")
        XCTAssertLessThan(result.seconds, 30)
        // The failing step never reached the optimizer: no checkpoint claims a finished epoch.
        let files = (try? FileManager.default.contentsOfDirectory(atPath: scratch + "/run")) ?? []
        XCTAssertFalse(files.contains { $0.hasPrefix("checkpoint") }, "\(files)")
    }

    /// The same failure through the other exchanges' failure paths: the overlapped
    /// allreduce's two buckets and the plain allreduce (the test above takes the
    /// shared-memory exchange, the default on one node).
    func testUnreadableDataMidEpochEndsEveryRankOnTheAllreducePaths() throws {
        for exchange in [["--overlap-allreduce"], ["--gradient-exchange", "allreduce"]] {
            let scratch = try makeScratchDirectory(self)
            var features = syntheticFeatures(rows: 37, features: 10, seed: 3)
            try writeDataFile(scratch + "/good.h5", features: features, rows: 37)
            features[30 * 10 + 4] = .nan
            try writeDataFile(scratch + "/bad.h5", features: features, rows: 37)
            let result = try runMPMD(good: scratch + "/good.h5", bad: scratch + "/bad.h5",
                                     extra: ["--reading", "streaming"] + exchange, out: scratch + "/run")
            XCTAssertEqual(result.status, 1, "\(exchange)")
            XCTAssertFalse(result.errorLines(containing: "rank 2:").isEmpty, "\(exchange): \(result.standardError)")
            XCTAssertLessThan(result.seconds, 30, "\(exchange)")
        }
    }

    func testMissingDataOnOneRankEndsEveryRankAtStart() throws {
        let scratch = try makeScratchDirectory(self)
        try writeDataFile(scratch + "/good.h5", features: syntheticFeatures(rows: 37, features: 10, seed: 4), rows: 37)
        let result = try runMPMD(good: scratch + "/good.h5", bad: scratch + "/missing.h5", extra: [], out: scratch + "/run")
        XCTAssertEqual(result.status, 1, result.standardError)
        let lines = result.errorLines(containing: "rank 2:")
        XCTAssertFalse(lines.isEmpty, "no rank reported rank 2's failure:\n\(result.standardError)")
        XCTAssertTrue(lines.allSatisfy { $0.contains("missing.h5") }, "\(lines)")
    }

    func testDivergenceStopsEveryRankAtTheSameStep() throws {
        let scratch = try makeScratchDirectory(self)
        try writeDataFile(scratch + "/data.h5", features: syntheticFeatures(rows: 37, features: 10, seed: 5), rows: 37)
        var configuration = smallConfiguration()
        configuration.learningRate = 1e30  // the first update overflows the parameters
        let result = try runProcess(
            try mpirunExecutable(),
            ["-n", "2", "--oversubscribe", "--bind-to", "none", try vaeDistBinary().path]
                + trainArguments(configuration, data: scratch + "/data.h5", out: scratch + "/run"),
            environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertFalse(result.errorLines(containing: "diverged at step 2").isEmpty, result.standardError)
    }
}
