import VAECore

/// The allreduce in two buckets: the decoder's reduced while the encoder's backward runs.
///
/// The decoder's bucket (the tail of the flat buffer, with the loss sums, stop requests
/// and failure status) starts as a non-blocking allreduce as soon as the backward has
/// finished the decoder; the encoder's follows as a blocking allreduce. Every rank issues
/// the same two collectives in the same order whether or not it failed, so the failure
/// protocol is the blocking exchange's. (docs/performance.md: on one node with Open MPI,
/// which has no progress thread, this is slower than one allreduce.)
final class OverlappedAllreduceExchange: AllreduceExchange {
    /// The flat buffer from here on is the decoder's bucket.
    private let split: Int
    private var pending: (any PendingCollective)?
    private var startError: (any Error)?

    init(communicator: any Communicator, parameterCount: Int, decoderStart: Int) {
        split = decoderStart
        super.init(communicator: communicator, parameterCount: parameterCount)
    }

    override var summary: String { "MPI allreduce, decoder bucket overlapped with the encoder's backward" }

    private var decoderBucket: UnsafeMutableBufferPointer<Float> {
        let all = localGradient.buffer
        return UnsafeMutableBufferPointer(rebasing: all[split..<all.count])
    }

    override func decoderGradientsReady() {
        localGradient[localGradient.count - 1] = 0
        do { pending = try communicator.startAllreduceSum(decoderBucket) } catch { startError = error }
    }

    override func reduce(localFailure: String?, needsSumOfSquares: Bool) throws -> ReducedStep {
        defer { pending = nil }
        if let startError {
            self.startError = nil
            throw startError
        }
        let all = localGradient.buffer
        if pending == nil {
            // Failed before the backward reached the decoder: contribute zeros and the failure status.
            all.update(repeating: 0)
            all[all.count - 1] = 1
            pending = try communicator.startAllreduceSum(decoderBucket)
        }
        _ = try pending?.progress()
        try communicator.allreduceSum(UnsafeMutableBufferPointer(rebasing: all[0..<split]))
        try pending?.wait()
        let status = all[all.count - 1]
        if status != 0 {
            try communicator.resolveFailure(localFailure: localFailure, reducedStatus: status)
        }
        return reducedStep(needsSumOfSquares: needsSumOfSquares)
    }
}
