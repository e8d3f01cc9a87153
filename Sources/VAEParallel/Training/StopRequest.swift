import Foundation
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// A request to stop training at the next step boundary, made by a signal.
///
/// The scheduler's warning before preemption or the time limit (Slurm
/// `--signal=B:USR1@120`, forwarded by the job script), SIGTERM from
/// `scancel`/`qdel`/preemption, or Ctrl-C. The handler only stores the signal number in
/// an atomic; the trainer reads it once per step and folds it into the step's allreduce,
/// so every rank stops after the same step.
public enum StopRequest {
    /// The signals that ask for a checkpoint and a clean stop.
    /// SIGHUP too: the ssh session or terminal a run was started from has closed.
    public static let signals: [Int32] = [SIGTERM, SIGUSR1, SIGUSR2, SIGINT, SIGHUP]

    /// The first stop signal received by this process, or 0.
    private static let received = Atomic<Int32>(0)

    /// The signal number this process received first, if any.
    public static var receivedSignal: Int32? {
        let signal = received.load(ordering: .relaxed)
        return signal == 0 ? nil : signal
    }

    public static var isRequested: Bool { receivedSignal != nil }

    /// Installs the handlers.
    ///
    /// A second SIGINT or SIGTERM ends the process at once (SA_RESETHAND): a user who
    /// presses Ctrl-C twice means it, and a scheduler's SIGKILL follows its SIGTERM
    /// anyway.
    public static func installSignalHandlers() {
        _ = received.load(ordering: .relaxed)  // initialise the global before a handler can touch it
        for signal in signals {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { signal in
                // Async-signal-safe: one lock-free atomic store and nothing else.
                _ = StopRequest.received.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
            }
            sigemptyset(&action.sa_mask)
            action.sa_flags = SA_RESTART | ((signal == SIGINT || signal == SIGTERM) ? Int32(bitPattern: UInt32(SA_RESETHAND)) : 0)
            sigaction(signal, &action, nil)
        }
    }

    /// "SIGTERM", "SIGUSR1", ... for messages.
    public static func name(of signal: Int32) -> String {
        switch signal {
        case SIGTERM: return "SIGTERM"
        case SIGUSR1: return "SIGUSR1"
        case SIGUSR2: return "SIGUSR2"
        case SIGINT: return "SIGINT"
        case SIGHUP: return "SIGHUP"
        default: return "signal \(signal)"
        }
    }

    /// The exit status of a run that stopped on request after writing a checkpoint.
    ///
    /// EX_TEMPFAIL from sysexits.h, "temporary failure, try again" — resume me.
    public static let exitCode: Int32 = 75
}
