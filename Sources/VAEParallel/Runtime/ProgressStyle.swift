import Foundation

/// How a long command shows its progress on rank 0: a bar on a terminal, plain lines in a log.
///
/// A bar redraws one line with carriage returns, which a terminal shows as one moving
/// line and a log file keeps as a mess; so logs (Slurm's batch output, a redirect) get a
/// plain line every `interval` seconds instead.
public enum ProgressStyle: Equatable, Sendable {
    /// One line redrawn in place, at most `columns` characters wide.
    case bar(columns: Int)
    /// A plain line every `interval` seconds.
    case lines(interval: Double)
    case off

    /// What the user asked for (`--progress`), as a style.
    public enum Choice: String, CaseIterable, Sendable {
        case auto, bar, lines, off
    }

    /// The style for `choice`.
    ///
    /// `auto`: a bar when standard error (where progress goes) is a terminal, else lines.
    /// Under Open MPI's mpirun a rank's output is always a pseudo-terminal, even when
    /// mpirun's own output goes to a file; what the user sees is mpirun's, so on the node
    /// where mpirun runs (its parent) the rank looks at mpirun's standard error instead.
    /// Elsewhere (srun, remote nodes) a rank cannot see the user's terminal: lines.
    public static func choose(_ choice: Choice, interval: Double,
                              environment: [String: String] = ProcessInfo.processInfo.environment) -> ProgressStyle {
        switch choice {
        case .off: return .off
        case .lines: return .lines(interval: interval)
        case .bar: return .bar(columns: userTerminalColumns(environment: environment) ?? 80)
        case .auto:
            if let columns = userTerminalColumns(environment: environment) { return .bar(columns: columns) }
            return .lines(interval: interval)
        }
    }

    /// The width of the terminal the user watches, nil when the output is not a terminal.
    static func userTerminalColumns(environment: [String: String]) -> Int? {
        switch Launch.detect(in: environment) {
        case .singleProcess:
            guard isatty(STDERR_FILENO) != 0 else { return nil }
            return columns(of: STDERR_FILENO) ?? environment["COLUMNS"].flatMap(Int.init) ?? 80
        case .mpi:
            guard environment["OMPI_COMM_WORLD_SIZE"] != nil else { return nil }
            // mpirun started this rank itself (its node), so its terminal is the user's.
            let parentOutput = "/proc/\(getppid())/fd/2"
            let descriptor = open(parentOutput, O_WRONLY | O_NOCTTY | O_NONBLOCK)
            guard descriptor >= 0 else { return nil }
            defer { close(descriptor) }
            guard isatty(descriptor) != 0, isMPIRun(getppid()) else { return nil }
            return columns(of: descriptor) ?? 80
        }
    }

    /// The terminal's width in characters, nil when it does not say.
    private static func columns(of descriptor: Int32) -> Int? {
        var size = winsize()
        guard ioctl(descriptor, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return nil }
        return Int(size.ws_col)
    }

    /// Whether process `pid` is Open MPI's launcher (mpirun, mpiexec, orterun, prterun).
    private static func isMPIRun(_ pid: pid_t) -> Bool {
        let name = (try? String(contentsOfFile: "/proc/\(pid)/comm", encoding: .utf8))?
            .trimmingCharacters(in: .whitespacesAndNewlines) ?? ""
        return ["mpirun", "mpiexec", "orterun", "prterun"].contains(name)
    }
}
