import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

/// Data whose rows HDF5 would silently read as zeros is refused; data spread over files
/// (shards, virtual datasets) reads as the one file holding the same rows.
final class StoredRowsTests: XCTestCase {
    let features = 6

    func bytes(rows: Range<Int>) -> [UInt8] {
        rows.flatMap { row in (0..<features).map { UInt8((row * 13 + $0 * 5) % 256) } }
    }

    /// A data file holding `rows` of `bytes(rows:)`, chunked by 10 rows, gzip.
    func writeRows(_ path: String, _ rows: Range<Int>, chunkRows: Int = 10) throws {
        try writeDataFile(path, uint8: bytes(rows: rows), rows: rows.count, features: features,
                          chunkRows: min(chunkRows, rows.count), gzip: 4)
    }

    /// Every row of `data` in order, through an in-memory and a streaming source.
    func allRows(_ data: ShardSet) throws -> [[Float]] {
        let plan = stride(from: 0, to: data.rowCount, by: 7).map { Array($0..<min($0 + 7, data.rowCount)) }
        let memory = try readEpoch(try InMemoryMinibatchSource(data: data, bernoulli: true), plan: plan)
        let streaming = try readEpoch(try StreamingMinibatchSource(data: data, memoryBudget: 1 << 20, bernoulli: true), plan: plan)
        XCTAssertEqual(memory, streaming)
        return memory
    }

    func testAChunkedDatasetWithUnwrittenChunksIsRefused() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/half.h5"
        let file = try HDF5File.create(path)
        let dataset = try file.root().createDataset("features", of: UInt8.self, shape: [100, features], chunks: [10, features],
                                                    gzipLevel: 1)
        try dataset.setAttribute("scale", 1.0 / 255)
        try bytes(rows: 0..<50).withUnsafeBufferPointer { try dataset.writeRows(startingAt: 0, from: $0) }
        try file.close()
        assertThrows(try DataFile.open(path), containing: [path, "/features", "5 of its 10 chunks were never written", "zeros"])
    }

    func testAContiguousDatasetNeverWrittenIsRefused() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/empty.h5"
        let file = try HDF5File.create(path)
        try file.root().createDataset("features", of: Float.self, shape: [20, features])
        try file.close()
        assertThrows(try DataFile.open(path), containing: [path, "/features", "has no storage", "zeros"])
    }

    /// a.h5, b.h5, c.h5 hold rows 0..<30, 30..<60, 60..<90; vds.h5 maps them (relative names).
    func writeVirtualData(in directory: String, sources: [(String, Range<Int>)]? = nil) throws -> String {
        let parts = [("a.h5", 0..<30), ("b.h5", 30..<60), ("c.h5", 60..<90)]
        for (name, rows) in parts { try writeRows(directory + "/" + name, rows) }
        let path = directory + "/vds.h5"
        let file = try HDF5File.create(path)
        let dataset = try file.root().createVirtualDataset(
            "features", of: UInt8.self, shape: [90, features],
            sources: (sources ?? parts).map { HDF5VirtualSource(file: $0.0, dataset: "/features", rows: 0..<$0.1.count, row: $0.1.lowerBound) })
        try dataset.setAttribute("scale", 1.0 / 255)
        try file.close()
        return path
    }

    func testAVirtualDatasetReadsAsTheFileHoldingItsRows() throws {
        let directory = try makeScratchDirectory(self)
        let path = try writeVirtualData(in: directory)
        let single = directory + "/single.h5"
        try writeRows(single, 0..<90)
        let virtual = try DataFile.open(path)
        XCTAssertEqual(virtual.pieces.map(\.rows), [0..<30, 30..<60, 60..<90])
        XCTAssertEqual(virtual.pieces.map { ($0.path as NSString).lastPathComponent }, ["a.h5", "b.h5", "c.h5"])
        XCTAssertEqual(try allRows(ShardSet(virtual)), try allRows(ShardSet(try DataFile.open(single))))
        XCTAssertEqual(try virtual.computeFingerprint(), try DataFile.open(single).computeFingerprint())
    }

    func testAVirtualDatasetWithAMissingSourceIsRefused() throws {
        let directory = try makeScratchDirectory(self)
        let path = try writeVirtualData(in: directory)
        try FileManager.default.removeItem(atPath: directory + "/b.h5")
        assertThrows(try DataFile.open(path), containing: [path, "/features", "virtual mapping 1 (source b.h5:/features) is missing",
                                                           "rows 30..<60 as zeros"])
    }

    func testAVirtualDatasetWithUnmappedRowsIsRefused() throws {
        let directory = try makeScratchDirectory(self)
        let path = try writeVirtualData(in: directory, sources: [("a.h5", 0..<30), ("c.h5", 60..<90)])
        assertThrows(try DataFile.open(path), containing: [path, "/features", "rows 30..<60 are mapped to no source"])
    }

    func testShardsReadAsOneFileHoldingTheirRows() throws {
        let directory = try makeScratchDirectory(self)
        for (index, rows) in [0..<40, 40..<45, 45..<100].enumerated() {
            try writeRows(directory + "/train-\(String(format: "%05d", index)).h5", rows)
        }
        try writeRows(directory + "/single.h5", 0..<100)
        let shards = try ShardSet.open(directory + "/train-*.h5")
        XCTAssertEqual(shards.files.map { ($0.path as NSString).lastPathComponent }, ["train-00000.h5", "train-00001.h5", "train-00002.h5"])
        XCTAssertEqual(shards.rowCount, 100)
        XCTAssertEqual(try allRows(shards), try allRows(try ShardSet.open(directory + "/single.h5")))
        // A list file names them in its own order, relative to its directory.
        try "# shards\ntrain-00000.h5\n\ntrain-00001.h5\n\(directory)/train-00002.h5\n"
            .write(toFile: directory + "/train.txt", atomically: true, encoding: .utf8)
        XCTAssertEqual(try ShardSet.open(directory + "/train.txt").files.map(\.path), shards.files.map(\.path))
        XCTAssertNotEqual(try shards.fingerprint(), try ShardSet.open(directory + "/single.h5").fingerprint())
    }

    func testShardsThatDisagreeAreRefusedNamingTheFile() throws {
        let directory = try makeScratchDirectory(self)
        try writeRows(directory + "/part-0.h5", 0..<10)
        try writeDataFile(directory + "/part-1.h5", float32: [Float](repeating: 0, count: 10 * features), rows: 10, features: features)
        assertThrows(try ShardSet.open(directory + "/part-*.h5"),
                     containing: [directory + "/part-1.h5", "float32 [10, 6]", "uint8 [10, 6]", "same row width, dtype and scale"])
        assertThrows(try ShardSet.open(directory + "/none-*.h5"), containing: [directory + "/none-*.h5", "no file matches"])
    }
}
