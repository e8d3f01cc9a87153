import VAECore

/// The slots after the P gradients in a fused buffer, reduced with them.
///
/// [loss, reconstruction, KL sums | stop requests | failure status]: one allreduce,
/// or the slots' sums, carries them. The status comes last:
/// `allreduceSum(_:reportingFailure:)` owns the last element.
enum FusedTail {
    static let loss = 0, reconstruction = 1, kl = 2, stop = 3, status = 4
    static let count = 5
}

/// The sums a step's exchange gives every rank, identical on all of them.
struct ReducedStep {
    var loss = 0.0
    var reconstruction = 0.0
    var kl = 0.0
    var stopRequests = 0
    /// Of the summed gradient, in double.
    ///
    /// Non-finite exactly when a gradient is. Nil when nothing needed it before the
    /// update (the optimizer then checks finiteness).
    var sumOfSquares: Double?

    init() {}

    /// The sums in a reduced tail (`FusedTail`).
    init(tail: UnsafePointer<Float>, sumOfSquares: Double?) {
        loss = Double(tail[FusedTail.loss])
        reconstruction = Double(tail[FusedTail.reconstruction])
        kl = Double(tail[FusedTail.kl])
        stopRequests = Int(tail[FusedTail.stop])
        self.sumOfSquares = sumOfSquares
    }

    /// Whether the loss, and the gradient when its sum of squares was taken, are finite.
    ///
    /// A NaN gradient with a finite loss happens (0 * inf in a backward pass), so the
    /// gradient counts too; without a sum of squares the optimizer's pass checks it.
    var isFinite: Bool { loss.isFinite && sumOfSquares?.isFinite != false }
}

/// What the ranks' optimizer steps reported, combined (the same on every rank).
struct UpdateVerdict {
    /// Every gradient the steps read was finite.
    var gradientFinite: Bool
    /// No step wrote a parameter in the ranges hinted quiet (`QuietRangeOptimizer.leftQuietRangesUnwritten`).
    var quietRangesUnwritten: Bool
}
