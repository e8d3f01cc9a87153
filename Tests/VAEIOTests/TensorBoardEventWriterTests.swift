import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

/// TensorBoard event files: TFRecord framing with CRC-32C, Event and Summary protocol
/// buffers, read back by our own parser and by the `tensorboard` package's reader.
final class TensorBoardEventWriterTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeScratchDirectory(self) }

    func testCRC32CMatchesTheCastagnoliCheckValue() {
        // The check value of CRC-32C (RFC 3720, appendix B.4): "123456789" -> 0xE3069283.
        XCTAssertEqual(CRC32C.checksum(Array("123456789".utf8)), 0xE306_9283)
        XCTAssertEqual(CRC32C.checksum([UInt8](repeating: 0, count: 32)), 0x8A91_36AA)
    }

    private func writeRun(steps: [Int]) throws -> String {
        let writer = try TensorBoardEventWriter(directory: directory, wallTime: 1_700_000_000)
        for step in steps {
            writer.scalar("loss/train", Double(step) / 10, step: step, wallTime: 1_700_000_000 + Double(step))
        }
        try writer.flush()
        return writer.path
    }

    func testRecordsAreFramedAndCarryTheirSteps() throws {
        let path = try writeRun(steps: [1, 2, 300])
        XCTAssertTrue((path as NSString).lastPathComponent.hasPrefix("events.out.tfevents.1700000000."))
        let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
        let records = TensorBoardRecords.records(bytes)
        XCTAssertEqual(records.count, 4, "the version event and three scalars")
        XCTAssertEqual(records.map { TensorBoardRecords.step(ofEvent: $0) }, [0, 1, 2, 300])
        // Every record's two CRCs check, as the reader verifies them.
        var offset = 0
        for record in records {
            let length = Array(bytes[offset..<(offset + 8)])
            XCTAssertEqual(bytes[(offset + 8)..<(offset + 12)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }, CRC32C.masked(length))
            let end = offset + 12 + record.count
            XCTAssertEqual(bytes[end..<(end + 4)].reversed().reduce(UInt32(0)) { $0 << 8 | UInt32($1) }, CRC32C.masked(record))
            offset = end + 4
        }
        XCTAssertEqual(offset, bytes.count)
    }

    /// A run resumed from the checkpoint at step 2 drops what an interrupted run logged after it.
    func testTruncationKeepsTheEventsUpToTheResumedStep() throws {
        let first = try writeRun(steps: [1, 2, 3, 4])
        let later = try TensorBoardEventWriter(directory: directory, wallTime: 1_700_000_001)
        later.scalar("loss/train", 0.5, step: 5)
        try later.flush()
        try TensorBoardRecords.truncate(directory: directory, afterStep: 2)
        let kept = TensorBoardRecords.records(Array(try Data(contentsOf: URL(fileURLWithPath: first))))
        XCTAssertEqual(kept.map { TensorBoardRecords.step(ofEvent: $0) }, [0, 1, 2])
        XCTAssertFalse(FileManager.default.fileExists(atPath: later.path), "a file left with no events is removed")
        // Nothing to cut: the file is left as it is.
        let before = try Data(contentsOf: URL(fileURLWithPath: first))
        try TensorBoardRecords.truncate(directory: directory, afterStep: 2)
        XCTAssertEqual(try Data(contentsOf: URL(fileURLWithPath: first)), before)
    }

    func testTensorBoardsOwnReaderReadsScalarsAndImages() throws {
        let writer = try TensorBoardEventWriter(directory: directory)
        writer.scalar("loss/train", 244.3125, step: 469)
        writer.scalar("optimizer/learning_rate", 1e-3, step: 469)
        var grid = ImageGrid(tileHeight: 2, tileWidth: 3, channels: 3, rows: 1, columns: 1)
        grid.place([Float](repeating: 0.5, count: 18), row: 0, column: 0)
        writer.image("samples", png: try grid.png(), width: 3, height: 2, channels: 3, step: 469)
        try writer.flush()
        // EventAccumulator: what TensorBoard's scalar and image dashboards read the directory with.
        let script = """
            import sys
            from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
            run = EventAccumulator(sys.argv[1])
            run.Reload()
            for tag in sorted(run.Tags()["scalars"]):
                for event in run.Scalars(tag):
                    print(event.step, tag, repr(event.value))
            for event in run.Images("samples"):
                print(event.step, "samples", event.width, event.height, event.encoded_image_string[:4] == b"\\x89PNG")
            """
        let result = try Prerequisites.runPython(["-c", script, directory], modules: ["tensorboard"],
                                                 for: "TensorBoard's reader of our event files")
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertEqual(result.standardOutput.split(separator: "\n").map(String.init),
                       ["469 loss/train 244.3125", "469 optimizer/learning_rate 0.0010000000474974513", "469 samples 3 2 True"])
    }
}
