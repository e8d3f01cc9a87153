import Foundation

/// An error that every rank throws at the same point with the same content.
///
/// Every rank may then end normally (finalize, exit non-zero) without anyone left in a
/// collective.
public protocol CollectiveError: Error {}

/// A failure that the ranks agreed on.
///
/// Rank `rank` failed with `message`, and every rank throws this. `failingRankCount` says
/// how many ranks failed at that point; the message is the lowest failing rank's.
public struct RankFailure: CollectiveError, CustomStringConvertible, Equatable {
    public let rank: Int
    public let message: String
    public let failingRankCount: Int

    public init(rank: Int, message: String, failingRankCount: Int = 1) {
        self.rank = rank
        self.message = message
        self.failingRankCount = failingRankCount
    }

    public var description: String {
        let others = failingRankCount - 1
        let suffix = others == 0 ? "" : " (and \(others) other rank\(others == 1 ? "" : "s") failed too)"
        return "rank \(rank): \(message)\(suffix)"
    }
}

/// The status reduction found a failure but no rank reported one.
///
/// The fused buffer's status slot was overwritten. Every rank sees the same reduced
/// status.
public struct InconsistentFailureStatus: CollectiveError, CustomStringConvertible {
    public let reducedStatus: Float

    public var description: String {
        "internal error: the reduced failure status is \(reducedStatus) but no rank reported a failure"
    }
}

/// The one-line text of an error as users should read it.
public func failureMessage(_ error: any Error) -> String {
    if let localized = error as? LocalizedError, let description = localized.errorDescription {
        return description
    }
    return String(describing: error)
}
