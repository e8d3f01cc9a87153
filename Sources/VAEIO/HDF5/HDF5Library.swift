import CHDF5
import CVAECPU
import CVAESupport
import Foundation

/// The one gate to the HDF5 C library.
///
/// Serial HDF5 is thread-safe only when built with --enable-threadsafe (Debian's
/// is; many cluster modules are not), and then only by one global lock of its
/// own. Every wrapper call therefore runs under one process-wide recursive lock
/// (recursive because a deinit may close a handle inside a wrapper call), so the
/// streaming reader's thread is safe on any build.
enum HDF5Library {
    private static let lock = NSRecursiveLock()

    /// Opens the library once and silences its automatic stderr printing:
    /// errors reach the user through `HDF5Error`, once, with context.
    ///
    /// HDF5's exit-time cleanup is switched off (`H5dont_atexit`, which must come before
    /// any other HDF5 call). Every file vae-dist writes is closed explicitly, so that
    /// cleanup has nothing to save; but a file whose close failed (a full disk) stays in
    /// HDF5's list half closed, and HDF5 1.10's cleanup dereferences it and crashes,
    /// turning the clean error already printed into a segfault (status 139).
    private static let initialized: Bool = {
        _ = H5dont_atexit()
        _ = H5open()
        _ = H5Eset_auto2(vae_h5e_default(), nil, nil)
        return true
    }()

    static func locked<T>(_ body: () throws -> T) rethrows -> T {
        precondition(initialized)
        lock.lock()
        defer { lock.unlock() }
        // A thread-safe libhdf5 keeps the printing setting per thread: silence
        // it on whichever thread is calling (cheap next to any HDF5 I/O).
        _ = H5Eset_auto2(vae_h5e_default(), nil, nil)
        return try body()
    }

    /// Runs one HDF5 call that returns a handle or status; a negative result
    /// becomes an `HDF5Error` with the error stack's text.
    @discardableResult
    static func call<T: BinaryInteger>(
        file: String, object: String?, _ operation: @autoclosure () -> String, _ body: () -> T
    ) throws -> T {
        try locked {
            let result = body()
            if result < 0 {
                throw HDF5Error(file: file, object: object, operation: operation(), hdf5Messages: takeErrorStack())
            }
            return result
        }
    }

    /// CPU seconds one read of a file's structure or attributes may use before it counts as
    /// HDF5 looping: such reads take milliseconds.
    static let loopGuardCPUSeconds = 5.0

    /// Runs `body`, which reads a file's structure or attributes, under a CPU-time guard
    /// (`vae_loop_guard_arm`). HDF5 1.10 loops forever on some damaged files (a damaged
    /// global heap: docs/faults.md) and vae-dist's checksum header keeps those away only
    /// from the files vae-dist wrote, so a file from elsewhere could hang the job. Past
    /// `loopGuardCPUSeconds` the process ends with one line naming the file (under mpirun
    /// that ends every rank). Not for reading or writing data: that may take long.
    static func guardingAgainstLoops<T>(file: String, object: String?, _ operation: String,
                                        _ body: () throws -> T) rethrows -> T {
        let location = object.map { "\(file): \($0)" } ?? file
        let message = "\(ProcessInfo.processInfo.processName): error: \(HDF5LoopGuard.rankLabel)\(location): "
            + "cannot \(operation): HDF5 used \(Int(loopGuardCPUSeconds)) s of CPU there without finishing, "
            + "as HDF5 1.10 does forever on some damaged files (a damaged global heap); the file is most likely "
            + "damaged (it has no vae-dist checksum header, which would have said so before HDF5 read it): use an "
            + "intact copy, or write it again (`vae-dist prepare` gives data files the header)"
        // Under the library lock: one thread at a time is guarded, as the guard requires.
        return try locked {
            let armed = vae_loop_guard_arm(loopGuardCPUSeconds, message) == 0
            defer { if armed { vae_loop_guard_disarm() } }
            return try body()
        }
    }

    /// `call` under `guardingAgainstLoops`: for calls that read a file's structure.
    @discardableResult
    static func readingStructure<T: BinaryInteger>(file: String, object: String?, _ operation: String,
                                                   _ body: () -> T) throws -> T {
        try guardingAgainstLoops(file: file, object: object, operation) {
            try call(file: file, object: object, operation, body)
        }
    }

    /// Closes a handle in a deinit: failures are ignored (nothing sensible to do),
    /// and the error stack is cleared so it cannot leak into the next report.
    static func close(_ id: hid_t, with closeFunction: (hid_t) -> herr_t) {
        locked {
            if closeFunction(id) < 0 { _ = H5Eclear2(vae_h5e_default()) }
        }
    }
}

/// How the loop guard's message names this process (`HDF5Library.guardingAgainstLoops`).
public enum HDF5LoopGuard {
    /// "rank R: " in a job of several ranks, as the other errors say it; set once at start-up,
    /// before any thread reads a file.
    nonisolated(unsafe) public static var rankLabel = ""
}
