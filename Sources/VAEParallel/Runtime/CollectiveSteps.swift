/// The agreement pattern of docs/parallel.md for commands other than training:
/// a step that may fail on some rank is followed by `agreeOnFailure`, so the
/// failure ends every rank with its message instead of leaving some in a collective.
enum CollectiveSteps {
    /// Runs `body` on every rank; if it fails anywhere, every rank throws the failing rank's message.
    static func agreed<T>(_ communicator: any Communicator, _ body: () throws -> T) throws -> T {
        var result: T?
        var failure: String?
        do { result = try body() } catch { failure = failureMessage(error) }
        try communicator.agreeOnFailure(failure)
        return result!
    }

    /// Runs `body` on rank 0 only; a failure there ends every rank. Nil on the other ranks.
    static func rootOnly<T>(_ communicator: any Communicator, _ body: () throws -> T) throws -> T? {
        var result: T?
        var failure: String?
        if communicator.isRoot {
            do { result = try body() } catch { failure = failureMessage(error) }
        }
        try communicator.agreeOnFailure(failure)
        return result
    }
}
