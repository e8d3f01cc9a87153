import Foundation
import XCTest
import VAETestSupport
import VAEIO

/// What the fault-class tests share: a trained run and its data in a scratch directory,
/// and the one assertion each case makes with the real binary: the exact exit status
/// (an exit, not a signal), the one-line message, and every file that was there
/// before byte-identical after.
class FaultCase: XCTestCase {
    var run: TrainedRun!
    var scratch: String { run.directory }

    override func setUpWithError() throws {
        run = try TrainedRun.make(self)
    }

    /// The newest checkpoint of the run.
    var checkpoint: String { (try? CheckpointLocation.resolve(run.runDirectory).path) ?? "" }

    /// Runs `arguments` (under `mpirun -n ranks` when given) and asserts the refusal.
    /// `status` 1 is a bad input, 64 a bad command line (docs/faults.md).
    @discardableResult
    func assertRefused(_ arguments: [String], ranks: Int? = nil, status: Int32 = 1, message: [String],
                       watching extra: [String] = [], timeout: Double = 60,
                       file: StaticString = #filePath, line: UInt = #line) throws -> ProcessResult {
        let before = snapshot(scratch)
        let extraBefore = extra.map { snapshot($0) }
        let result = try ranks.map { try runUnderMPI(ranks: $0, arguments, timeout: timeout, file: file, line: line) }
            ?? runVAEDist(arguments, timeout: timeout, file: file, line: line)
        let context = arguments.joined(separator: " ")
        assertFailed(result, status: status, message: message, ranks: ranks, context, file: file, line: line)
        assertFilesUnchanged(before, snapshot(scratch), context, file: file, line: line)
        for (path, snap) in zip(extra, extraBefore) {
            assertFilesUnchanged(snap, snapshot(path), context, file: file, line: line)
        }
        return result
    }
}
