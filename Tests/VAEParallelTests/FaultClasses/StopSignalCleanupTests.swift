import Foundation
import XCTest
import VAETestSupport
import VAEIO

/// Class 8, for the commands that write no checkpoint: a stop signal in the middle of
/// `embed` or `prepare` removes the unfinished temporary file and exits 75 ("run me
/// again") with one line; one left by a process killed outright is swept by the next
/// write of the same output.
final class StopSignalCleanupTests: FaultCase {
    private var tall = "", tallData = ""

    /// 2,000,000 rows of 10 random bytes: `prepare` (gzip 9) and `embed` take seconds on it.
    override func setUpWithError() throws {
        try super.setUpWithError()
        let random = try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom")).readData(ofLength: 20_000_000)
        tall = scratch + "/tall.npy"
        try writeFile(tall, npyBytes(descr: "|u1", shape: [2_000_000, 10], payload: Array(random)))
        tallData = scratch + "/tall.h5"
        _ = try DataPreparation.prepareNPY(tall, output: tallData, gzipLevel: 1)
    }

    /// Starts `arguments`, waits for its temporary file beside `output`, sends `signal`.
    private func interrupt(_ arguments: [String], output: String, with signal: Int32,
                           file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let directory = (output as NSString).deletingLastPathComponent
        let prefix = "." + (output as NSString).lastPathComponent + ".tmp-"
        let child = try ChildProcess(try vaeDistBinary(), arguments)
        let caught = child.waitFor(timeout: 60, interval: 0.002) { fileNames(directory).contains { $0.hasPrefix(prefix) } }
        XCTAssertTrue(caught, "never saw \(prefix)*: \(child.standardError)", file: file, line: line)
        child.signal(signal)
        return child.finish(timeout: 30, expectSignal: signal == SIGKILL ? SIGKILL : nil, file: file, line: line)
    }

    private func assertStoppedCleanly(_ result: ProcessResult, by name: String, before: FileSnapshot,
                                      file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertNil(result.signal, result.transcript, file: file, line: line)
        XCTAssertEqual(result.status, 75, result.transcript, file: file, line: line)
        let stops = result.errorLines(containing: "vae-dist: stopped by \(name) before finishing: nothing was written")
        XCTAssertEqual(stops.count, 1, result.transcript, file: file, line: line)
        XCTAssertEqual(result.errorLines(containing: "vae-dist: ").count, result.errorLines(containing: "warning").count + 1,
                       "one line of its own: \(result.transcript)", file: file, line: line)
        assertFilesUnchanged(before, snapshot(scratch), file: file, line: line)
    }

    func testSIGTERMToEmbedRemovesItsUnfinishedOutput() throws {
        let out = scratch + "/embeddings.h5"
        let before = snapshot(scratch)
        let result = try interrupt(["embed", "--checkpoint", run.runDirectory, "--data", tallData, "--out", out],
                                   output: out, with: SIGTERM)
        assertStoppedCleanly(result, by: "SIGTERM", before: before)
    }

    func testSIGHUPAndSIGINTToPrepareRemoveItsUnfinishedOutput() throws {
        for (signal, name) in [(SIGHUP, "SIGHUP"), (SIGINT, "SIGINT")] {
            let out = scratch + "/prepared.h5"
            let before = snapshot(scratch)
            let result = try interrupt(["prepare", "npy", tall, "-o", out, "--compression-level", "9"], output: out, with: signal)
            assertStoppedCleanly(result, by: name, before: before)
        }
    }

    func testATemporaryFileOfAKilledWriterIsSweptByTheNextWrite() throws {
        let out = scratch + "/embeddings.h5"
        _ = try interrupt(["embed", "--checkpoint", run.runDirectory, "--data", tallData, "--out", out], output: out, with: SIGKILL)
        XCTAssertEqual(fileNames(scratch).filter { $0.hasPrefix(".embeddings.h5.tmp-") }.count, 1, "\(fileNames(scratch))")
        assertSucceeded(try runVAEDist(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", out]))
        XCTAssertEqual(fileNames(scratch).filter { $0.contains(".tmp-") }, [])
        XCTAssertEqual(try readDataset(out, "index", as: Int64.self).count, TrainedRun.rows)
    }
}
