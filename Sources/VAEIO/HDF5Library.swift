import CHDF5
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
    private static let initialized: Bool = {
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

    /// Closes a handle in a deinit: failures are ignored (nothing sensible to do),
    /// and the error stack is cleared so it cannot leak into the next report.
    static func close(_ id: hid_t, with closeFunction: (hid_t) -> herr_t) {
        locked {
            if closeFunction(id) < 0 { _ = H5Eclear2(vae_h5e_default()) }
        }
    }
}
