/// Sums over the rows of one evaluation, in nats. Divide by `rows` for per-datapoint values.
public struct LossTerms: Sendable, Equatable {
    /// beta-weighted objective: recon + beta * kl, summed over rows.
    public var loss: Double = 0
    /// (1/L) sum_l -log p(x|z_l), summed over rows.
    public var reconstruction: Double = 0
    /// KL(q || p): analytic for estimator B, the Monte Carlo estimate for A.
    public var kl: Double = 0
    public var rows: Int = 0

    public init() {}

    /// Negative ELBO per datapoint (beta = 1), the number every report shows.
    public var negativeELBOPerRow: Double { rows == 0 ? 0 : (reconstruction + kl) / Double(rows) }
}
