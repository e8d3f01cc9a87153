import Foundation
import XCTest
import VAETestSupport
import VAEIO

/// Class 4: an output that is the same file as an input (same device and inode, by
/// the same path, a symbolic link or a hard link) is refused before anything is written.
final class SameFileOutputTests: FaultCase {
    func testEmbedRefusesToWriteOverItsDataOrItsCheckpoint() throws {
        let link = scratch + "/data-link.h5"
        let hard = scratch + "/data-hard.h5"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: run.dataPath)
        XCTAssertEqual(Glibc.link(run.dataPath, hard), 0)
        for out in [run.dataPath, link, hard] {
            try assertRefused(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", out],
                              message: [out + ": ", out == run.dataPath ? "is also an input of this command"
                                                                         : "is the same file as the input \(run.dataPath)",
                                        "choose another output path"])
        }
        try assertRefused(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", checkpoint],
                          message: [checkpoint + ": is also an input of this command"])
    }

    func testEmbedUnderMPIRefusesOnEveryRankAndEndsTheJob() throws {
        try assertRefused(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", run.dataPath],
                          ranks: 2, message: ["is also an input of this command"])
    }

    func testPictureCommandsRefuseToWriteOverTheCheckpointOrTheData() throws {
        try assertRefused(["sample", "--checkpoint", checkpoint, "--out", checkpoint, "--image-shape", "2x5"],
                          message: [checkpoint + ": is also an input of this command"])
        try assertRefused(["sample", "--checkpoint", run.runDirectory, "--out", checkpoint, "--image-shape", "2x5"],
                          message: [checkpoint + ": is also an input of this command"])
        try assertRefused(["reconstruct", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", run.dataPath,
                           "--image-shape", "2x5"],
                          message: [run.dataPath + ": is also an input of this command"])
    }

    func testPrepareRefusesToWriteOverItsSource() throws {
        let npy = scratch + "/x.npy"
        try writeFile(npy, npyBytes(descr: "|u1", shape: [4, 3], payload: Array(0..<12)))
        try assertRefused(["prepare", "npy", npy, "-o", npy], message: [npy + ": is also an input of this command"])
        let images = scratch + "/images-idx3-ubyte"
        let labels = scratch + "/labels-idx1-ubyte"
        try writeFile(images, idxBytes(type: 0x08, dimensions: [2, 2, 2], payload: Array(0..<8)))
        try writeFile(labels, idxBytes(type: 0x08, dimensions: [2], payload: [0, 1]))
        try assertRefused(["prepare", "idx", "--images", images, "--labels", labels, "--output", labels],
                          message: [labels + ": is also an input of this command"])
        let csv = scratch + "/x.csv"
        try Data("1,2\n3,4\n".utf8).write(to: URL(fileURLWithPath: csv))
        let csvLink = scratch + "/x-link.h5"
        try FileManager.default.createSymbolicLink(atPath: csvLink, withDestinationPath: csv)
        try assertRefused(["prepare", "csv", csv, "-o", csvLink], message: ["is the same file as the input \(csv)"])
    }

    func testADistinctOutputBesideTheInputsIsWritten() throws {
        let out = scratch + "/embeddings.h5"
        assertSucceeded(try runVAEDist(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", out]))
        XCTAssertEqual(try readDataset(out, "index", as: Int64.self), (0..<Int64(TrainedRun.rows)).map { $0 })
    }
}
