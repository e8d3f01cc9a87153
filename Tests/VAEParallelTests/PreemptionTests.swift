import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// A stop signal (Slurm preemption, a time-limit warning, scancel) ends every rank after
/// the same step with a checkpoint of exactly that state and exit 75; `--resume latest`
/// then finishes the run bitwise equal to one that was never interrupted.
final class PreemptionTests: XCTestCase {
    private var scratch = ""
    private var data = ""

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 11), rows: 37)
    }

    /// Long enough that a signal sent after the first epoch lands mid-run: an epoch of this
    /// model takes about 7 ms here, and mpirun passes a SIGTERM on to the ranks only about
    /// a second after receiving it (SIGUSR1 at once).
    private var epochs = 100

    private func arguments(out: String) -> [String] {
        var configuration = smallConfiguration(epochs: epochs)
        configuration.architecture.hiddenSizes = [48]
        configuration.klWarmupEpochs = 1.5
        return trainArguments(configuration, data: data, out: out)
    }

    private func resumeArguments(out: String) -> [String] {
        ["train", "--data", data, "--out", out, "--no-progress", "--resume", "latest", "--epochs", String(epochs)]
    }

    /// Starts a 2-rank run, sends `signal` to mpirun once the first epoch is logged, returns its result.
    private func interruptedRun(signal: Int32, out: String) throws -> ProcessResult {
        let job = try ChildProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, arguments(out: out)),
                                        environment: childEnvironment())
        XCTAssertTrue(job.waitFor(timeout: 60) { metricsLineCount(out) >= 1 }, "no epoch finished:\n\(job.standardError)")
        job.signal(signal)
        return job.finish(timeout: 30)
    }

    private func assertResumedRunEqualsStraightRun(_ out: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let resumed = try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, resumeArguments(out: out)),
                                     environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(resumed.status, 0, resumed.standardError, file: file, line: line)
        assertTrainingBanner(resumed.standardOutput, ranks: 2, exchange: .sharedMemory, file: file, line: line)
        let straight = try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, arguments(out: scratch + "/straight")),
                                      environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(straight.status, 0, straight.standardError, file: file, line: line)
        assertTrainingBanner(straight.standardOutput, ranks: 2, exchange: .sharedMemory, file: file, line: line)
        let a = try finalParameters(scratch + "/straight"), b = try finalParameters(out)
        XCTAssertEqual(b.epoch, epochs, file: file, line: line)
        XCTAssertEqual(b.step, a.step, file: file, line: line)
        XCTAssertEqual(b.parameters.map(\.bitPattern), a.parameters.map(\.bitPattern), "parameters", file: file, line: line)
        for (name, values) in a.optimizerState {
            XCTAssertEqual(b.optimizerState[name]?.map(\.bitPattern), values.map(\.bitPattern), name, file: file, line: line)
        }
        // The interrupted epoch's metrics line is the whole epoch's, as in the straight run.
        XCTAssertEqual(try readMetrics(out).map(\.trainNegativeELBO), try readMetrics(scratch + "/straight").map(\.trainNegativeELBO),
                       file: file, line: line)
    }

    func testSIGUSR1ToMpirunCheckpointsExitsWith75AndResumesBitwise() throws {
        let out = scratch + "/run"
        let result = try interruptedRun(signal: SIGUSR1, out: out)
        XCTAssertEqual(result.status, 75, result.standardError)
        let stopLines = result.errorLines(containing: "vae-dist: stopped on request")
        XCTAssertEqual(stopLines.count, 1, result.standardError)
        // mpirun delivers the signal to the ranks a moment apart: one or both may have asked by the
        // step at which they agree to stop (any rank's request stops every rank).
        XCTAssertTrue(stopLines.allSatisfy {
            ($0.contains("1 of 2 ranks asked") || $0.contains("2 of 2 ranks asked")) && $0.contains("--resume latest")
        }, "\(stopLines)")
        XCTAssertTrue(result.errorLines(containing: "vae-dist: error").isEmpty, result.standardError)
        let newest = try CheckpointLocation.resolve(out).path
        XCTAssertTrue(stopLines[0].contains(newest), "the message names the checkpoint \(newest): \(stopLines[0])")
        XCTAssertLessThan(try Checkpoint.read(newest).epoch, epochs, "the signal came too late to interrupt anything")
        try assertResumedRunEqualsStraightRun(out)
    }

    /// Open MPI 4.1: a SIGTERM to mpirun reaches every rank about a second later, mpirun then
    /// SIGKILLs them after another second and exits 1 whatever they returned, and the ranks'
    /// last output may be lost in its shutdown. What is guaranteed: the job ends promptly, the
    /// newest checkpoint is whole, and resuming it is exact.
    func testSIGTERMToMpirunEndsTheJobAndTheNewestCheckpointResumesBitwise() throws {
        epochs = 500
        let out = scratch + "/run"
        let result = try interruptedRun(signal: SIGTERM, out: out)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertLessThan(result.seconds, 10)
        XCTAssertLessThan(try Checkpoint.read(try CheckpointLocation.resolve(out).path).epoch, epochs)
        try assertResumedRunEqualsStraightRun(out)
    }

    func testSIGTERMToOneProcessExitsWith75() throws {
        let out = scratch + "/run"
        let job = try ChildProcess(try vaeDistBinary(), arguments(out: out), environment: childEnvironment())
        XCTAssertTrue(job.waitFor(timeout: 60) { metricsLineCount(out) >= 1 })
        job.signal(SIGTERM)
        let result = job.finish(timeout: 30)
        XCTAssertEqual(result.status, 75, result.standardError)
        XCTAssertEqual(result.errorLines(containing: "stopped on request (SIGTERM here; 1 of 1 rank asked)").count, 1,
                       result.standardError)
    }

    /// In process, deterministically: a stop after the 3rd step of epoch 2 gives a mid-epoch
    /// checkpoint, and resuming it matches the straight run bit for bit, metrics included.
    func testStopMidEpochAndResumeInProcessIsExact() throws {
        var configuration = smallConfiguration(epochs: 3)
        configuration.klWarmupEpochs = 1.5
        _ = try trainInProcess(configuration, data: data, out: scratch + "/straight")

        let calls = StepCounter()
        var options = TrainingOptions(configuration: configuration, runDirectory: scratch + "/stopped")
        options.dataPath = data
        options.progress = .off
        options.stopRequested = { calls.next() == 8 }  // 5 steps per epoch: step 3 of epoch 2
        let stopped = TrainingRun(options: options, communicator: SingleProcessCommunicator(), log: { _ in })
        try stopped.run()
        let stop = try XCTUnwrap(stopped.stop)
        XCTAssertEqual(stop.position, CheckpointPosition(epoch: 1, stepInEpoch: 3))
        XCTAssertEqual(stop.step, 8)
        XCTAssertEqual(fileNames(scratch + "/stopped").filter { $0.hasPrefix("checkpoint") },
                       ["checkpoint-epoch-0001-step-000003.h5", "checkpoint-epoch-0001.h5"])
        let saved = try Checkpoint.read(stop.checkpointPath)
        XCTAssertEqual(saved.stepInEpoch, 3)
        XCTAssertEqual(saved.partialEpochTerms.rows, 24)

        var resume = TrainingOptions(configuration: configuration, runDirectory: scratch + "/stopped")
        resume.dataPath = data
        resume.progress = .off
        resume.resume = "latest"
        let resumed = TrainingRun(options: resume, communicator: SingleProcessCommunicator(), log: { _ in })
        try resumed.run()
        XCTAssertNil(resumed.stop)
        let a = try finalParameters(scratch + "/straight"), b = try finalParameters(scratch + "/stopped")
        XCTAssertEqual(b.parameters.map(\.bitPattern), a.parameters.map(\.bitPattern))
        XCTAssertEqual(try readMetrics(scratch + "/stopped").map(\.trainNegativeELBO),
                       try readMetrics(scratch + "/straight").map(\.trainNegativeELBO))
    }

    func testCheckpointNamesOrderAsTrainingProceeds() {
        let names = ["checkpoint-epoch-0002.h5", "checkpoint-epoch-0001-step-000004.h5", "checkpoint-epoch-0001.h5",
                     "checkpoint-epoch-0002-step-000001.h5", ".checkpoint-epoch-0003.h5.tmp-12-ab", "checkpoint-epoch-0003.h5.tmp",
                     "checkpoint-epoch-0004-step-000000.h5", "checkpoint-epoch--step-1.h5"]
        let ordered = names.compactMap { name in CheckpointLocation.positionOfCheckpointName(name).map { ($0, name) } }
            .sorted { $0.0 < $1.0 }.map(\.1)
        XCTAssertEqual(ordered, ["checkpoint-epoch-0001.h5", "checkpoint-epoch-0001-step-000004.h5",
                                 "checkpoint-epoch-0002.h5", "checkpoint-epoch-0002-step-000001.h5"])
        XCTAssertEqual(CheckpointLocation.checkpointName(CheckpointPosition(epoch: 1, stepInEpoch: 4)),
                       "checkpoint-epoch-0001-step-000004.h5")
    }
}

/// Counts calls from the trainer's thread (the closure must be Sendable).
final class StepCounter: @unchecked Sendable {
    private var count = 0
    func next() -> Int { count += 1; return count }
}
