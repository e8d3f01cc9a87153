import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

/// `prepare csv` reads CSV as RFC 4180 defines it, and as Excel, R and Python write it.
final class PrepareCSVTests: XCTestCase {
    var directory = ""
    override func setUpWithError() throws { directory = try makeScratchDirectory(self) }

    private func records(_ text: String, delimiter: Character = ",") throws -> [[String]] {
        let path = directory + "/records.csv"
        try writeFile(path, Array(text.utf8))
        let reader = try CSVRecordReader(path, delimiter: delimiter.asciiValue!)
        var all: [[String]] = []
        while let record = try reader.nextRecord() { all.append(record) }
        return all
    }

    private func features(_ path: String) throws -> [Float] {
        try HDF5File.open(path).root().openDataset("features").read(as: Float.self)
    }

    func testQuotedFieldsHoldDelimitersLineBreaksAndDoubledQuotes() throws {
        XCTAssertEqual(try records("a,\"b,c\",\"say \"\"hi\"\"\"\n\"two\nlines\",,\"\"\n"),
                       [["a", "b,c", "say \"hi\""], ["two\nlines", "", ""]])
        XCTAssertEqual(try records("x;\"1;2\"\r\n", delimiter: ";"), [["x", "1;2"]])
        // Spaces around a quoted field are not part of it; inside the quotes they are.
        XCTAssertEqual(try records(" \"a b\" ,c\n"), [["a b", "c"]])
    }

    func testLineEndingsByteOrderMarkAndBlankLines() throws {
        XCTAssertEqual(try records("\u{FEFF}a,b\r\n1,2\r\n\r\n3,4\r\n"), [["a", "b"], ["1", "2"], ["3", "4"]])
        XCTAssertEqual(try records("a,b\r1,2\r"), [["a", "b"], ["1", "2"]], "old Mac line ends (CR alone)")
        XCTAssertEqual(try records("1,2\n   \n3,4"), [["1", "2"], ["3", "4"]], "no line break after the last record")
        XCTAssertEqual(try records(""), [])
        XCTAssertEqual(try records("\u{FEFF}"), [])
    }

    func testRecordsAcrossReadBoundariesAreWhole() throws {
        // Longer than the 64 KiB read buffer, with quoted fields and CRLFs at every offset.
        var text = "\u{FEFF}"
        var expected: [[String]] = []
        for row in 0..<15000 {
            let quoted = "v\(row),\"q\r\n\(row)\""
            text += quoted + "\r\n"
            expected.append(["v\(row)", "q\r\n\(row)"])
        }
        XCTAssertGreaterThan(text.utf8.count, 3 << 16)
        XCTAssertEqual(try records(text), expected)
    }

    func testMalformedQuotesAreOneLineNamingTheLine() throws {
        let path = directory + "/open.csv"
        try writeFile(path, Array("a,b\n1,2\n3,\"4\n5,6\n".utf8))
        assertThrows(try DataPreparation.prepareCSV(path, output: directory + "/o.h5"),
                     containing: [path, "line 3", "quoted field is never closed"])
        let junk = directory + "/junk.csv"
        try writeFile(junk, Array("1,2\n\"3\"x,4\n".utf8))
        assertThrows(try DataPreparation.prepareCSV(junk, output: directory + "/j.h5"),
                     containing: [junk, "line 2", "'x' after a closing quote"])
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/o.h5"))
        assertThrows(try DataPreparation.prepareCSV(junk, output: directory + "/q.h5", delimiter: "\""),
                     containing: ["delimiter '\"'", "other than a quote"])
    }

    /// Excel: a byte order mark, CRLF, a quoted header; the label column found by its name.
    func testExcelStyleFileWithQuotedHeader() throws {
        let input = directory + "/excel.csv"
        try writeFile(input, Array("\u{FEFF}\"x 1\",\"label\",\"the \"\"third\"\", column\"\r\n\"0.5\",1,-2\r\n\r\n1e-3,\"0\",3.25\r\n".utf8))
        let summary = try DataPreparation.prepareCSV(input, output: directory + "/excel.h5", labelColumn: .name("label"))
        XCTAssertEqual([summary.rows, summary.features], [2, 2])
        XCTAssertEqual(try DataFile.open(directory + "/excel.h5").readLabels(), [1, 0])
        XCTAssertEqual(try features(directory + "/excel.h5"), [0.5, -2, 1e-3, 3.25])
        assertThrows(try DataPreparation.prepareCSV(input, output: directory + "/e.h5", labelColumn: .name("third")),
                     containing: ["no column 'third'", "x 1, label, the \"third\", column"])
    }

    /// R's write.csv: every string quoted, a first column of row names under an empty header.
    func testRWriteCSVStyle() throws {
        let input = directory + "/r.csv"
        try writeFile(input, Array("\"\",\"x\",\"y\"\n\"1\",0.25,4\n\"2\",-1,5\n".utf8))
        _ = try DataPreparation.prepareCSV(input, output: directory + "/r.h5", labelColumn: .index(0))
        XCTAssertEqual(try DataFile.open(directory + "/r.h5").readLabels(), [1, 2])
        XCTAssertEqual(try features(directory + "/r.h5"), [0.25, 4, -1, 5])
    }

    /// What Python's csv module writes with QUOTE_NONNUMERIC and QUOTE_ALL, read back.
    func testPythonCSVModuleOutput() throws {
        for quoting in ["QUOTE_NONNUMERIC", "QUOTE_ALL"] {
            let path = directory + "/\(quoting).csv"
            let script = """
                import csv, sys
                with open(sys.argv[1], "w", newline="", encoding="utf-8-sig") as f:
                    w = csv.writer(f, quoting=csv.\(quoting))
                    w.writerow(["pixel, 1", "pixel \\"2\\"", "class"])
                    w.writerow([0.125, 2.5, 3])
                    w.writerow([-1.0, 1e-07, 4])
                """
            assertSucceeded(try Prerequisites.runPython(["-c", script, path], modules: ["csv"], for: "Python's csv module output"))
            _ = try DataPreparation.prepareCSV(path, output: directory + "/\(quoting).h5", labelColumn: .name("class"))
            XCTAssertEqual(try DataFile.open(directory + "/\(quoting).h5").readLabels(), [3, 4], quoting)
            XCTAssertEqual(try features(directory + "/\(quoting).h5"), [0.125, 2.5, -1, 1e-7], quoting)
        }
    }

    func testErrorsCountLinesInsideQuotedFields() throws {
        let input = directory + "/multiline.csv"
        try writeFile(input, Array("\"a\nb\",c\n1,2\n3\n".utf8))
        assertThrows(try DataPreparation.prepareCSV(input, output: directory + "/m.h5"),
                     containing: [input, "line 4", "1 fields, expected 2"])
    }
}
