import Foundation
import XCTest
import VAETestSupport
import VAEIO

/// Class 1: a full disk under `prepare -o`, `embed --out` and `sample --out` is one line
/// naming the output and "No space left on device", status 1 and not a signal: HDF5's
/// exit-time cleanup used to segfault (139) on the file whose close had failed. Nothing
/// is left on the disk, and the inputs are untouched. (Checkpoints: FaultTests.)
final class DiskFullTests: FaultCase {
    private func random(_ count: Int) throws -> [UInt8] {
        Array(try XCTUnwrap(FileHandle(forReadingAtPath: "/dev/urandom")).readData(ofLength: count))
    }

    /// The sizes that reproduced the segfault: the data fits HDF5's caches, then the close fails.
    func testPrepareOntoAFullDiskFailsCleanlyWhereverTheWriteFails() throws {
        let disk = try SmallFilesystem.mount(bytes: 1 << 20, at: scratch + "/disk", for: self)
        for rows in [1400, 2500, 4000] {
            let npy = scratch + "/x\(rows).npy"
            try writeFile(npy, npyBytes(descr: "|u1", shape: [rows, 784], payload: try random(rows * 784)))
            let out = disk.path + "/x.h5"
            try assertRefused(["prepare", "npy", npy, "-o", out, "--compression-level", "1"],
                              message: [out + ": cannot write it", "No space left on device"], watching: [disk.path])
        }
    }

    func testEmbedAndSampleOntoAFullDiskFailCleanly() throws {
        let disk = try SmallFilesystem.mount(bytes: 1 << 20, at: scratch + "/disk", for: self)
        try disk.fill(leaving: 16 << 10)
        let tall = scratch + "/tall.h5"
        try writeDataFile(tall, uint8: try random(60_000 * 10), rows: 60_000, features: 10, chunkRows: 1000)
        let out = disk.path + "/embeddings.h5"
        try assertRefused(["embed", "--checkpoint", run.runDirectory, "--data", tall, "--out", out],
                          message: [out + ": cannot write it", "No space left on device"], watching: [disk.path])
        try assertRefused(["embed", "--checkpoint", run.runDirectory, "--data", tall, "--out", out], ranks: 2,
                          message: [out + ": cannot write it", "No space left on device"], watching: [disk.path])
        try disk.fill(leaving: 0)
        let picture = disk.path + "/samples.png"
        try assertRefused(["sample", "--checkpoint", run.runDirectory, "--out", picture, "--image-shape", "2x5"],
                          message: [picture, "No space left on device"], watching: [disk.path])
    }
}
