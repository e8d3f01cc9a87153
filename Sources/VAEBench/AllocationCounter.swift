import Foundation

/// The malloc counter of scripts/malloc-count (an LD_PRELOAD shim), found by symbol at run time.
///
/// Without the shim there is no counter and allocations are "not measured". Reading it
/// allocates nothing, so it can be read inside the step loop.
public struct AllocationCounter {
    private typealias Reader = @convention(c) () -> UInt64
    private typealias Arm = @convention(c) (Int32) -> Void
    private let readCount: Reader
    private let readBytes: Reader
    private let armTrace: Arm?

    /// The shim's counter, or nil when it is not loaded into this process.
    public static func find() -> AllocationCounter? {
        guard let program = dlopen(nil, RTLD_NOW),
              let count = dlsym(program, "vae_malloc_count"),
              let bytes = dlsym(program, "vae_malloc_bytes") else { return nil }
        let trace = dlsym(program, "vae_malloc_trace")
        return AllocationCounter(readCount: unsafeBitCast(count, to: Reader.self),
                                 readBytes: unsafeBitCast(bytes, to: Reader.self),
                                 armTrace: trace.map { unsafeBitCast($0, to: Arm.self) })
    }

    /// malloc, calloc, realloc and aligned allocations made by any thread so far.
    @inline(__always) public var count: UInt64 { readCount() }
    /// Bytes requested by those calls.
    @inline(__always) public var bytes: UInt64 { readBytes() }

    /// Makes the shim print a backtrace (to standard error) of each of the next `allocations` allocations.
    ///
    /// Where a steady-state step allocates.
    public func traceNext(_ allocations: Int) { armTrace?(Int32(allocations)) }
}
