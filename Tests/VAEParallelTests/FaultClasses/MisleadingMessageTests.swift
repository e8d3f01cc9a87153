import Foundation
import XCTest
import VAETestSupport
import VAEIO

/// Class 9: the message blames what is wrong: a compression filter this HDF5 lacks, an
/// absurd `scale`, an empty output option; and a long but legal output name works.
final class MisleadingMessageTests: FaultCase {
    func testAFilterThisHDF5LacksIsNamed() throws {
        let path = scratch + "/lzf.h5"
        let script = """
            import sys, h5py, numpy as np
            with h5py.File(sys.argv[1], "w") as f:
                d = f.create_dataset("features", data=np.full((40, 10), 3, np.uint8), chunks=(4, 10), compression="lzf")
                d.attrs["scale"] = 1 / 255
            """
        assertSucceeded(try Prerequisites.runPython(["-c", script, path], modules: ["h5py", "numpy"], for: "an lzf-compressed file"))
        let message = [path + ": /features: is compressed with the HDF5 filter lzf (filter 32000), which this HDF5 cannot decode"]
        try assertRefused(["check", path], message: message)
        try assertRefused(["train", "--data", path, "--out", scratch + "/new", "--no-progress"], message: message)
        try assertRefused(["train", "--data", path, "--out", scratch + "/new", "--no-progress"], ranks: 2, message: message)
    }

    func testAnAbsurdScaleIsCaughtByCheckAndTrain() throws {
        let path = scratch + "/scale.h5"
        try writeDataFile(path, uint8: [UInt8](repeating: 7, count: 40 * 10), rows: 40, features: 10, scale: 1e300)
        let message = [path + ": /features: has scale 1e+300: the byte 255 becomes 2.55e+302"]
        try assertRefused(["check", path], message: message)
        try assertRefused(["train", "--data", path, "--out", scratch + "/new", "--no-progress", "--likelihood", "gaussian"],
                          message: message)
        // A scale within what float32 training can hold is data, not a mistake.
        try writeDataFile(path, uint8: [UInt8](repeating: 7, count: 40 * 10), rows: 40, features: 10, scale: 1000)
        assertSucceeded(try runVAEDist(["check", path]))
    }

    func testAnEmptyOutputOptionIsNamed() throws {
        try assertRefused(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", ""], status: 64,
                          message: ["--out must name a file", "got ''"])
        try assertRefused(["sample", "--checkpoint", run.runDirectory, "--out", ""], status: 64, message: ["--out must name a file"])
        try assertRefused(["prepare", "npy", scratch + "/x.npy", "-o", ""], status: 64, message: ["--out must name a file"])
        try assertRefused(["train", "--data", run.dataPath, "--out", ""], status: 64, message: ["--out must name a directory"])
    }

    /// 250 characters is a legal file name (NAME_MAX is 255); its temporary file's name is cut to fit.
    func testALongLegalOutputNameIsWritten() throws {
        let name = String(repeating: "n", count: 247) + ".h5"
        let out = scratch + "/" + name
        assertSucceeded(try runVAEDist(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", out]))
        XCTAssertEqual(try readDataset(out, "index", as: Int64.self).count, TrainedRun.rows)
        let picture = scratch + "/" + String(repeating: "p", count: 246) + ".png"
        assertSucceeded(try runVAEDist(["sample", "--checkpoint", run.runDirectory, "--out", picture, "--image-shape", "2x5"]))
        XCTAssertEqual(try decodePNG(picture, pixels: false).bit_depth, 8)
        let npy = scratch + "/x.npy"
        try writeFile(npy, npyBytes(descr: "|u1", shape: [4, 3], payload: Array(0..<12)))
        let prepared = scratch + "/" + String(repeating: "d", count: 247) + ".h5"
        assertSucceeded(try runVAEDist(["prepare", "npy", npy, "-o", prepared]))
        XCTAssertEqual(try readDataset(prepared, "features", as: UInt8.self), Array(0..<12))
        XCTAssertFalse(fileNames(scratch).contains { $0.contains(".tmp-") }, "\(fileNames(scratch))")
    }
}
