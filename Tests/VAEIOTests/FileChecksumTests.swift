import Foundation
import XCTest
import VAETestSupport
import VAECore
@testable import VAEIO

/// The checksum header in the user block of every HDF5 file vae-dist writes
/// (ChecksumHeader.swift, FileChecksum.swift): written, verified, and every kind
/// of damage refused before HDF5 opens the file.
final class FileChecksumTests: XCTestCase {
    private var directory = ""

    override func setUpWithError() throws {
        directory = try makeScratchDirectory(self)
    }

    override func tearDown() {
        try? FileManager.default.removeItem(atPath: directory)
    }

    /// A small checkpoint: 10-6-2, Adam state, one mid-epoch attribute set.
    private func checkpoint() -> Checkpoint {
        var configuration = TrainingConfiguration(architecture: ModelArchitecture(
            dataDimension: 10, hiddenSizes: [6], latentDimension: 2, activation: .relu))
        configuration.seed = 7
        let count = configuration.architecture.parameterLayout.totalCount
        let parameters = (0..<count).map { Float($0) / Float(count) - 0.5 }
        return Checkpoint(configuration: configuration, step: 12, epoch: 3, worldSize: 2, dataFingerprint: "fnv1a64:0123456789abcdef",
                          parameters: parameters, optimizerName: "adam",
                          optimizerState: ["m": parameters.map { $0 / 10 }, "v": parameters.map { $0 * $0 }])
    }

    private func writtenCheckpoint(_ name: String = "checkpoint.h5") throws -> String {
        let path = directory + "/" + name
        try checkpoint().write(to: path)
        return path
    }

    private func bytes(_ path: String) throws -> [UInt8] { [UInt8](try Data(contentsOf: URL(fileURLWithPath: path))) }

    private func write(_ bytes: [UInt8], _ name: String) throws -> String {
        let path = directory + "/" + name
        try writeFile(path, bytes)
        return path
    }

    // MARK: Writing

    func testHeaderIsPlainASCIIThatHeadShows() {
        let header = ChecksumHeader(coveredByteCount: 8_123_904, checksum: 0x0e0a_11c3)
        let block = header.bytes
        XCTAssertEqual(block.count, 512)
        let text = String(decoding: block.prefix { $0 != 0 }, as: UTF8.self)
        XCTAssertEqual(text, "vae-dist checksum v1\nalgorithm crc32\noffset 512\nlength 8123904\nchecksum 0e0a11c3\n")
        XCTAssertTrue(String(decoding: block.suffix(30), as: UTF8.self).hasSuffix("HDF5 file follows at byte 512\n"))
        XCTAssertTrue(block.allSatisfy { $0 < 0x80 }, "ASCII only")
        XCTAssertEqual(try ChecksumHeader.parse(block[...]), header)
    }

    func testWrittenCheckpointCarriesAChecksumOfEveryByteAfterTheHeader() throws {
        let path = try writtenCheckpoint()
        let file = try bytes(path)
        guard case .verified(let header) = try FileChecksum.verify(path, kind: "checkpoint") else {
            return XCTFail("a checkpoint vae-dist wrote has no checksum header")
        }
        XCTAssertEqual(header.coveredByteCount, file.count - 512)
        // The same CRC-32 as zlib.crc32 in Python: independent check with the reference polynomial.
        var crc: UInt32 = 0xFFFF_FFFF
        for byte in file[512...] {
            crc ^= UInt32(byte)
            for _ in 0..<8 { crc = (crc >> 1) ^ (crc & 1 == 1 ? 0xEDB8_8320 : 0) }
        }
        XCTAssertEqual(header.checksum, ~crc)
        XCTAssertEqual(Array(file[512..<520]), FileChecksum.hdf5Signature, "HDF5's superblock right after the user block")
        let read = try Checkpoint.read(path)
        XCTAssertEqual(read.parameters, checkpoint().parameters)
        XCTAssertEqual(read.optimizerState, checkpoint().optimizerState)
    }

    func testEveryAtomicallyWrittenHDF5FileIsSealed() throws {
        let path = directory + "/any.h5"
        try writeHDF5FileAtomically(to: path) { try $0.root().setAttribute("note", "prepared data and embeddings too") }
        guard case .verified = try FileChecksum.verify(path, kind: "file") else { return XCTFail("not sealed") }
        XCTAssertEqual(try HDF5File.open(path).root().stringAttribute("note"), "prepared data and embeddings too")
    }

