import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// A checkpoint damaged after vae-dist wrote it, given to the real binary: every command
/// that reads it stops at once with one line naming the file and its checksum, exits 1,
/// and changes nothing in the run directory (no metrics cut, no config rewritten, no
/// checkpoint replaced or pruned, no embeddings written).
final class CorruptCheckpointCommandTests: XCTestCase {
    private var scratch = ""
    private var data = ""
    private var run = ""
    /// The run's newest checkpoint, one byte flipped in its middle.
    private var corrupt = ""

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 61), rows: 37)
        run = scratch + "/run"
        XCTAssertEqual(try runProcess(try vaeDistBinary(), trainArguments(smallConfiguration(epochs: 2), data: data, out: run),
                                      environment: childEnvironment(), timeout: 60).status, 0)
        corrupt = run + "/checkpoint-epoch-0002.h5"
        try flipMiddleByte(of: corrupt)
    }

    /// One bit flipped in the middle of `path`: damage only the checksum can see.
    private func flipMiddleByte(of path: String) throws {
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        bytes[bytes.count / 2] ^= 0x10
        try Data(bytes).write(to: URL(fileURLWithPath: path))
    }

    /// Runs `arguments` (under mpirun when `ranks` is set) and checks the failure and the untouched files.
    private func assertRefused(_ arguments: [String], ranks: Int? = nil, file: StaticString = #filePath, line: UInt = #line) throws {
        let before = snapshot(scratch)
        let result = ranks == nil
            ? try runProcess(try vaeDistBinary(), arguments, environment: childEnvironment(), timeout: 30, file: file, line: line)
            : try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: ranks!, arguments), environment: childEnvironment(),
                             timeout: 60, file: file, line: line)
        let context = "\(arguments.joined(separator: " "))\nstderr:\n\(result.standardError)"
        XCTAssertEqual(result.status, 1, context, file: file, line: line)
        let errors = result.errorLines(containing: "vae-dist: error: ")
        XCTAssertEqual(errors.count, 1, "one line for the job (rank 0 prints an agreed error): \(context)", file: file, line: line)
        if ranks == nil {
            XCTAssertEqual(result.standardError.split(separator: "\n").count, 1, context, file: file, line: line)
        }
        for error in errors {
            // `inspect` reads any file: "file is corrupt"; the others "checkpoint is corrupt".
            XCTAssertTrue(error.contains(corrupt) && error.contains("is corrupt: checksum mismatch"), context, file: file, line: line)
        }
        let after = snapshot(scratch)
        XCTAssertEqual(after.keys.sorted(), before.keys.sorted(), "files appeared or vanished: \(context)", file: file, line: line)
        for (name, bytes) in before where after[name] != bytes {
            XCTFail("\(name) changed: \(context)", file: file, line: line)
        }
    }

    func testResumeFromACorruptCheckpointNamesItAndOverwritesNothing() throws {
        try assertRefused(["train", "--data", data, "--out", run, "--no-progress", "--resume", "latest", "--epochs", "4"])
        try assertRefused(["train", "--data", data, "--out", run, "--no-progress", "--resume", corrupt, "--epochs", "4"])
    }

    func testEveryRankRefusesACorruptCheckpoint() throws {
        try assertRefused(["train", "--data", data, "--out", run, "--no-progress", "--resume", "latest", "--epochs", "4"], ranks: 2)
    }

    func testCommandsThatReadAModelRefuseACorruptCheckpoint() throws {
        try assertRefused(["eval", "--checkpoint", run, "--data", data, "--importance", "0"])
        try assertRefused(["embed", "--checkpoint", run, "--data", data])  // would write run/embeddings.h5
        try assertRefused(["sample", "--checkpoint", corrupt, "--out", run + "/samples.png", "--image-shape", "2x5"])
        try assertRefused(["inspect", corrupt])
    }

    /// A copy of an intact checkpoint with the damage HDF5 1.10 loops on for good: in the
    /// global heap collection holding the string attributes, the `config` object's size
    /// enlarged so that the object walk lands in the collection's zeroed free space (an
    /// object of index 0 and size 0: the walk never moves; H5HG__cache_heap_deserialize).
    /// `withoutHeader`: the checksum header cleared too (all zeros), as a file from a
    /// vae-dist before checksums, or from elsewhere, reaches HDF5 unchecked.
    private func damagedGlobalHeapCopy(withoutHeader: Bool) throws -> String {
        let intact = run + "/checkpoint-epoch-0001.h5"
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: intact)))
        let signature = Array("GCOL".utf8)
        let collection = try XCTUnwrap((0...(bytes.count - 16)).first { Array(bytes[$0..<$0 + 4]) == signature },
                                       "no global heap collection in the checkpoint")
        func little(_ at: Int, _ width: Int) -> Int { (0..<width).reduce(0) { $0 | Int(bytes[at + $1]) << (8 * $1) } }
        var object = collection + 16  // signature, version, reserved, collection size
        var configSizeField: Int?
        while object + 16 <= collection + little(collection + 8, 8), little(object, 2) != 0 {
            let size = little(object + 8, 8)
            if bytes[object + 16] == UInt8(ascii: "{") { configSizeField = object + 8 }
            object += 16 + (size + 7) / 8 * 8
        }
        let field = try XCTUnwrap(configSizeField, "no JSON config object in the global heap")
        let enlarged = little(field, 8) + 32
        for i in 0..<8 { bytes[field + i] = UInt8((enlarged >> (8 * i)) & 0xFF) }
        if withoutHeader {
            XCTAssertEqual(Array(bytes[0..<20]), Array("vae-dist checksum v1".utf8), "the header is where it was")
            for i in 0..<512 { bytes[i] = 0 }
        }
        let damaged = scratch + (withoutHeader ? "/heap-unprotected.h5" : "/heap.h5")
        try Data(bytes).write(to: URL(fileURLWithPath: damaged))
        return damaged
    }

    /// With the header, the damaged heap is refused before HDF5 opens the file.
    func testADamagedGlobalHeapIsRefusedBeforeHDF5CanLoopOnIt() throws {
        let damaged = try damagedGlobalHeapCopy(withoutHeader: false)
        let result = try runProcess(try vaeDistBinary(), ["eval", "--checkpoint", damaged, "--data", data, "--importance", "0"],
                                    environment: childEnvironment(), timeout: 20)
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertTrue(result.standardError.contains("\(damaged): checkpoint is corrupt: checksum mismatch"), result.standardError)
    }

    /// Without the header HDF5 loops on it (`vae-dist eval` hung before the loop guard):
    /// after 5 s of CPU in the attribute read the process ends with one line naming the
    /// file and what it was reading, status 1, and nothing written.
    func testADamagedGlobalHeapWithoutTheHeaderEndsInSecondsNotAHang() throws {
        let damaged = try damagedGlobalHeapCopy(withoutHeader: true)
        let before = snapshot(scratch)
        let started = Date()
        let result = try runProcess(try vaeDistBinary(), ["eval", "--checkpoint", damaged, "--data", data, "--importance", "0"],
                                    environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(result.status, 1, result.standardError)
        let lines = result.standardError.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, result.standardError)
        XCTAssertTrue(lines.first?.hasPrefix("vae-dist: error: \(damaged): /: cannot read attribute '") ?? false,
                      result.standardError)
        XCTAssertTrue(result.standardError.contains("HDF5 used 5 s of CPU there without finishing"), result.standardError)
        XCTAssertLessThan(Date().timeIntervalSince(started), 45, "the guard counts 5 s of CPU")
        XCTAssertEqual(snapshot(scratch), before)
    }

    /// The same under mpirun: each rank's guard ends it, and the job ends (no hang).
    func testADamagedGlobalHeapWithoutTheHeaderEndsEveryRank() throws {
        let damaged = try damagedGlobalHeapCopy(withoutHeader: true)
        let result = try runProcess(try mpirunExecutable(),
                                    try mpirunArguments(ranks: 2, ["embed", "--checkpoint", damaged, "--data", data,
                                                                   "--out", scratch + "/embedded.h5"]),
                                    environment: childEnvironment(), timeout: 90)
        XCTAssertEqual(result.status, 1, result.standardError)
        let errors = result.errorLines(containing: "vae-dist: error: rank ")
        XCTAssertFalse(errors.isEmpty, result.standardError)
        for error in errors {
            XCTAssertTrue(error.contains("\(damaged): /: cannot read attribute '") && error.contains("s of CPU"),
                          result.standardError)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch + "/embedded.h5"))
    }

    /// A damaged data file that vae-dist prepared: rank 0 alone reads it for its checksum,
    /// and every rank stops with its message before any rank hands the file to HDF5.
    func testEveryRankStopsOnACorruptPreparedDataFileThatRankZeroChecked() throws {
        let prepared = try writePreparedDataFile(in: scratch, seed: 67)
        try flipMiddleByte(of: prepared)
        let out = scratch + "/from-prepared"
        let result = try runProcess(try mpirunExecutable(),
                                    try mpirunArguments(ranks: 2, ["train", "--data", prepared, "--out", out, "--no-progress"]),
                                    environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(result.status, 1, result.standardError)
        let errors = result.errorLines(containing: "vae-dist: error: ")
        XCTAssertEqual(errors.count, 1, "one line for the job:\n\(result.standardError)")
        for error in errors {
            XCTAssertTrue(error.contains("\(prepared): data file is corrupt: checksum mismatch"), result.standardError)
        }
    }

    /// `vae-dist reseal` after a change made on purpose: the file reads again, here
    /// resuming a run whose checkpoint was edited through HDF5.
    func testResealAcceptsAFileChangedOnPurpose() throws {
        let edited = run + "/checkpoint-epoch-0001.h5"
        let file = try HDF5File.open(edited, writable: true)
        try file.root().setAttribute("optimizer", "adam")  // the same value, written again: the bytes change
        try file.close()
        let resealed = try runProcess(try vaeDistBinary(), ["reseal", edited], environment: childEnvironment(), timeout: 20)
        XCTAssertEqual(resealed.status, 0, resealed.standardError)
        XCTAssertTrue(resealed.standardOutput.hasPrefix("\(edited): crc32 "), resealed.standardOutput)
        let inspected = try runProcess(try vaeDistBinary(), ["inspect", edited], environment: childEnvironment(), timeout: 20)
        XCTAssertTrue(inspected.standardOutput.contains("verified"), inspected.standardOutput)
        let resumed = try runProcess(try vaeDistBinary(),
                                     ["train", "--data", data, "--out", run, "--no-progress", "--resume", edited, "--epochs", "3"],
                                     environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
    }

    func testAnOlderIntactCheckpointStillResumes() throws {
        // What the message tells the user to do: the previous checkpoint is sealed and intact.
        let resumed = try runProcess(try vaeDistBinary(),
                                     ["train", "--data", data, "--out", run, "--no-progress",
                                      "--resume", run + "/checkpoint-epoch-0001.h5", "--epochs", "3"],
                                     environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertEqual(try Checkpoint.read(run + "/checkpoint-epoch-0003.h5").epoch, 3)
    }
}
