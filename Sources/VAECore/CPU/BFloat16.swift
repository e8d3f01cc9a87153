import CVAEKernels

/// The bfloat16 rounding of GEMM inputs under `--precision bf16` (docs/algorithm.md).
///
/// bfloat16 keeps float32's sign and 8-bit exponent and the top 7 bits of its fraction,
/// so a value is its float32 pattern's upper half, rounded to nearest, ties to even.
/// Zeros and float32 subnormals become a zero of their sign (the bf16 dot-product
/// instructions treat subnormal inputs as zero anyway), NaN stays NaN (quiet), and
/// values past the largest bf16 round to infinity. `vae_round_to_bfloat16` does it with
/// integer operations only, so the bits are the same on every CPU.
public enum BFloat16 {
    /// The bf16 pattern of `value`.
    public static func bits(_ value: Float) -> UInt16 {
        var input = value
        var output: UInt16 = 0
        vae_round_to_bfloat16(&input, 1, 1, 1, &output, 1)
        return output
    }

    /// `value` rounded to bf16, as a float32 (exact: every bf16 is a float32).
    public static func rounded(_ value: Float) -> Float {
        Float(bitPattern: UInt32(bits(value)) << 16)
    }
}
