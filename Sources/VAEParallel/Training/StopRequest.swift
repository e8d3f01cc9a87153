import Foundation
import CVAEProcess
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

    /// The signal number this process received first, if any.
    public static var receivedSignal: Int32? {
        let signal = vae_stop_signal()
        return signal == 0 ? nil : signal
    }

    public static var isRequested: Bool { receivedSignal != nil }

    /// Installs the handlers (`vae_stop_requests_install`, in C: a handler may not run Swift).
    ///
    /// The first signal is a request. A second SIGINT, SIGTERM or SIGHUP ends the process
    /// at once with status 75, its temporary files removed (a user who presses Ctrl-C
    /// twice means it, and a scheduler's SIGKILL follows its SIGTERM anyway), except
    /// during a checkpoint write (`whileWritingCheckpoint`), which it lets finish first.
    public static func installSignalHandlers() {
        signals.withUnsafeBufferPointer { signals in
            vae_stop_requests_install(signals.baseAddress, Int32(signals.count), exitCode,
                                      "vae-dist: stopped at once by a second ",
                                      " (after any checkpoint being written was finished); the run continues from "
                                      + "its newest checkpoint with --resume latest")
        }
    }

    /// Runs `body`, a checkpoint write, with a second stop signal held until it has ended.
    static func whileWritingCheckpoint<T>(_ body: () throws -> T) rethrows -> T {
        vae_checkpoint_write_begin()
        defer { vae_checkpoint_write_end() }
        return try body()
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