    // MARK: Damage after the header

    func testAByteFlipAnywhereAfterTheHeaderIsAChecksumMismatch() throws {
        let original = try bytes(try writtenCheckpoint())
        // The superblock, the middle (datasets, heaps), the last byte.
        for offset in [512, 515, original.count / 2, original.count - 1] {
            var damaged = original
            damaged[offset] ^= 0x20
            let path = try write(damaged, "flipped-\(offset).h5")
            assertThrows(try Checkpoint.read(path), containing: [path, "checkpoint is corrupt", "checksum mismatch"])
        }
    }

    func testTruncationIsCaughtAtAnyLength() throws {
        let original = try bytes(try writtenCheckpoint())
        for length in [original.count - 1, original.count / 2, 520] {
            let path = try write(Array(original.prefix(length)), "truncated-\(length).h5")
            assertThrows(try Checkpoint.read(path),
                         containing: [path, "truncated", "checksum header covers \(original.count - 512) bytes", "has only \(length - 512)"])
        }
        for length in [511, 100, 21, 5] {
            let path = try write(Array(original.prefix(length)), "truncated-\(length).h5")
            assertThrows(try Checkpoint.read(path), containing: [path, "truncated to \(length) bytes", "checksum header"])
        }
    }

    func testBytesAppendedAfterTheCoveredLengthAreCaught() throws {
        let path = try write(try bytes(try writtenCheckpoint()) + [0, 1, 2], "longer.h5")
        assertThrows(try Checkpoint.read(path), containing: [path, "3 bytes longer than its checksum header says"])
    }

    // MARK: Damage inside the header

    func testDamageInsideTheHeaderIsAnErrorNotAnUnverifiedRead() throws {
        let original = try bytes(try writtenCheckpoint())
        let text = Array(original.prefix { $0 != 0 })
        let lengthDigit = text.count - "checksum 0123abcd\n".count - 2  // last digit of the length line
        let cases: [(offset: Int, byte: UInt8, expected: String)] = [
            (0, UInt8(ascii: "V"), "its first line is not 'vae-dist checksum v1'"),
            (19, UInt8(ascii: "7"), "its first line is 'vae-dist checksum v7'"),
            (25, UInt8(ascii: "X"), "line 2 should be 'algorithm ...'"),
            (text.count - 3, UInt8(ascii: "g"), "the checksum is not 8 hex digits"),
            (300, 1, "bytes other than the header's lines, padding and last line"),  // the padding
            (511, UInt8(ascii: " "), "bytes other than the header's lines"),  // the last line's newline
        ]
        for (offset, byte, expected) in cases {
            var damaged = original
            damaged[offset] = byte
            let path = try write(damaged, "header-\(offset).h5")
            assertThrows(try Checkpoint.read(path), containing: [path, "damaged checksum header", expected])
        }
        // A changed digit still parses: the numbers no longer match the file.
        var length = original
        length[lengthDigit] = length[lengthDigit] == UInt8(ascii: "9") ? UInt8(ascii: "8") : length[lengthDigit] + 1
        let lengthPath = try write(length, "header-length.h5")
        assertThrows(try Checkpoint.read(lengthPath), containing: [lengthPath, "checksum header"])
        var checksum = original
        checksum[text.count - 2] = checksum[text.count - 2] == UInt8(ascii: "0") ? UInt8(ascii: "1") : UInt8(ascii: "0")
        let checksumPath = try write(checksum, "header-checksum.h5")
        assertThrows(try Checkpoint.read(checksumPath), containing: [checksumPath, "checksum mismatch"])
        // The first line overwritten entirely: the last line still marks the block as the header.
        var firstLine = original
        for i in 0..<21 { firstLine[i] = UInt8(ascii: "#") }
        let firstLinePath = try write(firstLine, "header-first-line.h5")
        assertThrows(try Checkpoint.read(firstLinePath), containing: [firstLinePath, "damaged checksum header"])
    }

    // MARK: Files without the header

