import CVAECPU

/// Control of subnormal floats on the calling thread.
///
/// Dying ReLU units drive their Adam moments into the subnormal range, where
/// x86 arithmetic is many times slower; flushing them to zero keeps step time
/// flat and changes no printed digit of the losses (see docs/performance.md).
public enum FloatingPointEnvironment {
    public static func enableFlushToZero() { vae_enable_flush_to_zero() }
    public static var flushToZeroEnabled: Bool { vae_flush_to_zero_enabled() != 0 }
}
