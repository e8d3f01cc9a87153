import Foundation
import XCTest

/// A tmpfs of a few pages mounted for one test, to fill a disk for real (ENOSPC from the
/// kernel, at whichever write or close meets it). Needs the right to mount: root in most
/// containers; elsewhere the test is skipped, saying so.
public struct SmallFilesystem {
    public let path: String

    /// Mounts a tmpfs of `bytes` at `path` (created), unmounted when the test ends.
    public static func mount(bytes: Int, at path: String, for testCase: XCTestCase) throws -> SmallFilesystem {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        let mount = try runProcess(URL(fileURLWithPath: "/bin/mount"), ["-t", "tmpfs", "-o", "size=\(bytes)", "tmpfs", path],
                                   timeout: 10)
        guard mount.status == 0 else {
            throw XCTSkip("cannot mount a tmpfs here to fill a disk (\(mount.standardError.trimmingCharacters(in: .whitespacesAndNewlines)))")
        }
        testCase.addTeardownBlock { _ = try? runProcess(URL(fileURLWithPath: "/bin/umount"), [path], timeout: 10) }
        return SmallFilesystem(path: path)
    }

    /// Bytes still free for an unprivileged writer.
    public var freeBytes: Int {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return 0 }
        return Int(stats.f_bavail) * Int(stats.f_frsize)
    }

    /// Fills all but `leaving` bytes with files named `filler*`; with 0, to the last byte.
    public func fill(leaving: Int) throws {
        let filler = path + "/filler\(fileNames(path).filter { $0.hasPrefix("filler") }.count)"
        let descriptor = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        guard descriptor >= 0 else { throw TestSetupError("cannot create \(filler)") }
        defer { close(descriptor) }
        let block = [UInt8](repeating: 0, count: 4096)
        var room = freeBytes - leaving
        while room > 0 || leaving == 0 {
            let count = leaving == 0 ? block.count : min(block.count, room)
            if write(descriptor, block, count) <= 0 { break }  // ENOSPC: full
            room -= count
        }
    }
}