    func testACheckpointWithoutAUserBlockReadsAsBefore() throws {
        // What vae-dist wrote before checksums, and what h5py writes: no user block at all.
        let path = directory + "/old.h5"
        let file = try HDF5File.create(path)
        try checkpoint().store(in: file)
        try file.close()
        XCTAssertEqual(Array(try bytes(path).prefix(8)), FileChecksum.hdf5Signature)
        XCTAssertEqual(try FileChecksum.verify(path, kind: "checkpoint"), .absent)
        let read = try Checkpoint.read(path)
        XCTAssertEqual(read.parameters, checkpoint().parameters)
        XCTAssertEqual(read.step, 12)
    }

    func testAnotherProgramsUserBlockIsLeftToHDF5() throws {
        // MATLAB's v7.3 .mat files keep text in a 512-byte user block; an empty block is h5py's userblock_size=512.
        let written = try bytes(try writtenCheckpoint())
        var matlab = Array("MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 .".utf8)
        matlab += [UInt8](repeating: 0x20, count: 512 - matlab.count)
        for (name, block) in [("matlab.h5", matlab), ("empty-block.h5", [UInt8](repeating: 0, count: 512))] {
            let path = try write(block + written[512...], name)
            XCTAssertEqual(try FileChecksum.verify(path, kind: "file"), .absent, name)
            XCTAssertEqual(try Checkpoint.read(path).step, 12, name)
        }
    }

    func testNonHDF5FilesAreLeftToTheUsualMessage() throws {
        let path = try write(Array("x,y\n1,2\n".utf8), "table.csv")
        XCTAssertEqual(try FileChecksum.verify(path, kind: "file"), .absent)
        assertThrows(try Checkpoint.read(path), containing: [path, "not an HDF5 file"])
        let empty = try write([], "empty.h5")
        assertThrows(try Checkpoint.read(empty), containing: [empty, "not an HDF5 file"])
    }

    // MARK: Other readers

    func testDataFilesAndInspectVerifyTheirChecksumToo() throws {
        let data = directory + "/data.h5"
        let npy = directory + "/x.npy"
        try writeFile(npy, npyBytes(descr: "|u1", shape: [3, 4], payload: Array(0..<12)))
        _ = try DataPreparation.prepareNPY(npy, output: data)
        XCTAssertEqual(try DataFile.open(data).rowCount, 3)
        XCTAssertTrue(try describeHDF5File(data).contains("checksum crc32"))
        var damaged = try bytes(data)
        damaged[damaged.count - 10] ^= 1
        let path = try write(damaged, "damaged-data.h5")
        assertThrows(try DataFile.open(path), containing: [path, "data file is corrupt", "checksum mismatch"])
        assertThrows(try describeHDF5File(path), containing: [path, "file is corrupt", "checksum mismatch"])
        assertThrows(try ImageShape.stored(in: path), containing: [path, "checksum mismatch"])
    }

    // MARK: Resealing

    func testAFileChangedOnPurposeIsRefusedUntilResealed() throws {
        let path = try writtenCheckpoint()
        let file = try HDF5File.open(path, writable: true)
        try file.root().setAttribute("optimizer", "adam (edited by hand)")
        try file.close()
        XCTAssertThrowsError(try Checkpoint.read(path)) { error in
            // The edit grew the file here; a same-size edit reads "checksum mismatch", with the same advice.
            XCTAssertTrue("\(error)".contains("is corrupt") && "\(error)".contains("vae-dist reseal \(path)"), "\(error)")
        }
        let header = try FileChecksum.reseal(path)
        XCTAssertEqual(try FileChecksum.verify(path, kind: "checkpoint"), .verified(header))
        XCTAssertEqual(try Checkpoint.read(path).optimizerName, "adam (edited by hand)")
    }

    func testResealingAFileWithoutAHeaderIsRefused() throws {
        let path = directory + "/plain.h5"
        let file = try HDF5File.create(path)
        try file.root().setAttribute("format", "anything")
        try file.close()
        let before = try bytes(path)
        XCTAssertThrowsError(try FileChecksum.reseal(path)) { error in
            XCTAssertTrue("\(error)".contains("has no vae-dist checksum header"), "\(error)")
        }
        XCTAssertEqual(try bytes(path), before, "nothing written")
    }
}
