import Foundation
import XCTest
import VAETestSupport
import VAEIO

/// Class 5: a log that cannot be written never costs the run. With standard output
/// closed, on a full device, or a pipe whose reader has gone (`| head -1`), training
/// ends as it would have, status 0, every checkpoint written, bitwise the same.
final class StandardOutputTests: FaultCase {
    private func train(_ out: String) -> [String] {
        ["train", "--data", run.dataPath, "--out", out, "--no-progress", "--hidden", "6", "--latent", "2", "--batch", "8",
         "--epochs", "3", "--seed", "5"]
    }

    func testTrainingFinishesWhateverHappensToStandardOutput() throws {
        assertSucceeded(try runVAEDist(train(scratch + "/reference")))
        let reference = try finalParameters(scratch + "/reference")
        for (name, target) in [("closed", OutputTarget.closed), ("full", .file("/dev/full")), ("head", .pipeClosedAfterFirstLine)] {
            let out = scratch + "/" + name
            let result = try runVAEDist(train(out), standardOutput: target)
            assertSucceeded(result, name)
            XCTAssertEqual(try readMetrics(out).map(\.epoch), [1, 2, 3], name)
            let final = try finalParameters(out)
            XCTAssertEqual(final.parameters.map(\.bitPattern), reference.parameters.map(\.bitPattern), name)
            if name == "head" {
                XCTAssertTrue(result.standardOutput.hasPrefix("vae-dist train: 1 rank"), result.standardOutput)
            }
            // Once at most: the stream is given up on (a pipe may have taken every line before its reader left).
            let warnings = result.errorLines(containing: "vae-dist: warning: standard output cannot be written").count
            XCTAssertEqual(warnings, name == "full" ? 1 : name == "closed" ? 0 : min(warnings, 1), result.transcript)
        }
    }

    func testUnderMPIAPipeWhoseReaderHasGoneCostsNothing() throws {
        let out = scratch + "/mpi"
        let result = try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: 2, train(out)),
                                    standardOutput: .pipeClosedAfterFirstLine)
        assertSucceeded(result)
        XCTAssertEqual(try readMetrics(out).map(\.epoch), [1, 2, 3])
    }

    func testOtherCommandsFinishTheirFilesWithStandardOutputClosedOrFull() throws {
        for (name, target) in [("closed", OutputTarget.closed), ("full", .file("/dev/full"))] {
            let out = scratch + "/embeddings-\(name).h5"
            assertSucceeded(try runVAEDist(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", out],
                                           standardOutput: target), name)
            XCTAssertEqual(try readDataset(out, "index", as: Int64.self).count, TrainedRun.rows, name)
        }
        // A closed standard output must not become the next file opened.
        let inspected = try runVAEDist(["inspect", checkpoint], standardOutput: .closed)
        assertSucceeded(inspected)
        XCTAssertEqual(try Checkpoint.read(checkpoint).epoch, 2)
    }
}
