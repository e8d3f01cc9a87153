import Foundation
import XCTest
import VAETestSupport
import VAEIO

/// Class 8, for `train`: SIGHUP (a closed ssh session) stops like SIGTERM, with a
/// checkpoint and 75; a second SIGTERM during the checkpoint write lets the write finish;
/// Ctrl-C at a terminal running `mpirun -n 2` ends with the status docs/faults.md gives
/// (mpirun's 1, after the ranks' checkpoint); and with one rank stopped (SIGSTOP), SIGTERM
/// to mpirun leaves no process of the job behind.
final class TrainingSignalTests: FaultCase {
    private func train(_ out: String, epochs: Int = 100_000, hidden: Int = 6) -> [String] {
        ["train", "--data", run.dataPath, "--out", out, "--no-progress", "--hidden", String(hidden), "--latent", "2",
         "--batch", "8", "--epochs", String(epochs)]
    }

    func testSIGHUPStopsWithACheckpointLikeSIGTERM() throws {
        let out = scratch + "/hup"
        let job = try ChildProcess(try vaeDistBinary(), train(out))
        XCTAssertTrue(job.waitFor(timeout: 60) { metricsLineCount(out) >= 1 }, job.standardError)
        job.signal(SIGHUP)
        let result = job.finish(timeout: 60)
        XCTAssertNil(result.signal)
        XCTAssertEqual(result.status, 75, result.transcript)
        XCTAssertEqual(result.errorLines(containing: "vae-dist: stopped on request (SIGHUP here; 1 of 1 rank asked)").count, 1,
                       result.transcript)
        let saved = try Checkpoint.read(try CheckpointLocation.resolve(out).path)
        XCTAssertGreaterThanOrEqual(saved.epoch, 1)
    }

    /// A 3000-unit model's checkpoint (3 x 28 MB of state) takes long enough to be caught in the act.
    func testASecondSIGTERMDuringTheCheckpointWriteLetsItFinish() throws {
        let out = scratch + "/second"
        let job = try ChildProcess(try vaeDistBinary(), train(out, epochs: 3, hidden: 3000) + ["--batch", "37"])
        let writing = job.waitFor(timeout: 120, interval: 0.001) {
            fileNames(out).contains { $0.hasPrefix(".checkpoint-epoch-0001.h5.tmp-") }
        }
        XCTAssertTrue(writing, "never saw the first checkpoint being written: \(fileNames(out))")
        job.signal(SIGTERM)
        Thread.sleep(forTimeInterval: 0.02)  // two signals, not one pending
        job.signal(SIGTERM)
        let result = job.finish(timeout: 60)
        XCTAssertNil(result.signal)
        XCTAssertEqual(result.status, 75, result.transcript)
        XCTAssertEqual(result.errorLines(containing: "vae-dist: stopped at once by a second SIGTERM").count, 1, result.transcript)
        XCTAssertEqual(fileNames(out).filter { $0.contains(".tmp-") }, [])
        XCTAssertEqual(try Checkpoint.read(out + "/checkpoint-epoch-0001.h5").epoch, 1)
    }

    /// A terminal's Ctrl-C signals its foreground process group: mpirun (Open MPI starts
    /// each rank in a group of its own). mpirun sends the ranks SIGTERM; rank 0 checkpoints;
    /// mpirun exits 1 (docs/faults.md, "SIGTERM or Ctrl-C to mpirun").
    func testCtrlCToMpirunCheckpointsAndExitsWithTheDocumentedStatus() throws {
        let out = scratch + "/ctrl-c"
        let job = try ChildProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, train(out)))
        XCTAssertTrue(job.waitFor(timeout: 60) { metricsLineCount(out) >= 1 }, job.standardError)
        job.signalGroup(SIGINT)
        let result = job.finish(timeout: 60)
        XCTAssertNil(result.signal)
        XCTAssertEqual(result.status, 1, result.transcript)
        let saved = try Checkpoint.read(try CheckpointLocation.resolve(out).path)
        XCTAssertGreaterThanOrEqual(saved.epoch, 1)
        XCTAssertEqual(fileNames(out).filter { $0.contains(".tmp-") }, [])
    }

    /// `finish` fails the test on any process of the job still alive after mpirun (zombies
    /// aside: a container's init may not reap them, but they have ended).
    func testARankStoppedWithSIGSTOPDoesNotOutliveItsJob() throws {
        let out = scratch + "/stopped"
        let job = try ChildProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, train(out)))
        XCTAssertTrue(job.waitFor(timeout: 60) { metricsLineCount(out) >= 1 }, job.standardError)
        let ranks = job.childProcessIDs(named: "vae-dist")
        XCTAssertEqual(ranks.count, 2)
        kill(try XCTUnwrap(ranks.last), SIGSTOP)
        Thread.sleep(forTimeInterval: 0.5)
        job.signal(SIGTERM)
        let result = job.finish(timeout: 60)
        XCTAssertNil(result.signal)
        XCTAssertEqual(result.status, 1, result.transcript)
        XCTAssertEqual(result.survivors, [])
        for rank in ranks {
            let state = processTable().first { $0.pid == rank }?.state
            XCTAssertTrue(state == nil || state == "Z", "rank \(rank) is \(state.map(String.init) ?? "?")")
        }
    }
}
