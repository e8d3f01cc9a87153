import Foundation

// Collective error agreement. The invariant: every rank calls these at the same points,
// whether or not it failed, so the collectives inside always complete; a failure then
// becomes the same thrown `RankFailure` on every rank, and nobody waits for a rank
// that has left. A rank that fails does not skip ahead: it records its failure and
// carries on to the next agreement point.
extension Communicator {
    /// Exchanges the ranks' failures.
    ///
    /// Returns if no rank failed, otherwise throws the lowest failing rank's
    /// `RankFailure` on every rank.
    ///
    /// Costs one Int64 allreduce when nobody failed (the lowest failing rank, or
    /// Int64.max); a failure adds an allreduce of the count and a broadcast of the message.
    public func agreeOnFailure(_ localFailure: String?) throws {
        let nobody = Int64.max
        let lowestFailingRank = try allreduce(localFailure == nil ? nobody : Int64(rank), .min)
        guard lowestFailingRank != nobody else { return }
        let failingRankCount = try allreduce(Int64(localFailure == nil ? 0 : 1), .sum)
        let message = try broadcast(localFailure ?? "", from: Int(lowestFailingRank))
        throw RankFailure(rank: Int(lowestFailingRank), message: message,
                          failingRankCount: Int(failingRankCount))
    }

    /// `agreeOnFailure` for a caught error (nil when this rank succeeded).
    public func agreeOnFailure(_ localError: (any Error)?) throws {
        try agreeOnFailure(localError.map(failureMessage))
    }

    /// Runs `body` on every rank; if it fails anywhere, every rank throws the failing rank's message.
    public func agreed<T>(_ body: () throws -> T) throws -> T {
        var result: T?
        var failure: String?
        do { result = try body() } catch { failure = failureMessage(error) }
        try agreeOnFailure(failure)
        return result!
    }

    /// Runs `body` on rank 0 only (file side effects); a failure there ends every rank.
    ///
    /// Returns rank 0's result there and nil on the other ranks.
    @discardableResult
    public func rootOnly<T>(_ body: () throws -> T) throws -> T? {
        var result: T?
        var failure: String?
        if isRoot {
            do { result = try body() } catch { failure = failureMessage(error) }
        }
        try agreeOnFailure(failure)
        return result
    }

    /// Runs `body` on rank 0, then on the other ranks once rank 0 has succeeded.
    ///
    /// For work the first rank does for everyone (preparing the default data): the
    /// others then find it done.
    public func rootFirst<T>(_ body: () throws -> T) throws -> T {
        if let result = try rootOnly(body) {
            _ = try agreed { result }
            return result
        }
        return try agreed(body)
    }

    /// The second half of the cheap path.
    ///
    /// Every rank calls this after a reduced status said some rank failed. Always throws:
    /// the agreed `RankFailure`, or `InconsistentFailureStatus` when no rank owns up.
    public func resolveFailure(localFailure: String?, reducedStatus: Float) throws -> Never {
        try agreeOnFailure(localFailure)
        throw InconsistentFailureStatus(reducedStatus: reducedStatus)
    }

    /// The trainer's step reduction with failure detection folded in.
    ///
    /// A healthy step costs no extra collective. The last element of `buffer` is the status slot: this
    /// call writes it (0, or 1 when `localFailure` is set). A failing rank contributes
    /// zeros instead of skipping the allreduce, so the collective always completes; when
    /// the reduced status is non-zero every rank throws the agreed `RankFailure`.
    public func allreduceSum(
        _ buffer: UnsafeMutableBufferPointer<Float>, reportingFailure localFailure: String?
    ) throws {
        precondition(!buffer.isEmpty, "the fused buffer needs a status slot")
        let statusIndex = buffer.count - 1
        if localFailure != nil {
            buffer.update(repeating: 0)
        }
        buffer[statusIndex] = localFailure == nil ? 0 : 1
        try allreduce(buffer, .sum)
        // `!= 0` rather than `> 0`: a NaN in the slot is a failure too.
        if buffer[statusIndex] != 0 {
            try resolveFailure(localFailure: localFailure, reducedStatus: buffer[statusIndex])
        }
    }
}
