import Foundation
import VAEIO

/// Runs `body` with this launch's communicator and ends it in the one way that cannot hang.
///
/// - `body` returns: finalize on every rank.
/// - `body` throws a `CollectiveError` (every rank threw it at the same point with the
///   same content, e.g. an agreed `RankFailure`): rank 0 prints it once, for the whole job
///   (eight identical lines at eight ranks say nothing more), every rank finalizes, then
///   throws `ReportedFailure`. Printing comes before finalizing because MPI_Finalize is a
///   fence: once one rank exits non-zero, mpirun kills the others, and a line not yet
///   written is lost.
/// - `body` throws anything else with more than one rank: the other ranks never heard
///   of it and may be waiting in a collective, so print it and MPI_Abort the job.
/// Commands wrap their whole run in this; the trainer turns local failures into
/// collective ones with `agreeOnFailure`, so that the abort stays the exception.
public func withCommunicator<Result>(
    environment: [String: String] = ProcessInfo.processInfo.environment,
    _ body: (any Communicator) throws -> Result
) throws -> Result {
    let communicator = try makeCommunicator(environment: environment)
    if communicator.size > 1 { HDF5LoopGuard.rankLabel = "rank \(communicator.rank): " }
    let program = ProcessInfo.processInfo.processName
    let result: Result
    do {
        result = try body(communicator)
    } catch let error as any CollectiveError {
        if communicator.isRoot { Console.printError("\(program): error: \(failureMessage(error))") }
        try? communicator.finalize()
        throw ReportedFailure(underlying: error)
    } catch {
        guard communicator.size > 1 else {
            try? communicator.finalize()
            throw error
        }
        communicator.abort(
            message: "\(program): error: rank \(communicator.rank): \(failureMessage(error)) "
                + "(not agreed with the other ranks: aborting the job)",
            code: 1)
    }
    try communicator.finalize()
    return result
}

/// A failure this rank has already printed on standard error.
///
/// Exit non-zero without printing it again.
public struct ReportedFailure: Error, CustomStringConvertible {
    public let underlying: any Error

    public var description: String { failureMessage(underlying) }
}
