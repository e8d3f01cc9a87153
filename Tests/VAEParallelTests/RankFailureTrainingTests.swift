import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// A failure on one rank ends every rank with that rank's message, never a hang.
/// mpirun's MPMD form (`A : B`) gives two ranks a different --data than the others; they
/// form a node of their own (`VAE_DIST_RANKS_PER_NODE=2`), as a node whose local copy of
/// the data is damaged would (the ranks of a node read the data together).
final class RankFailureTrainingTests: XCTestCase {
    private func runMPMD(good: String, bad: String, extra: [String], out: String,
                         environment: [String: String] = [:]) throws -> ProcessResult {
        let configuration = smallConfiguration()
        let binary = try vaeDistBinary().path
        let goodRanks = trainArguments(configuration, data: good, out: out) + extra
        let badRanks = trainArguments(configuration, data: bad, out: out) + extra
        return try runProcess(
            try mpirunExecutable(),
            ["--oversubscribe", "--bind-to", "none", "-n", "2", binary] + goodRanks + [":", "-n", "2", binary] + badRanks,
            environment: childEnvironment(["VAE_DIST_RANKS_PER_NODE": "2"].merging(environment) { $1 }), timeout: 60)
    }

    /// A copy of `good` with a NaN at row 30 (read by rank 2 somewhere in epoch 1) that
    /// claims good's fingerprint, as a file damaged after it was written would: the ranks'
    /// check of their data before step 1 passes, and the damage is found where it is read.
    private func writeDamagedCopy(of features: [Float], good: String, bad: String) throws {
        var damaged = features
        damaged[30 * 10 + 4] = .nan
        try writeDataFile(bad, features: damaged, rows: 37)
        let fingerprint = try DataFile.open(good).computeFingerprint()
        for path in [good, bad] {
            let file = try HDF5File.open(path, writable: true)
            try file.root().setAttribute("fingerprint", fingerprint)
            try file.close()
        }
    }

    func testUnreadableDataMidEpochOnOneRankEndsEveryRank() throws {
        let scratch = try makeScratchDirectory(self)
        let features = syntheticFeatures(rows: 37, features: 10, seed: 3)
        try writeDataFile(scratch + "/good.h5", features: features, rows: 37)
        try writeDamagedCopy(of: features, good: scratch + "/good.h5", bad: scratch + "/bad.h5")

        let result = try runMPMD(good: scratch + "/good.h5", bad: scratch + "/bad.h5",
                                 extra: ["--reading", "streaming"], out: scratch + "/run")
        XCTAssertEqual(result.status, 1, result.standardError)
        let lines = result.errorLines(containing: "vae-dist: error:")
        XCTAssertFalse(lines.isEmpty, "no rank reported the damaged node's failure:\n\(result.standardError)")
        // Whichever rank of the damaged node read the bad block first (the lowest, if both at once).
        XCTAssertTrue(lines.allSatisfy { ($0.contains("rank 2:") || $0.contains("rank 3:")) && $0.contains("bad.h5") && $0.contains("NaN") },
                      "\(lines)")
        XCTAssertLessThan(result.seconds, 30)
        // The failing step never reached the optimizer: no checkpoint claims a finished epoch.
        let files = (try? FileManager.default.contentsOfDirectory(atPath: scratch + "/run")) ?? []
        XCTAssertFalse(files.contains { $0.hasPrefix("checkpoint") }, "\(files)")
    }

    /// The same failure through the other exchanges' failure paths: the overlapped
    /// allreduce's two buckets and the plain allreduce (the test above takes the
    /// shared-memory exchange, the default with nodes of equal size).
    func testUnreadableDataMidEpochEndsEveryRankOnTheAllreducePaths() throws {
        for exchange in [["--no-reproducible", "--overlap-allreduce"], ["--no-reproducible", "--gradient-exchange", "allreduce"]] {
            let scratch = try makeScratchDirectory(self)
            let features = syntheticFeatures(rows: 37, features: 10, seed: 3)
            try writeDataFile(scratch + "/good.h5", features: features, rows: 37)
            try writeDamagedCopy(of: features, good: scratch + "/good.h5", bad: scratch + "/bad.h5")
            let result = try runMPMD(good: scratch + "/good.h5", bad: scratch + "/bad.h5",
                                     extra: ["--reading", "streaming"] + exchange, out: scratch + "/run")
            XCTAssertEqual(result.status, 1, "\(exchange)")
            let lines = result.errorLines(containing: "vae-dist: error:")
            XCTAssertFalse(lines.isEmpty, "\(exchange): \(result.standardError)")
            XCTAssertTrue(lines.allSatisfy { $0.contains("rank 2:") || $0.contains("rank 3:") }, "\(exchange): \(lines)")
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

    /// The reproducible step agrees on a failure at its first exchange (the active units'
    /// flags, or the rows' header): a rank that cannot read its rows mid-epoch ends every
    /// rank with its message, on both exchanges; a divergence stops every rank at one step
    /// naming the tensor (the sums of squares gathered from the owners).
    func testFailuresEndEveryRankInTheReproducibleStep() throws {
        let auto = ["VAE_DIST_BLAS_CORETYPE": "auto"]
        for exchange in [["--gradient-exchange", "shared-memory"], ["--gradient-exchange", "allreduce"]] {
            let scratch = try makeScratchDirectory(self)
            let features = syntheticFeatures(rows: 37, features: 10, seed: 3)
            try writeDataFile(scratch + "/good.h5", features: features, rows: 37)
            try writeDamagedCopy(of: features, good: scratch + "/good.h5", bad: scratch + "/bad.h5")
            let result = try runMPMD(good: scratch + "/good.h5", bad: scratch + "/bad.h5",
                                     extra: ["--reading", "streaming"] + exchange, out: scratch + "/run", environment: auto)
            XCTAssertEqual(result.status, 1, "\(exchange): \(result.standardError)")
            let lines = result.errorLines(containing: "vae-dist: error:")
            XCTAssertFalse(lines.isEmpty, "\(exchange): \(result.standardError)")
            XCTAssertTrue(lines.allSatisfy { ($0.contains("rank 2:") || $0.contains("rank 3:")) && $0.contains("bad.h5")
                                             && $0.contains("NaN") }, "\(lines)")
            XCTAssertLessThan(result.seconds, 30, "\(exchange)")
        }
        let scratch = try makeScratchDirectory(self)
        try writeDataFile(scratch + "/data.h5", features: syntheticFeatures(rows: 37, features: 10, seed: 5), rows: 37)
        var configuration = smallConfiguration()
        configuration.learningRate = 1e30
        let result = try runProcess(
            try mpirunExecutable(),
            ["-n", "3", "--oversubscribe", "--bind-to", "none", try vaeDistBinary().path]
                + trainArguments(configuration, data: scratch + "/data.h5", out: scratch + "/run"),
            environment: childEnvironment(auto), timeout: 60)
        XCTAssertEqual(result.status, 1, result.standardError)
        // An agreed error is printed once, by rank 0.
        let lines = result.errorLines(containing: "diverged at step 2")
        XCTAssertEqual(lines.count, 1, result.standardError)
        XCTAssertTrue(lines.allSatisfy { $0.contains("first non-finite gradient in encoder.") }, result.standardError)
    }
}
