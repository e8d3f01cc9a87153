import CVAEKernels

/// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_), as a factor.
///
/// The optimizer applies the factor while it reads the gradient (no pass of its own).
public enum GradientClipping {
    /// The sum of squares of `count` floats in Double: non-finite exactly when a value is.
    public static func sumOfSquares(_ values: UnsafePointer<Float>, count: Int) -> Double {
        vae_sum_of_squares(values, count)
    }

    /// The L2 norm of the whole buffer.
    public static func norm(_ gradients: UnsafeBufferPointer<Float>) -> Double {
        guard let base = gradients.baseAddress else { return 0 }
        return sumOfSquares(base, count: gradients.count).squareRoot()
    }

    /// The factor that brings a gradient of norm `norm` to at most `maxNorm`.
    public static func factor(norm: Double, maxNorm: Double) -> Float {
        norm > maxNorm ? Float(maxNorm / (norm + 1e-6)) : 1
    }
}
