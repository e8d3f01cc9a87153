import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// `vae-dist train --resume`: a resumed run is the uninterrupted run, bit for bit.
final class ResumeTests: XCTestCase {
    private var scratch = ""
    private var data = ""

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 7), rows: 37)
    }

    /// Runs the real binary, as one process (`ranks` nil) or under mpirun.
    private func train(_ arguments: [String], ranks: Int? = nil) throws -> ProcessResult {
        let binary = try vaeDistBinary()
        if let ranks {
            let result = try runUnderMPI(ranks: ranks, arguments, timeout: 120)
            if result.status == 0 { assertTrainingBanner(result.standardOutput, ranks: ranks, exchange: .sharedMemory) }
            return result
        }
        return try runProcess(binary, arguments, environment: childEnvironment(), timeout: 60)
    }

    private func arguments(epochs: Int, out: String, extra: [String] = []) -> [String] {
        var configuration = smallConfiguration(epochs: epochs)
        configuration.klWarmupEpochs = 1.5  // the warm-up spans the interruption
        return trainArguments(configuration, data: data, out: out) + extra
    }

    func testTwoEpochsPlusResumedTwoEqualFourStraightInOneProcess() throws {
        try checkResumeIsExact(ranks: nil)
    }

    func testTwoEpochsPlusResumedTwoEqualFourStraightOnTwoRanks() throws {
        try checkResumeIsExact(ranks: 2)
    }

    private func checkResumeIsExact(ranks: Int?, file: StaticString = #filePath, line: UInt = #line) throws {
        let straight = try train(arguments(epochs: 4, out: scratch + "/straight"), ranks: ranks)
        XCTAssertEqual(straight.status, 0, straight.standardError, file: file, line: line)
        let first = try train(arguments(epochs: 2, out: scratch + "/resumed"), ranks: ranks)
        XCTAssertEqual(first.status, 0, first.standardError, file: file, line: line)
        let second = try train(["train", "--data", data, "--out", scratch + "/resumed", "--no-progress",
                                "--resume", "latest", "--epochs", "4"], ranks: ranks)
        XCTAssertEqual(second.status, 0, second.standardError, file: file, line: line)
        XCTAssertTrue(second.standardOutput.contains("resume   from epoch 2"), second.standardOutput, file: file, line: line)

        let a = try finalParameters(scratch + "/straight"), b = try finalParameters(scratch + "/resumed")
        XCTAssertEqual(b.epoch, 4, file: file, line: line)
        XCTAssertEqual(b.step, a.step, file: file, line: line)
        XCTAssertEqual(b.parameters.map(\.bitPattern), a.parameters.map(\.bitPattern), "parameters", file: file, line: line)
        for (name, values) in a.optimizerState {
            XCTAssertEqual(b.optimizerState[name]?.map(\.bitPattern), values.map(\.bitPattern), name, file: file, line: line)
        }
        // metrics.jsonl continues: epochs 1-4 once each, and epochs 3-4 match the straight run's.
        let straightMetrics = try readMetrics(scratch + "/straight"), resumedMetrics = try readMetrics(scratch + "/resumed")
        XCTAssertEqual(resumedMetrics.map(\.epoch), [1, 2, 3, 4], file: file, line: line)
        XCTAssertEqual(resumedMetrics.map(\.trainNegativeELBO), straightMetrics.map(\.trainNegativeELBO), file: file, line: line)
    }

    /// The fast step (--no-reproducible) resumes on another world size up to summation order,
    /// and says so (ReproducibilityTests: the reproducible step keeps the bits).
    func testResumingOnADifferentWorldSizeWorksAndSaysSo() throws {
        let fast = ["--no-reproducible"]
        XCTAssertEqual(try train(arguments(epochs: 4, out: scratch + "/straight") + fast, ranks: 2).status, 0)
        XCTAssertEqual(try train(arguments(epochs: 2, out: scratch + "/resumed") + fast, ranks: 2).status, 0)
        let resumed = try train(["train", "--data", data, "--out", scratch + "/resumed", "--no-progress",
                                 "--resume", "latest", "--epochs", "4"] + fast, ranks: 3)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardOutput.contains("saved by 2 ranks, now 3"), resumed.standardOutput)
        XCTAssertTrue(resumed.standardOutput.contains("summation order"), resumed.standardOutput)
        let a = try finalParameters(scratch + "/straight"), b = try finalParameters(scratch + "/resumed")
        // Summation order only: the tolerance argument of DistributedTrainingTests.
        let worst = zip(a.parameters, b.parameters).map { abs($0 - $1) }.max() ?? .infinity
        XCTAssertLessThanOrEqual(worst, 1e-5)
    }

    func testResumeRefusesOptionsThatContradictTheCheckpoint() throws {
        XCTAssertEqual(try train(arguments(epochs: 2, out: scratch + "/run")).status, 0)
        let result = try train(["train", "--data", data, "--out", scratch + "/run", "--resume", "latest",
                                "--epochs", "4", "--hidden", "7"])
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertEqual(result.errorLines(containing: "vae-dist: error:").count, 1, result.standardError)
        XCTAssertFalse(result.errorLines(containing: "hiddenSizes").isEmpty, result.standardError)
    }

    func testResumeRefusesOtherDataUnlessForced() throws {
        XCTAssertEqual(try train(arguments(epochs: 2, out: scratch + "/run")).status, 0)
        let other = scratch + "/other.h5"
        try writeDataFile(other, features: syntheticFeatures(rows: 37, features: 10, seed: 8), rows: 37)
        let refused = try train(["train", "--data", other, "--out", scratch + "/run", "--resume", "latest", "--epochs", "3"])
        XCTAssertEqual(refused.status, 1, refused.standardError)
        XCTAssertFalse(refused.errorLines(containing: "fingerprint").isEmpty, refused.standardError)
        let forced = try train(["train", "--data", other, "--out", scratch + "/run", "--resume", "latest",
                                "--epochs", "3", "--force", "--no-progress"])
        XCTAssertEqual(forced.status, 0, forced.standardError)
    }

    func testCorruptNewestCheckpointIsRefusedAndNothingIsOverwritten() throws {
        XCTAssertEqual(try train(arguments(epochs: 2, out: scratch + "/run")).status, 0)
        let newest = scratch + "/run/checkpoint-epoch-0002.h5"
        let bytes = try Data(contentsOf: URL(fileURLWithPath: newest))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: newest))  // a crash mid-copy
        let before = try FileManager.default.contentsOfDirectory(atPath: scratch + "/run").sorted()
        let previous = try Data(contentsOf: URL(fileURLWithPath: scratch + "/run/checkpoint-epoch-0001.h5"))

        let result = try train(["train", "--data", data, "--out", scratch + "/run", "--resume", "latest", "--epochs", "4"])
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertFalse(result.errorLines(containing: "checkpoint-epoch-0002.h5").isEmpty, result.standardError)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: scratch + "/run").sorted(), before)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: scratch + "/run/checkpoint-epoch-0001.h5")), previous)
        // The previous checkpoint still resumes.
        let fallback = try train(["train", "--data", data, "--out", scratch + "/run", "--no-progress",
                                  "--resume", scratch + "/run/checkpoint-epoch-0001.h5", "--epochs", "3"])
        XCTAssertEqual(fallback.status, 0, fallback.standardError)
    }
}
