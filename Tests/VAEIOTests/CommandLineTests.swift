import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

/// The built `vae-dist` binary, run as a user runs it.
final class CommandLineTests: XCTestCase {
    var directory = ""
    var binary = URL(fileURLWithPath: "/")
    override func setUpWithError() throws {
        directory = try makeScratchDirectory(self)
        binary = try vaeDistBinary()
    }

    /// A small IDX pair prepared through the CLI.
    func prepareSmallIDX() throws -> String {
        let rows = 6
        let images = directory + "/images"
        let labels = directory + "/labels"
        try writeFile(images, idxBytes(type: 0x08, dimensions: [rows, 2, 2], payload: (0..<(rows * 4)).map { UInt8($0 * 9) }))
        try writeFile(labels, idxBytes(type: 0x08, dimensions: [rows], payload: [0, 1, 2, 3, 4, 5]))
        let output = directory + "/small.h5"
        let result = try runProcess(binary, ["prepare", "idx", "--images", images, "--labels", labels, "--output", output])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("prepared \(output): /features uint8 [6, 4], /labels [6]"), result.standardOutput)
        return output
    }

    func testInspectShowsLayoutDtypesAndAttributes() throws {
        let output = try prepareSmallIDX()
        let result = try runProcess(binary, ["inspect", output])
        XCTAssertEqual(result.status, 0, result.standardError)
        for fragment in ["@format = \"vae-dist-data\"", "@format_version = 2", "@fingerprint = \"fnv1a64:",
                         "/features  uint8 [6, 4]  chunks [6, 4]  gzip(4)", "@scale = 0.00392156862745098", "/labels  int64 [6]"] {
            XCTAssertTrue(result.standardOutput.contains(fragment), "inspect output lacks '\(fragment)':\n\(result.standardOutput)")
        }
    }

    func testInspectCutsLongStringsAndListsNestedGroups() throws {
        let path = directory + "/checkpoint.h5"
        let file = try HDF5File.create(path)
        try file.root().setAttribute("config", "{\"x\": \"" + String(repeating: "y", count: 500) + "\"}")
        try file.root().writeDataset("model/encoder.fc1.weight", [Float](repeating: 0, count: 6), shape: [3, 2])
        try file.close()
        let result = try runProcess(binary, ["inspect", path])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("/model/"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("/model/encoder.fc1.weight  float32 [3, 2]"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("...\" (509 characters)"), result.standardOutput)
    }

    func testH5dumpReadsWhatPrepareWrites() throws {
        let h5dump = try Prerequisites.tool("h5dump", package: "hdf5-tools", for: "h5dump's view of a prepared file")
        let output = try prepareSmallIDX()
        let result = try runProcess(h5dump, ["-d", "/labels", output])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("(0): 0, 1, 2, 3, 4, 5"), result.standardOutput)
        let header = try runProcess(h5dump, ["-H", "-A", output])
        XCTAssertEqual(header.status, 0, header.standardError)
        XCTAssertTrue(header.standardOutput.contains("DATASET \"features\""), header.standardOutput)
        XCTAssertTrue(header.standardOutput.contains("H5T_STD_U8LE"), header.standardOutput)
    }

    func testH5pyReadsWhatPrepareWritesAndAgreesOnTheFingerprint() throws {
        let output = try prepareSmallIDX()
        let script = """
        import sys, h5py, numpy as np
        with h5py.File(sys.argv[1], "r") as f:
            x = f["features"][...]
            assert x.dtype == np.uint8 and x.shape == (6, 4), (x.dtype, x.shape)
            assert list(f["labels"][...]) == [0, 1, 2, 3, 4, 5]
            assert f.attrs["format"] == "vae-dist-data" and f.attrs["format_version"] == 2
            assert abs(f["features"].attrs["scale"] - 1 / 255) < 1e-15
            assert (x.reshape(-1) == (np.arange(24) * 9).astype(np.uint8)).all()
            h = 0xcbf29ce484222325
            for b in x.tobytes() + f"uint8[{x.shape[0]},{x.shape[1]}]".encode():
                h = ((h ^ b) * 0x100000001b3) % 2**64
            assert f.attrs["fingerprint"] == "fnv1a64:%016x" % h, (f.attrs["fingerprint"], h)
        print("h5py ok")
        """
        let result = try Prerequisites.runPython(["-c", script, output], modules: ["h5py", "numpy"], for: "h5py's view of a prepared file")
        assertSucceeded(result)
        XCTAssertEqual(result.standardOutput, "h5py ok\n")
    }

    func testH5pyWrittenFileIsAcceptedAsItIs() throws {
        let path = directory + "/user.h5"
        let script = """
        import sys, h5py, numpy as np
        with h5py.File(sys.argv[1], "w") as f:
            f["features"] = np.arange(12, dtype=np.uint8).reshape(3, 4)
            f["features"].attrs["scale"] = 1 / 255
            f["labels"] = np.array([7, 8, 9], dtype=np.int32)
        """
        assertSucceeded(try Prerequisites.runPython(["-c", script, path], modules: ["h5py", "numpy"], for: "a file h5py writes"))
        let data = try DataFile.open(path)
        XCTAssertEqual([data.rowCount, data.featureCount], [3, 4])
        XCTAssertEqual(try data.readLabels(), [7, 8, 9])
        let result = try runProcess(binary, ["check", path, "--bernoulli"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("all rows valid for a Bernoulli likelihood"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("\nchecksum none ("), result.standardOutput)
    }

    /// `check` says whether the file's checksum header was verified, as `inspect` does.
    func testCheckReportsTheVerifiedChecksumOfAPreparedFile() throws {
        let output = try prepareSmallIDX()
        let result = try runProcess(binary, ["check", output])
        XCTAssertEqual(result.status, 0, result.standardError)
        let line = result.standardOutput.split(separator: "\n").first { $0.hasPrefix("checksum ") }
        XCTAssertNotNil(line, result.standardOutput)
        XCTAssertTrue(line?.hasPrefix("checksum crc32 ") == true && line?.hasSuffix(": verified") == true, result.standardOutput)
    }

    /// A bad file exits 1, a bad command line 64 (docs/faults.md), each with one line.
    func testUserErrorsAreOneLineWithTheirExitStatus() throws {
        let cases: [([String], Int32, String)] = [
            (["inspect", directory + "/absent.h5"], 1, "absent.h5: no such file"),
            (["check", "/etc/hostname"], 1, "/etc/hostname: is not an HDF5 file"),
            (["prepare", "idx", "--images", directory + "/absent", "--output", directory + "/o.h5"], 1, "absent: no such file"),
            (["prepare", "npy", "x.npy", "-o", "o.h5", "--compression-level", "12"], 64, "--compression-level must be 0 (none) to 9, got 12"),
            (["check", "x.h5", "--memory-budget", "lots"], 64, "--memory-budget must be a byte count"),
            (["check", "x.h5", "--reading", "mmap"], 64, "mmap"),
        ]
        for (arguments, status, fragment) in cases {
            let before = snapshot(directory)
            assertFailed(try runProcess(binary, arguments), status: status, message: [fragment], "\(arguments)")
            assertFilesUnchanged(before, snapshot(directory), "\(arguments)")
        }
    }

    func testUnwritableOutputDirectoryFailsWithoutLeavingAFile() throws {
        let images = directory + "/images"
        try writeFile(images, idxBytes(type: 0x08, dimensions: [1, 1], payload: [1]))
        let unwritable: String
        if getuid() == 0 {
            unwritable = "/sys"  // root may write anywhere but sysfs
        } else {
            unwritable = directory + "/readonly"
            try FileManager.default.createDirectory(atPath: unwritable, withIntermediateDirectories: true,
                                                    attributes: [.posixPermissions: 0o555])
        }
        let result = try runProcess(binary, ["prepare", "idx", "--images", images, "--output", unwritable + "/out.h5"])
        assertFailed(result, status: 1, message: ["cannot create a file in output directory"])
        XCTAssertEqual(result.standardError, "vae-dist: error: \(unwritable)/out.h5: cannot create a file in output directory \(unwritable): Permission denied\n")
        XCTAssertFalse(FileManager.default.fileExists(atPath: unwritable + "/out.h5"))
    }

    func testPrepareFashionMNISTWithoutArgumentsUsesTheDataDirectory() throws {
        _ = try Prerequisites.file(DefaultData.fashionMNISTSourceDirectory + "/t10k-images-idx3-ubyte.gz",
                                   package: "dataset-fashion-mnist", for: "prepare fashion-mnist")
        let dataDirectory = directory + "/data-dir"
        let result = try runProcess(binary, ["prepare", "fashion-mnist"], environment: childEnvironment(["VAE_DIST_DATA_DIR": dataDirectory]), timeout: 120)
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("fashion-mnist-train.h5: /features uint8 [60000, 784], /labels [60000]"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("fashion-mnist-test.h5: /features uint8 [10000, 784], /labels [10000]"), result.standardOutput)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dataDirectory).sorted(),
                       ["fashion-mnist-test.h5", "fashion-mnist-train.h5"])
        // Without the variable: ./data under the working directory.
        let workingDirectory = directory + "/cwd"
        try FileManager.default.createDirectory(atPath: workingDirectory, withIntermediateDirectories: true)
        var environment = childEnvironment()
        environment["VAE_DIST_DATA_DIR"] = nil
        assertSucceeded(try runProcess(binary, ["prepare", "fashion-mnist", "--source-dir", DefaultData.fashionMNISTSourceDirectory],
                                       environment: environment, currentDirectory: workingDirectory, timeout: 120))
        XCTAssertTrue(FileManager.default.fileExists(atPath: workingDirectory + "/data/fashion-mnist-test.h5"))
    }

    func testCheckStreamsAFileLargerThanItsBudget() throws {
        let path = directory + "/big.h5"
        let rows = 4000, features = 256  // 4 MB float32
        try writeDataFile(path, float32: (0..<(rows * features)).map { Float($0 % 97) / 97 }, rows: rows, features: features,
                          chunkRows: 16, gzip: 1)
        // 3 MiB: less than the file, enough slabs for a step's ~80 blocks of 16 KiB (its window is the whole file).
        let result = try runProcess(binary, ["check", path, "--reading", "streaming", "--memory-budget", "3M", "--batch-size", "100"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("read 4000 rows in 40 steps of 100 (blocks of 16 rows shuffled, rows within "
                                                     + "windows of 256 blocks; streaming, whole blocks read ahead"), result.standardOutput)
        let highWater = result.standardOutput.split(separator: "\n").first { $0.hasPrefix("memory budget") }
            .flatMap { line in line.components(separatedBy: "high-water ").last }
            .flatMap { $0.split(separator: "(").last?.split(separator: " ").first }
            .flatMap { Int($0) }
        XCTAssertNotNil(highWater, result.standardOutput)
        XCTAssertLessThanOrEqual(highWater ?? .max, 3 << 20)
    }

    func testPrepareWritesShardsThatReadAsTheOneFile() throws {
        let rows = 250
        let images = directory + "/images"
        let labels = directory + "/labels"
        try writeFile(images, idxBytes(type: 0x08, dimensions: [rows, 30, 30], payload: (0..<(rows * 900)).map { UInt8(($0 * 7) % 251) }))
        try writeFile(labels, idxBytes(type: 0x08, dimensions: [rows], payload: (0..<rows).map { UInt8($0 % 10) }))
        let whole = directory + "/whole.h5"
        XCTAssertEqual(try runProcess(binary, ["prepare", "idx", "--images", images, "--labels", labels, "-o", whole]).status, 0)
        // 900-byte rows: chunks of 72 rows; 100 rows round up to 144.
        try FileManager.default.createDirectory(atPath: directory + "/s", withIntermediateDirectories: false)
        let result = try runProcess(binary, ["prepare", "idx", "--images", images, "--labels", labels, "-o", directory + "/s/train.h5",
                                             "--shard-rows", "100"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let output = result.standardOutput
        XCTAssertEqual(output.split(separator: "\n").filter { $0.hasPrefix("prepared ") }.count, 2, output)
        XCTAssertTrue(output.contains("prepared \(directory)/s/train-00000.h5: /features uint8 [144, 900], /labels [144]"), output)
        XCTAssertTrue(output.contains("prepared \(directory)/s/train-00001.h5: /features uint8 [106, 900], /labels [106]"), output)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory + "/s").sorted(), ["train-00000.h5", "train-00001.h5"])
        let shards = try ShardSet.open(directory + "/s/train-*.h5")
        let one = try ShardSet.open(whole)
        XCTAssertEqual(shards.rowCount, rows)
        XCTAssertEqual(try shards.readLabels(), try one.readLabels())
        XCTAssertEqual(shards.imageShape, one.imageShape)
        XCTAssertEqual(shards.storageBlockShuffle, one.storageBlockShuffle)
        let plan = stride(from: 0, to: rows, by: 9).map { Array($0..<min($0 + 9, rows)) }
        XCTAssertEqual(try readEpoch(try InMemoryMinibatchSource(data: shards, bernoulli: true), plan: plan),
                       try readEpoch(try InMemoryMinibatchSource(data: one, bernoulli: true), plan: plan))
        // check reads the set; a third, stale shard from a longer split is refused before anything is written.
        let check = try runProcess(binary, ["check", directory + "/s/train-*.h5"])
        XCTAssertEqual(check.status, 0, check.standardError)
        XCTAssertTrue(check.standardOutput.hasPrefix("\(directory)/s/train-*.h5 (2 files): uint8 [250, 900]"), check.standardOutput)
        try FileManager.default.copyItem(atPath: whole, toPath: directory + "/s/train-00002.h5")
        let before = snapshot(directory + "/s")
        let refused = try runProcess(binary, ["prepare", "idx", "--images", images, "-o", directory + "/s/train.h5", "--shard-rows", "100"])
        assertFailed(refused, status: 1, message: ["\(directory)/s/train-00002.h5: exists from an earlier prepare into more shards, "
                                                   + "and `\(directory)/s/train-00000.h5 ...` globs would read it too: remove the old shards first"])
        assertFilesUnchanged(before, snapshot(directory + "/s"))
    }

    /// One spelling per concept across subcommands (`--out`, `--batch`); the old ones still work.
    func testOneSpellingPerConceptWithTheOldOnesKept() throws {
        let images = directory + "/images-idx3-ubyte"
        try writeFile(images, idxBytes(type: 0x08, dimensions: [6, 2, 2], payload: (0..<24).map { UInt8($0 * 9) }))
        for (index, spelling) in ["--out", "--output", "-o"].enumerated() {
            let output = directory + "/spelled-\(index).h5"
            let result = try runProcess(binary, ["prepare", "idx", "--images", images, spelling, output])
            XCTAssertEqual(result.status, 0, "\(spelling): \(result.standardError)")
            XCTAssertTrue(FileManager.default.fileExists(atPath: output), spelling)
        }
        for spelling in ["--batch", "--batch-size"] {
            let result = try runProcess(binary, ["check", directory + "/spelled-0.h5", spelling, "4"])
            XCTAssertEqual(result.status, 0, "\(spelling): \(result.standardError)")
            XCTAssertTrue(result.standardOutput.contains("read 6 rows in 2 steps of 4"), "\(spelling): \(result.standardOutput)")
        }
        let refused = try runProcess(binary, ["check", directory + "/spelled-0.h5", "--batch", "0"])
        XCTAssertTrue(refused.standardError.contains("--batch must be at least 1, got 0"), refused.standardError)
    }
}
