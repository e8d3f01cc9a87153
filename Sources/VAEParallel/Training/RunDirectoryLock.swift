import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The exclusive lock a run holds on its run directory, for as long as it runs.
///
/// Two `train`s into one `--out`, or two `--resume latest` of one run (a Slurm requeue
/// while the old job is still finishing), used to both run, interleaving metrics.jsonl
/// and mixing checkpoints. Rank 0 takes flock(2) on `RUN/.vae-dist.lock` before it reads
/// or writes anything of the run; a second process is refused. The kernel drops the lock
/// when the process ends, however it ends, so a crash never leaves it stale (the file
/// stays; only the lock matters). On NFS, Linux turns flock into a whole-file POSIX lock
/// that the server arbitrates, so jobs on different nodes exclude each other too.
final class RunDirectoryLock {
    static let fileName = ".vae-dist.lock"
    /// The lock file's constant content, written when it is created (a lock never changes it).
    private static let note = "vae-dist train holds flock(2) on this file while it runs in this directory; "
        + "the kernel releases it when that process ends. Keep the file.\n"

    private var descriptor: Int32

    /// Takes the lock on `directory`, which exists; throws naming the directory when
    /// another process holds it.
    init(directory: String) throws {
        let path = (directory as NSString).appendingPathComponent(Self.fileName)
        var descriptor = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0o644)
        if descriptor >= 0 {
            _ = Self.note.withCString { write(descriptor, $0, strlen($0)) }
        } else if errno == EEXIST {
            descriptor = open(path, O_RDWR | O_CLOEXEC)
        }
        guard descriptor >= 0 else {
            throw TrainingSetupError("cannot lock run directory \(directory): \(path): \(String(cString: strerror(errno)))")
        }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            let reason = errno
            close(descriptor)
            if reason == EWOULDBLOCK {
                throw TrainingSetupError("--out \(directory) is in use by another vae-dist train (it holds the lock on "
                                         + "\(path)): two runs in one directory would mix their checkpoints and "
                                         + "metrics.jsonl; wait for that run to end, or choose another --out")
            }
            throw TrainingSetupError("cannot lock run directory \(directory): \(path): \(String(cString: strerror(reason)))")
        }
        self.descriptor = descriptor
    }

    /// Releases the lock (closing the file does).
    func release() {
        guard descriptor >= 0 else { return }
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}
