import Foundation
import XCTest
import VAETestSupport
import VAEIO

/// Class 3: a run directory belongs to one run. A second `train` into it, or a second
/// `--resume latest` of it (a Slurm requeue while the old job still finishes), is refused
/// while the first holds the lock; a crash leaves no stale lock; and a new run refuses a
/// directory holding another run's checkpoints.
final class RunDirectoryTests: FaultCase {
    private func train(_ out: String, _ extra: [String] = []) -> [String] {
        ["train", "--data", run.dataPath, "--out", out, "--no-progress", "--hidden", "6", "--latent", "2", "--batch", "8"] + extra
    }

    /// A run in `out` that holds its lock, stopped (SIGSTOP) so that it writes nothing meanwhile.
    private func stoppedRun(in out: String) throws -> ChildProcess {
        let first = try ChildProcess(try vaeDistBinary(), train(out, ["--epochs", "100000"]))
        XCTAssertTrue(first.waitFor(timeout: 60) { fileNames(out).contains { $0.hasPrefix("checkpoint-epoch-") } },
                      first.standardError)
        first.signal(SIGSTOP)
        Thread.sleep(forTimeInterval: 0.2)  // a write in flight lands before the snapshot
        return first
    }

    func testASecondRunOrResumeOfALockedDirectoryIsRefused() throws {
        let out = scratch + "/locked"
        let first = try stoppedRun(in: out)
        let inUse = ["--out \(out) is in use by another vae-dist train", "wait for that run to end, or choose another --out"]
        try assertRefused(train(out, ["--resume", "latest", "--epochs", "100000"]), message: inUse)
        try assertRefused(train(out, ["--resume", "latest", "--epochs", "100000"]), ranks: 2, message: inUse)
        try assertRefused(train(out, ["--epochs", "2"]), message: ["--out \(out) already holds a run"])
        first.signal(SIGCONT)
        first.signal(SIGTERM)
        let stopped = first.finish(timeout: 60)
        XCTAssertEqual(stopped.status, 75, stopped.transcript)
        // The lock ended with its process: the run continues.
        assertSucceeded(try runVAEDist(train(out, ["--resume", "latest", "--epochs", String(try finalParameters(out).epoch + 1)])))
    }

    func testAKilledRunLeavesNoStaleLock() throws {
        let out = scratch + "/killed"
        let first = try stoppedRun(in: out)
        first.signal(SIGKILL)
        _ = first.finish(timeout: 20, expectSignal: SIGKILL)
        let resumed = try runVAEDist(train(out, ["--resume", "latest", "--epochs", String(try finalParameters(out).epoch + 1)]))
        assertSucceeded(resumed)
        XCTAssertTrue(resumed.standardOutput.contains("resume   from epoch"), resumed.standardOutput)
    }

    func testANewRunRefusesAnotherRunsCheckpoints() throws {
        let foreign = scratch + "/foreign"
        try FileManager.default.createDirectory(atPath: foreign, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: checkpoint, toPath: foreign + "/checkpoint-epoch-0002.h5")
        try assertRefused(train(foreign, ["--epochs", "1"]),
                          message: ["--out \(foreign) already holds checkpoints of another run (the newest: checkpoint-epoch-0002.h5)"])
        try assertRefused(train(foreign, ["--epochs", "1"]), ranks: 2, message: ["already holds checkpoints of another run"])
        // Resuming another run's checkpoint into a directory with checkpoints of its own.
        let own = scratch + "/own"
        assertSucceeded(try runVAEDist(train(own, ["--epochs", "1"])))
        try assertRefused(["train", "--data", run.dataPath, "--out", own, "--no-progress", "--resume", checkpoint, "--epochs", "5"],
                          message: ["--out \(own) holds checkpoints of its own run", "--resume \(checkpoint) is another run's"])
    }
}
