import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Where every line vae-dist prints goes: one helper for all commands.
///
/// Lines are written straight to the file descriptor (no stdio buffer), so what was
/// printed survives mpirun killing the job after a failure. Under mpirun every rank
/// shares the terminal: results and progress are printed by rank 0 only
/// (`Communicator.printOnRoot`, llm.c's printf0), errors by the rank that has them.
///
/// A log that cannot be written never costs the run: standard output closed, on a full
/// disk, or piped to `head` that has exited. A failed write gives that stream up (one
/// warning on standard error says so) and the command goes on; SIGPIPE is ignored
/// (`protectStandardStreams`), so a broken pipe is an error to handle, not a death.
public enum Console {
    /// Writes `line` and a newline to standard output.
    public static func print(_ line: String) {
        write(line + "\n", to: STDOUT_FILENO)
    }

    /// Writes `text` to standard error as it is (the progress bar's carriage returns).
    public static func writeError(_ text: String) {
        write(text, to: STDERR_FILENO)
    }

    /// Writes `line` to standard error as one line.
    ///
    /// A message with line breaks (some library texts have them) is joined, so that
    /// each rank's error stays one grep-able line.
    public static func printError(_ line: String) {
        let text = line.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }
            .joined(separator: " ")
        write(text + "\n", to: STDERR_FILENO)
    }

    /// Call first thing in a process: SIGPIPE ignored, and descriptors 0, 1 and 2 held
    /// open (on /dev/null when the caller closed one: the next file opened, a checkpoint
    /// say, would otherwise become "standard output" and receive the log).
    public static func protectStandardStreams() {
        signal(SIGPIPE, SIG_IGN)
        for descriptor in [STDIN_FILENO, STDOUT_FILENO, STDERR_FILENO] where fcntl(descriptor, F_GETFD) == -1 {
            let opened = open("/dev/null", descriptor == STDIN_FILENO ? O_RDONLY : O_WRONLY)
            if opened >= 0 && opened != descriptor {
                dup2(opened, descriptor)
                close(opened)
            }
            if descriptor != STDIN_FILENO { lostStreams.bitwiseOr(1 << descriptor, ordering: .relaxed) }
        }
    }

    /// The streams given up on: bit 1 standard output, bit 2 standard error.
    private static let lostStreams = Atomic<Int>(0)

    /// Writes all of `text`; on a failure other than an interruption, gives the stream up.
    private static func write(_ text: String, to descriptor: Int32) {
        guard lostStreams.load(ordering: .relaxed) & (1 << descriptor) == 0 else { return }
        var bytes = Array(text.utf8)[...]
        while !bytes.isEmpty {
            let written = bytes.withUnsafeBytes { Glibc.write(descriptor, $0.baseAddress, $0.count) }
            if written > 0 { bytes = bytes.dropFirst(written); continue }
            if written < 0 && errno == EINTR { continue }
            if written < 0 && errno == EAGAIN {
                var ready = pollfd(fd: descriptor, events: Int16(POLLOUT), revents: 0)
                if poll(&ready, 1, 1000) > 0 { continue }
            }
            giveUp(descriptor, reason: written < 0 ? String(cString: strerror(errno)) : "nothing written")
            return
        }
    }

    private static func giveUp(_ descriptor: Int32, reason: String) {
        let before = lostStreams.bitwiseOr(1 << descriptor, ordering: .relaxed).oldValue
        guard before & (1 << descriptor) == 0, descriptor == STDOUT_FILENO else { return }
        write("vae-dist: warning: standard output cannot be written (\(reason)); going on without it "
              + "(files are written as before)\n", to: STDERR_FILENO)
    }
}

extension Communicator {
    /// Prints `line` on rank 0 only, through `output` (standard output by default).
    ///
    /// The other ranks would print the same line again; a job says each thing once.
    public func printOnRoot(_ line: @autoclosure () -> String, to output: (String) -> Void = Console.print) {
        if isRoot { output(line()) }
    }
}
