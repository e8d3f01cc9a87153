import Foundation
import XCTest
import VAETestSupport
import VAEIO

/// Class 6: an input that is not a regular file (a FIFO, a symbolic link loop, a
/// dangling link, a directory, a device) is refused at once, saying what it is; nothing
/// blocks in open(), which for a FIFO used to wait forever for a writer.
final class SpecialFileTests: FaultCase {
    private var fifo = "", loop = "", dangling = ""

    override func setUpWithError() throws {
        try super.setUpWithError()
        fifo = scratch + "/fifo.h5"
        XCTAssertEqual(mkfifo(fifo, 0o644), 0)
        loop = scratch + "/loop.h5"
        try FileManager.default.createSymbolicLink(atPath: loop, withDestinationPath: scratch + "/loop2.h5")
        try FileManager.default.createSymbolicLink(atPath: scratch + "/loop2.h5", withDestinationPath: loop)
        dangling = scratch + "/dangling.h5"
        try FileManager.default.createSymbolicLink(atPath: dangling, withDestinationPath: scratch + "/absent.h5")
    }

    /// What each special input is called in the message.
    private var kinds: [(path: String, says: String)] {
        [(fifo, "is a FIFO (named pipe)"), (loop, "is a symbolic link loop"),
         (dangling, "is a symbolic link to \(scratch)/absent.h5, which does not exist"),
         (scratch, "is a directory"), ("/dev/null", "is a character device")]
    }

    func testCheckAndInspectRefuseEverySpecialFileWithoutBlocking() throws {
        for (path, says) in kinds {
            for command in ["check", "inspect"] {
                try assertRefused([command, path], message: [path + ": " + says], timeout: 20)
            }
        }
    }

    func testTrainRefusesAFIFOAsDataOnEveryRank() throws {
        try assertRefused(["train", "--data", fifo, "--out", scratch + "/new", "--no-progress"],
                          message: [fifo + ": is a FIFO (named pipe), expected an HDF5 file"], timeout: 20)
        try assertRefused(["train", "--data", fifo, "--out", scratch + "/new", "--no-progress"], ranks: 2,
                          message: [fifo + ": is a FIFO (named pipe)"], timeout: 30)
        try assertRefused(["train", "--data", run.dataPath, "--test-data", loop, "--out", scratch + "/new", "--no-progress"],
                          message: [loop + ": is a symbolic link loop"], timeout: 20)
    }

    func testCheckpointInputsRefuseSpecialFiles() throws {
        for (path, says) in kinds where path != scratch {
            try assertRefused(["eval", "--checkpoint", path, "--data", run.dataPath, "--importance", "0"],
                              message: [path + ": " + says], timeout: 20)
        }
        try assertRefused(["train", "--data", run.dataPath, "--out", run.runDirectory, "--resume", fifo, "--no-progress"],
                          message: [fifo + ": is a FIFO (named pipe), expected a checkpoint file"], timeout: 20)
    }

    func testPrepareAndResealRefuseSpecialSources() throws {
        for (path, says) in kinds {
            try assertRefused(["prepare", "npy", path, "-o", scratch + "/out.h5"], message: [path + ": " + says], timeout: 20)
            try assertRefused(["reseal", path], message: [path + ": " + says], timeout: 20)
        }
        try assertRefused(["prepare", "idx", "--images", fifo, "--output", scratch + "/out.h5"],
                          message: [fifo + ": is a FIFO (named pipe)"], timeout: 20)
        try assertRefused(["prepare", "csv", fifo, "-o", scratch + "/out.h5"], message: [fifo + ": is a FIFO (named pipe)"],
                          timeout: 20)
    }

    /// An output that exists and is not a regular file is refused, not replaced: as root, a
    /// rename onto `--out /dev/null` would replace the system's /dev/null.
    func testOutputsThatAreSpecialFilesAreNotReplaced() throws {
        var outputs = [(fifo, "is a FIFO (named pipe)"), (scratch, "is a directory")]
        let device = scratch + "/null-device"
        // Major 1, minor 3: what /dev/null is (mknod needs root; without it the case is left out).
        if mknod(device, S_IFCHR | 0o666, dev_t(1 << 8 | 3)) == 0 { outputs.append((device, "is a character device")) }
        for (out, says) in outputs {
            try assertRefused(["sample", "--checkpoint", run.runDirectory, "--out", out, "--image-shape", "2x5"],
                              message: [out + ": " + says + "; an output must be a file to create or replace"], timeout: 20)
            try assertRefused(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", out],
                              message: [out + ": " + says], timeout: 20)
        }
    }
}
