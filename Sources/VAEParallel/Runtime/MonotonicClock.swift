import Foundation

/// Seconds on the monotonic clock: allocation-free, for timing inside the training loop.
@inline(__always)
public func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}
