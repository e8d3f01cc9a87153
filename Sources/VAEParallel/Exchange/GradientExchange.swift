import VAECore

/// How the ranks turn their local gradients into one update, the same on every rank.
///
/// A training step, whatever the exchange:
///
///     the backward writes localGradient      [gradients (P) | FusedTail], this rank's rows
///     reduce                                  every rank gets the same loss sums, stop
///                                             requests and (where needed) sum of squares
///     update                                  the optimizer applies the summed gradient
///
/// Three implementations (docs/parallel.md): `AllreduceExchange`, one blocking
/// allreduce of the fused buffer; `OverlappedAllreduceExchange`, the decoder's bucket
/// reduced while the encoder's backward runs; `SharedMemoryExchange`, the ranks of a
/// node sum each other's slots in a shared window and each updates one range. The
/// trainer's loop is the same for all three (and for one process, where the
/// allreduce is the identity).
///
/// A rank whose local step failed still calls `reduce` with its failure: every rank
/// then throws the same `RankFailure`, and nobody waits in a collective.
protocol GradientExchange: AnyObject {
    /// The parameters every forward reads (on one node, one copy in shared memory).
    var parameters: FloatBuffer { get }
    /// This rank's fused buffer: the backward's gradients, then the `FusedTail` slots.
    var localGradient: FloatBuffer { get }
    /// Seconds spent synchronizing and summing outside the communicator (the shared-memory exchange).
    ///
    /// An allreduce's time is the communicator's to measure.
    var exchangeSeconds: Double { get }
    /// One banner line: how this exchange combines the ranks' gradients.
    var summary: String { get }

    /// Called once the decoder's gradients and the loss sums are final, before the encoder's backward.
    ///
    /// An exchange may start reducing them then.
    func decoderGradientsReady()
    /// Sums every rank's local gradient and tail.
    ///
    /// Throws the agreed `RankFailure` when a rank reports `localFailure`.
    /// `needsSumOfSquares`: the caller must know the gradient's norm and finiteness
    /// before the update (clipping, `--on-nonfinite skip`).
    func reduce(localFailure: String?, needsSumOfSquares: Bool) throws -> ReducedStep
    /// Applies `optimizer` to the reduced gradient times `gradientScale`.
    ///
    /// Every rank gets the same verdict.
    func update(optimizer: any Optimizer, gradientScale: Float) throws -> UpdateVerdict
    /// The sum of squares of the reduced gradient in `range`, after `reduce`.
    ///
    /// For naming the tensor that went non-finite.
    func reducedSumOfSquares(_ range: Range<Int>) -> Double

    /// The optimizer, its state placed where this exchange updates it.
    func makeOptimizer(_ configuration: TrainingConfiguration) -> any Optimizer
    /// Writes this rank's share of `values` into `buffer` (the parameters or an optimizer state buffer).
    ///
    /// Once every rank has, `publish()` makes the whole visible.
    func store(_ values: UnsafePointer<Float>, into buffer: FloatBuffer)
    /// Collective: every rank's stored share is in place before anyone reads it.
    func publish() throws
}
