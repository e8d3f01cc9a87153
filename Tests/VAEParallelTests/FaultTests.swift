import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// Faults a cluster job meets, each with the real binary: a rank killed outright, the
/// process killed while it writes a checkpoint, a full disk at checkpoint time, and
/// non-finite losses. Nothing that was saved is lost, and the run can always continue.
final class FaultTests: XCTestCase {
    private var scratch = ""
    private var data = ""

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 31), rows: 37)
    }

    private func arguments(out: String, epochs: Int, hidden: [Int] = [48], extra: [String] = []) -> [String] {
        var configuration = smallConfiguration(epochs: epochs)
        configuration.architecture.hiddenSizes = hidden
        return trainArguments(configuration, data: data, out: out) + extra
    }

    // MARK: A rank killed

    func testRankKilledMidEpochEndsTheJobAndARestartContinuesFromTheLastCheckpoint() throws {
        let out = scratch + "/run"
        let job = try ChildProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, arguments(out: out, epochs: 100)),
                                        environment: childEnvironment())
        XCTAssertTrue(job.waitFor(timeout: 60) { metricsLineCount(out) >= 2 }, job.standardError)
        let ranks = job.childProcessIDs(named: "vae-dist")
        XCTAssertEqual(ranks.count, 2, "mpirun's children: \(ranks)")
        kill(try XCTUnwrap(ranks.last), SIGKILL)
        let killed = job.finish(timeout: 20)
        XCTAssertEqual(killed.status, 137, "mpirun's status for a rank killed by SIGKILL, 128 + 9: \(killed.standardError)")
        XCTAssertLessThan(killed.seconds, 20)

        let saved = try Checkpoint.read(try CheckpointLocation.resolve(out).path)
        XCTAssertLessThan(saved.epoch, 100)
        let restarted = try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, [
            "train", "--data", data, "--out", out, "--no-progress", "--resume", "latest", "--epochs", "100"]),
                                       environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(restarted.status, 0, restarted.standardError)
        assertTrainingBanner(restarted.standardOutput, ranks: 2, exchange: .sharedMemory)
        XCTAssertTrue(restarted.standardOutput.contains("resume   from epoch \(saved.epoch)"), restarted.standardOutput)
        let straight = try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, arguments(out: scratch + "/straight", epochs: 100)),
                                      environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(straight.status, 0, straight.standardError)
        assertTrainingBanner(straight.standardOutput, ranks: 2, exchange: .sharedMemory)
        XCTAssertEqual(try finalParameters(out).parameters.map(\.bitPattern),
                       try finalParameters(scratch + "/straight").parameters.map(\.bitPattern))
        XCTAssertEqual(try readMetrics(out).map(\.epoch), Array(1...100))
    }

    // MARK: Killed while writing a checkpoint

    /// A model large enough (3 x 9 MB of state) that its checkpoint write is caught in the act.
    func testKillDuringCheckpointWriteLeavesThePreviousCheckpointAndTheTemporaryFileIsNeverUsed() throws {
        let out = scratch + "/run"
        let job = try ChildProcess(try vaeDistBinary(), arguments(out: out, epochs: 3, hidden: [1500]),
                                        environment: childEnvironment())
        let caught = job.waitFor(timeout: 60, interval: 0.001) {
            fileNames(out).contains { $0.hasPrefix(".checkpoint-epoch-0002.h5.tmp-") }
        }
        job.signal(SIGKILL)
        _ = job.finish(timeout: 10, expectSignal: SIGKILL)
        XCTAssertTrue(caught, "never saw the temporary file of the second checkpoint: \(fileNames(out))")
        XCTAssertEqual(fileNames(out).filter { !$0.hasPrefix(".") }, ["checkpoint-epoch-0001.h5", "config.json", "metrics.jsonl"])

        // The previous checkpoint is whole, and "latest" means it, not the temporary file.
        XCTAssertEqual(try Checkpoint.read(out + "/checkpoint-epoch-0001.h5").epoch, 1)
        XCTAssertEqual(try CheckpointLocation.resolve(out).path, out + "/checkpoint-epoch-0001.h5")
        let resumed = try runProcess(try vaeDistBinary(), ["train", "--data", data, "--out", out, "--no-progress",
                                                           "--resume", "latest", "--epochs", "2"],
                                     environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardOutput.contains("removed  .checkpoint-epoch-0002.h5.tmp-"), resumed.standardOutput)
        XCTAssertEqual(fileNames(out), [".vae-dist.lock", "checkpoint-epoch-0001.h5", "checkpoint-epoch-0002.h5", "config.json", "metrics.jsonl"])
        XCTAssertEqual(try readMetrics(out).map(\.epoch), [1, 2])
    }

    // MARK: Disk full

    /// A 1 MiB tmpfs filled to a few pages: the run gets through setup and an epoch, then its
    /// checkpoint does not fit. Needs permission to mount (root in most containers).
    func testDiskFullAtCheckpointTimeIsAClearErrorAndThePreviousCheckpointSurvives() throws {
        let disk = scratch + "/disk"
        try FileManager.default.createDirectory(atPath: disk, withIntermediateDirectories: true)
        let mount = try runProcess(URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=1M", "tmpfs", disk],
                                   environment: childEnvironment(), timeout: 10)
        guard mount.status == 0 else {
            throw XCTSkip("cannot mount a tmpfs here to fill a disk (\(mount.standardError.trimmingCharacters(in: .whitespacesAndNewlines)))")
        }
        defer { _ = try? runProcess(URL(fileURLWithPath: "/bin/umount"), [disk], environment: childEnvironment(), timeout: 10) }
        let out = disk + "/run"
        let options = arguments(out: out, epochs: 2, hidden: [200])
        XCTAssertEqual(try runProcess(try vaeDistBinary(), options, environment: childEnvironment(), timeout: 60).status, 0)
        let checkpointSize = try XCTUnwrap(FileManager.default.attributesOfItem(atPath: out + "/checkpoint-epoch-0002.h5")[.size] as? Int)
        let previous = snapshot(out)

        // Leave room for config.json and a metrics line, not for a checkpoint.
        var stats = statvfs()
        XCTAssertEqual(statvfs(disk, &stats), 0)
        let free = Int(stats.f_bavail) * Int(stats.f_frsize)
        XCTAssertGreaterThan(free, checkpointSize, "the tmpfs should hold one more checkpoint before it is filled")
        try Data(count: free - 12 * 1024).write(to: URL(fileURLWithPath: disk + "/filler"))

        let resume = ["train", "--data", data, "--out", out, "--no-progress", "--resume", "latest", "--epochs", "4"]
        let full = try runProcess(try vaeDistBinary(), resume, environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(full.status, 1, full.standardError)
        let errors = full.errorLines(containing: "vae-dist: error:")
        XCTAssertEqual(errors.count, 1, full.standardError)
        XCTAssertTrue(errors.allSatisfy { $0.contains("cannot write checkpoint") && $0.contains("checkpoint-epoch-0003.h5")
                                          && $0.contains("No space left on device") }, "\(errors)")
        // The saved state is as it was; the failed epoch left only its metrics line, and no temporary file.
        let after = snapshot(out)
        for name in ["checkpoint-epoch-0001.h5", "checkpoint-epoch-0002.h5"] { XCTAssertEqual(after[name], previous[name], name) }
        XCTAssertEqual(Set(after.keys), Set(previous.keys))
        XCTAssertEqual(try readMetrics(out).map(\.epoch), [1, 2, 3])
        XCTAssertEqual(try Checkpoint.read(out + "/checkpoint-epoch-0002.h5").epoch, 2)

        // Space freed: the run continues from epoch 2 (dropping epoch 3's orphaned line).
        try FileManager.default.removeItem(atPath: disk + "/filler")
        let resumed = try runProcess(try vaeDistBinary(), resume, environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertEqual(try readMetrics(out).map(\.epoch), [1, 2, 3, 4])
        XCTAssertEqual(try finalParameters(out).epoch, 4)
    }

    // MARK: Non-finite loss or gradient

    /// Gaussian data whose row 20 holds 3e38: its squared error overflows float32.
    private func writeOverflowingData(_ path: String) throws {
        var features = syntheticFeatures(rows: 37, features: 10, seed: 31)
        features[20 * 10 + 3] = 3e38
        try writeDataFile(path, features: features, rows: 37)
    }

    func testNonFiniteLossStopsNamingTheStepAndLayerAndKeepsTheLastGoodCheckpoint() throws {
        let out = scratch + "/run"
        let good = arguments(out: out, epochs: 2, extra: ["--likelihood", "gaussian"])
        XCTAssertEqual(try runProcess(try vaeDistBinary(), good, environment: childEnvironment(), timeout: 60).status, 0)
        let before = snapshot(out)
        let bad = scratch + "/bad.h5"
        try writeOverflowingData(bad)
        let result = try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, [
            "train", "--data", bad, "--force", "--out", out, "--no-progress", "--resume", "latest", "--epochs", "4"]),
                                    environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(result.status, 1, result.standardError)
        let lines = result.errorLines(containing: "vae-dist: error: training diverged at step ")
        XCTAssertFalse(lines.isEmpty, result.standardError)
        XCTAssertTrue(lines.allSatisfy { $0.contains("(epoch 3, step ") && $0.contains("the loss is inf")
                                         && $0.range(of: "first non-finite gradient in (en|de)coder\\.[a-z0-9_]+\\.(weight|bias)", options: .regularExpression) != nil }, "\(lines)")
        XCTAssertEqual(Set(lines).count, 1, "every rank stops at the same step: \(lines)")
        let after = snapshot(out)
        for name in before.keys where name.hasPrefix("checkpoint") { XCTAssertEqual(after[name], before[name], name) }
        XCTAssertEqual(try CheckpointLocation.resolve(out).path, out + "/checkpoint-epoch-0002.h5")
    }

    func testOnNonfiniteSkipSkipsTheSameStepOnEveryRankAndCountsIt() throws {
        let bad = scratch + "/bad.h5"
        try writeOverflowingData(bad)
        let out = scratch + "/run"
        var configuration = smallConfiguration(epochs: 3)
        configuration.architecture.hiddenSizes = [48]
        let result = try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2,
            trainArguments(configuration, data: bad, out: out) + ["--likelihood", "gaussian", "--on-nonfinite", "skip"]),
                                    environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(result.status, 0, result.standardError)
        let metrics = try readMetrics(out)
        // Row 20 is in exactly one step of every epoch; the other 32 rows train.
        XCTAssertEqual(metrics.map(\.skippedSteps), [1, 1, 1])
        XCTAssertTrue(metrics.allSatisfy { $0.trainNegativeELBO.isFinite })
        XCTAssertEqual(try finalParameters(out).step, 3 * 5 - 3)
        XCTAssertTrue(result.standardOutput.contains("1 non-finite step skipped"), result.standardOutput)
    }

    func testFinitenessCheckFindsEveryNonFiniteValueAndNoFiniteOne() {
        for count in [0, 1, 15, 16, 17, 100] {
            // 3e38 squared overflows a float; the sum of squares is kept in double, where it must not.
            var values = [Float](repeating: 3e38, count: count)
            XCTAssertTrue(values.withUnsafeBufferPointer { GradientClipping.sumOfSquares($0.baseAddress!, count: count).isFinite })
            for position in [0, count / 2, count - 1] where count > 0 {
                for bad in [Float.nan, .infinity, -.infinity] {
                    values[position] = bad
                    XCTAssertFalse(values.withUnsafeBufferPointer { GradientClipping.sumOfSquares($0.baseAddress!, count: count).isFinite },
                                   "\(bad) at \(position) of \(count)")
                    values[position] = -3e38
                }
            }
        }
    }
}
