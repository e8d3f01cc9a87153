import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

final class HDF5WrapperTests: XCTestCase {
    func testEveryElementTypeRoundTripsThroughAFile() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/types.h5"
        let bytes: [UInt8] = [0, 1, 127, 128, 255, 42]
        let int32s: [Int32] = [Int32.min, -1, 0, 1, Int32.max, 7]
        let int64s: [Int64] = [Int64.min, -1, 0, 1, Int64.max, 1 << 40]
        let floats: [Float] = [0, -1.5, .pi, 1e-30, 3.4e38, -0.0]
        do {
            let file = try HDF5File.create(path)
            let root = try file.root()
            try root.writeDataset("u8", bytes, shape: [2, 3])
            try root.writeDataset("group/i32", int32s, shape: [6])
            try root.writeDataset("group/nested/i64", int64s, shape: [3, 2])
            try root.writeDataset("f32", floats, shape: [2, 3], gzipLevel: 6, shuffle: true)
            try file.close()
        }
        let file = try HDF5File.open(path)
        let root = try file.root()
        XCTAssertEqual(try root.openDataset("u8").read(as: UInt8.self), bytes)
        XCTAssertEqual(try root.openDataset("/group/i32").read(as: Int32.self), int32s)
        XCTAssertEqual(try root.openDataset("group/nested/i64").read(as: Int64.self), int64s)
        let f32 = try root.openDataset("f32")
        XCTAssertEqual(try f32.read(as: Float.self).map(\.bitPattern), floats.map(\.bitPattern))
        XCTAssertEqual(try f32.shape(), [2, 3])
        XCTAssertEqual(try f32.elementType(), .float32)
        XCTAssertEqual(try f32.filters(), ["shuffle", "gzip(6)"])
        XCTAssertEqual(try f32.chunkShape(), [2, 3])
        XCTAssertEqual(try root.openDataset("group/nested/i64").elementType(), .int64)
        XCTAssertNil(try root.openDataset("u8").chunkShape())
        XCTAssertTrue(try root.contains("group/nested/i64"))
        XCTAssertFalse(try root.contains("missing/deeper"))
        XCTAssertEqual(try root.children().map(\.name), ["f32", "group", "u8"])
        XCTAssertEqual(try root.kind(of: "group"), .group)
    }

    func testRowHyperslabsReadAndWriteExactlyTheirRows() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/rows.h5"
        let rows = 10, columns = 3
        let values = (0..<(rows * columns)).map { Float($0) }
        let file = try HDF5File.create(path)
        let dataset = try file.root().createDataset("x", of: Float.self, shape: [0, columns], extendibleRows: true,
                                                    chunks: [4, columns], gzipLevel: 1)
        // Written in two appends of uneven size, as prepare does.
        try dataset.setRowCount(7)
        try values[0..<21].withUnsafeBufferPointer { try dataset.writeRows(startingAt: 0, from: $0) }
        try dataset.setRowCount(rows)
        try values[21...].withUnsafeBufferPointer { try dataset.writeRows(startingAt: 7, from: $0) }
        XCTAssertEqual(try dataset.read(as: Float.self), values)
        XCTAssertEqual(try dataset.readRows(3..<5, as: Float.self), Array(values[9..<15]))
        var runs = [Float](repeating: -1, count: 4 * columns)
        try runs.withUnsafeMutableBufferPointer { try dataset.readRowRuns([1..<2, 3..<5, 9..<10], into: $0) }
        XCTAssertEqual(runs, Array(values[3..<6] + values[9..<15] + values[27..<30]))
        assertThrows(try runs.withUnsafeMutableBufferPointer { try dataset.readRowRuns([3..<5, 1..<2], into: $0) },
                     containing: [path, "/x", "ascending"])
        assertThrows(try dataset.readRows(8..<11, as: Float.self), containing: ["/x", "below 10"])
    }

    func testAttributesRoundTripAndReplace() throws {
        struct Config: Codable, Equatable { let hidden: [Int]; let name: String }
        let directory = try makeScratchDirectory(self)
        let path = directory + "/attributes.h5"
        do {
            let file = try HDF5File.create(path)
            let root = try file.root()
            try root.setAttribute("step", 41)
            try root.setAttribute("step", 42)  // replaces
            try root.setAttribute("learning_rate", 1e-3)
            try root.setAttribute("note", "naïve ✓ unicode")
            try root.setJSONAttribute("config", Config(hidden: [400, 20], name: "vae"))
            let dataset = try root.writeDataset("d", [UInt8(1)], shape: [1])
            try dataset.setAttribute("scale", 0.5)
            try file.close()
        }
        let root = try HDF5File.open(path).root()
        XCTAssertEqual(try root.intAttribute("step"), 42)
        XCTAssertEqual(try root.doubleAttribute("learning_rate"), 1e-3)
        XCTAssertEqual(try root.stringAttribute("note"), "naïve ✓ unicode")
        XCTAssertEqual(try root.jsonAttribute("config", as: Config.self), Config(hidden: [400, 20], name: "vae"))
        XCTAssertEqual(try root.stringAttribute("config"), #"{"hidden":[400,20],"name":"vae"}"#)
        XCTAssertEqual(try root.openDataset("d").doubleAttribute("scale"), 0.5)
        XCTAssertNil(try root.intAttribute("absent"))
        XCTAssertEqual(Set(try root.attributeNames()), ["step", "learning_rate", "note", "config"])
        assertThrows(try root.intAttribute("note"), containing: [path, "attribute 'note' should be an integer"])
    }

    func testFailuresCarryFileObjectAndHDF5Text() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/f.h5"
        try HDF5File.create(path).close()
        let root = try HDF5File.open(path).root()
        do {
            _ = try root.openDataset("/nope")
            XCTFail("opened a missing dataset")
        } catch let error as HDF5Error {
            XCTAssertEqual(error.file, path)
            XCTAssertEqual(error.object, "/nope")
            XCTAssertEqual(error.operation, "open dataset")
            XCTAssertFalse(error.hdf5Messages.isEmpty)
            XCTAssertTrue(error.description.contains("doesn't exist") || error.description.contains("not found"), error.description)
        }
        // A read-only file refuses writes, in HDF5's words.
        assertThrows(try root.setAttribute("x", 1), containing: [path, "attribute 'x'"])
    }

    func testAtomicWriteLeavesOldFileWhenTheBodyFails() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/checkpoint.h5"
        try writeHDF5FileAtomically(to: path) { file in try file.root().setAttribute("step", 1) }
        struct Interrupted: Error {}
        XCTAssertThrowsError(try writeHDF5FileAtomically(to: path) { file in
            try file.root().setAttribute("step", 2)
            throw Interrupted()
        })
        XCTAssertEqual(try HDF5File.open(path).root().intAttribute("step"), 1)
        try writeHDF5FileAtomically(to: path) { file in
            try file.root().writeDataset("w", [Float](repeating: 0.5, count: 6), shape: [2, 3])
            try file.root().setAttribute("step", 3)
        }
        XCTAssertEqual(try HDF5File.open(path).root().intAttribute("step"), 3)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["checkpoint.h5"], "no temporary files left")
    }

    /// A writer names the file it writes (the temporary one); the error names the file asked for.
    func testAtomicWriteErrorsNameTheRequestedFileNotTheTemporaryOne() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/data.h5"
        XCTAssertThrowsError(try writeHDF5FileAtomically(to: path) { file in
            throw DataError(file: file.path, object: "/labels", "3 labels for 4 rows")
        }) { error in
            XCTAssertEqual(String(describing: error), "\(path): /labels: 3 labels for 4 rows")
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), [], "no temporary file left")
    }

    func testAtomicWriteIntoAMissingOrUnwritableDirectoryFailsClearly() throws {
        let directory = try makeScratchDirectory(self)
        assertThrows(try writeHDF5FileAtomically(to: directory + "/absent/x.h5") { _ in },
                     containing: ["x.h5", "output directory", "does not exist"])
        let unwritable: String
        if getuid() == 0 {
            unwritable = "/sys"  // root may write anywhere but sysfs
        } else {
            unwritable = directory + "/readonly"
            try FileManager.default.createDirectory(atPath: unwritable, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o555])
        }
        assertThrows(try writeHDF5FileAtomically(to: unwritable + "/x.h5") { _ in },
                     containing: ["x.h5", "cannot create a file in output directory \(unwritable)", "Permission denied"])
    }

    func testFNV1a64MatchesPublishedVectors() {
        // Test vectors from the FNV reference (isthe.com/chongo/tech/comp/fnv).
        var empty = FNV1a64()
        XCTAssertEqual(empty.hex, "cbf29ce484222325")
        var a = FNV1a64()
        a.update("a")
        XCTAssertEqual(a.hex, "af63dc4c8601ec8c")
        empty.update("foobar")
        XCTAssertEqual(empty.hex, "85944171f73967e8")
    }
}
