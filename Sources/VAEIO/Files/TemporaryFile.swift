import CVAEProcess
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// The temporary file an atomic write fills before its rename:
/// `.NAME.tmp-HOST-PID-HEX` beside the output.
///
/// Three things about it. Its name fits NAME_MAX (255 bytes) for any legal output name:
/// NAME is cut to leave room for the suffix (a 250-character `--out` used to fail
/// with "File name too long"). While it exists it is on the list a stop signal's
/// handler removes (`vae_stop_removing_temporaries`), so SIGTERM to `embed` or
/// `prepare` leaves nothing behind. And one left by a process that was killed outright
/// (SIGKILL, a power cut) is swept by the next write of the same output on the same
/// host: its PID no longer runs there.
struct TemporaryFile {
    let path: String
    private let slot: Int32

    /// Creates the temporary file for `output` in `directory`, exclusively; returns its
    /// descriptor (open for writing) beside it, or throws naming the output.
    static func create(for output: String, in directory: String) throws -> (TemporaryFile, Int32) {
        let name = (output as NSString).lastPathComponent
        let path = (directory as NSString).appendingPathComponent(
            prefix(for: name) + "\(hostLabel)-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))")
        let slot = vae_temporary_remember(path)
        let descriptor = open(path, O_WRONLY | O_CREAT | O_EXCL, 0o644)
        guard descriptor >= 0 else {
            let reason = String(cString: strerror(errno))
            vae_temporary_forget(slot)
            throw DataError(file: output, "cannot create a file in output directory \(directory): \(reason)")
        }
        return (TemporaryFile(path: path, slot: slot), descriptor)
    }

    /// Renames the file onto `output`; it is no longer a temporary either way.
    func rename(onto output: String) throws {
        defer { vae_temporary_forget(slot) }
        guard Glibc.rename(path, output) == 0 else {
            let reason = String(cString: strerror(errno))
            unlink(path)
            throw DataError(file: output, "cannot rename \(path) onto it: \(reason)")
        }
    }

    /// Removes the file (a failed write).
    func remove() {
        unlink(path)
        vae_temporary_forget(slot)
    }

    /// `.NAME.tmp-` with NAME cut (on a character boundary) so that the whole name,
    /// suffix included, stays within 255 bytes.
    static func prefix(for name: String) -> String {
        let budget = 255 - ".".utf8.count - ".tmp-".utf8.count - maximumSuffixBytes
        var cut = ""
        for character in name where cut.utf8.count + character.utf8.count <= budget { cut.append(character) }
        return "." + cut + ".tmp-"
    }

    /// HOST-PID-HEX at most: a 32-byte host label, a 10-digit PID, 8 hex digits.
    private static let maximumSuffixBytes = 32 + 1 + 10 + 1 + 8

    /// This host's name up to its first dot, at most 32 bytes, '-' replaced: the
    /// temporaries of other hosts (a shared file system) are theirs to sweep.
    static let hostLabel: String = {
        var buffer = [CChar](repeating: 0, count: 256)
        let host = gethostname(&buffer, 255) == 0
            ? String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self) : "host"
        let label = host.prefix { $0 != "." }.map { $0 == "-" ? "_" : $0 }
        return String(String(label).utf8.prefix(32)) ?? "host"
    }()

    /// Removes the temporaries of `output` in `directory` left by processes of this host
    /// that no longer run; returns their names.
    @discardableResult
    static func sweepStale(for output: String, in directory: String) -> [String] {
        let prefix = prefix(for: (output as NSString).lastPathComponent)
        let names = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
        return names.filter { name in
            guard name.hasPrefix(prefix) else { return false }
            let fields = name.dropFirst(prefix.count).split(separator: "-")
            guard fields.count >= 3, fields.dropLast(2).joined(separator: "-") == hostLabel,
                  let pid = pid_t(fields[fields.count - 2]), pid != getpid(),
                  kill(pid, 0) != 0, errno == ESRCH else { return false }
            return unlink((directory as NSString).appendingPathComponent(name)) == 0
        }
    }
}

/// What a command that writes no checkpoint does on a stop signal.
public enum StopSignals {
    /// The signals a scheduler, a closing terminal or a user sends to stop a process.
    public static let signals: [Int32] = [SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2]

    /// From now on each of `signals` removes the temporary file of any atomic write in
    /// progress, prints one line, and ends the process with `exitStatus`: the output is
    /// never half written, and what existed before is untouched. `train` replaces the
    /// handlers of the signals it answers with a checkpoint (`StopRequest`).
    public static func removeTemporariesAndExit(status exitStatus: Int32) {
        signals.withUnsafeBufferPointer { signals in
            vae_stop_removing_temporaries(signals.baseAddress, Int32(signals.count), exitStatus,
                                          "\(ProcessInfo.processInfo.processName): stopped by ",
                                          " before finishing: nothing was written (an unfinished output is removed); "
                                          + "run the command again")
        }
    }
}
