import CVAEKernels

/// Bernoulli on logits: -log p = softplus(y) - x y, written to never overflow.
public struct BernoulliLikelihood: Likelihood {
    public init() {}
    public var name: String { "bernoulli" }
    public var requiresUnitInterval: Bool { true }

    public func negativeLogLikelihood(
        data: UnsafePointer<Float>, output: UnsafePointer<Float>, count: Int,
        gradientScale: Float, gradient: UnsafeMutablePointer<Float>
    ) -> Double {
        // One fused pass (CVAEKernels): e = exp(-|y|) in (0, 1] never overflows and gives
        // both the loss (through log1p) and sigmoid(y) for the gradient. `gradient` may be `output`.
        let total = vae_bernoulli_nll(data, output, gradient, count, gradientScale)
        return Double(total)
    }
}
