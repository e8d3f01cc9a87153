import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The checks every input file passes before vae-dist opens it, and the guard that
/// keeps an output from replacing one.
///
/// Opening a FIFO blocks until a writer appears (forever, for `--data /some/fifo`); a
/// symbolic link loop used to read as "no such file"; and `embed --data D.h5 --out D.h5`,
/// `sample --checkpoint C.h5 --out C.h5` or `prepare x.npy -o x.npy` replaced the very
/// file they read. So an input is looked at with stat() first, never opened unless it is
/// a regular file, and its identity (device and inode, whatever path or link led to
/// it) is remembered; `writeHDF5FileAtomically` and `writeFileAtomically` refuse to
/// replace a file with a remembered identity.
public enum InputFile {
    /// Throws a `DataError` saying what `path` is unless it is a regular file:
    /// missing (`missing` is the message), a dangling link, a link loop, a directory,
    /// a FIFO, a socket or a device. `expected` names what was wanted ("an HDF5 file").
    /// Never opens the path. A regular file is remembered as an input of this process
    /// (when `protectsInputs`).
    public static func requireRegularFile(_ path: String, expected: String = "a regular file",
                                          missing: String = "no such file") throws {
        var status = stat()
        guard stat(path, &status) == 0 else {
            let reason = errno
            var link = stat()
            if reason == ENOENT, lstat(path, &link) == 0, (link.st_mode & S_IFMT) == S_IFLNK {
                let target = (try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?"
                throw DataError(file: path, "is a symbolic link to \(target), which does not exist")
            }
            switch reason {
            case ENOENT: throw DataError(file: path, missing)
            case ELOOP: throw DataError(file: path, "is a symbolic link loop (too many levels of symbolic links), expected \(expected)")
            case ENOTDIR: throw DataError(file: path, "\(missing) (a component of the path is not a directory)")
            case EACCES: throw DataError(file: path, "cannot be reached: permission denied on a directory of its path")
            default: throw DataError(file: path, "cannot look at it: \(String(cString: strerror(reason)))")
            }
        }
        let kind = status.st_mode & S_IFMT
        guard kind == S_IFREG else {
            throw DataError(file: path, "is \(describe(kind)), expected \(expected)"
                            + (kind == S_IFIFO ? ": vae-dist reads its inputs from any offset, which a pipe cannot give; write the data to a file first" : ""))
        }
        if protectsInputs { remember(path, device: UInt64(status.st_dev), inode: UInt64(status.st_ino)) }
    }

    /// "a directory", "a FIFO (named pipe)", ...
    static func describe(_ kind: mode_t) -> String {
        switch kind {
        case S_IFDIR: return "a directory"
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFSOCK: return "a socket"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFLNK: return "a symbolic link"
        default: return "not a regular file"
        }
    }

    // MARK: Outputs never replace inputs

    /// Whether inputs are remembered: on in the `vae-dist` process (set at start-up), off
    /// for library users, whose process may legitimately rewrite a file it read earlier.
    nonisolated(unsafe) public static var protectsInputs = false

    private struct Identity: Hashable { let device: UInt64; let inode: UInt64 }
    private static let lock = NSLock()
    nonisolated(unsafe) private static var inputs: [Identity: String] = [:]

    private static func remember(_ path: String, device: UInt64, inode: UInt64) {
        lock.withLock { inputs[Identity(device: device, inode: inode), default: path] = path }
    }

    /// Throws unless `output` is absent, a regular file, or a symbolic link (which the
    /// rename replaces): renaming a file onto a device, a FIFO or a socket would replace
    /// that node (as root, `--out /dev/null` replaced /dev/null), and onto a directory fails.
    public static func requireReplaceable(_ output: String) throws {
        var status = stat()
        guard lstat(output, &status) == 0 else { return }
        let kind = status.st_mode & S_IFMT
        guard kind != S_IFREG, kind != S_IFLNK else { return }
        throw DataError(file: output, "is \(describe(kind)); an output must be a file to create or replace")
    }

    /// Throws when `output` exists and is the same file (device and inode) as an input
    /// this process read, and that input still is that file (a deleted input's inode may
    /// be reused by a new file).
    public static func requireNotAnInput(_ output: String) throws {
        var status = stat()
        guard protectsInputs, stat(output, &status) == 0 else { return }
        let identity = Identity(device: UInt64(status.st_dev), inode: UInt64(status.st_ino))
        guard let input = lock.withLock({ inputs[identity] }) else { return }
        var now = stat()
        guard stat(input, &now) == 0, now.st_dev == status.st_dev, now.st_ino == status.st_ino else { return }
        let what = input == output ? "is also an input of this command"
            : "is the same file as the input \(input) (the same device and inode, through a link or another path)"
        throw DataError(file: output, "\(what): writing the output there would destroy it; choose another output path")
    }
}
