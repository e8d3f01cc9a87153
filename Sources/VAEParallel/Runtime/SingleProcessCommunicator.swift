/// Rank 0 of 1, without MPI.
///
/// Every collective is the identity, so a plain process runs the trainer's code path
/// unchanged and never needs mpirun.
import Foundation

public final class SingleProcessCommunicator: Communicator {
    public init() {}

    public var rank: Int { 0 }
    public var size: Int { 1 }
    public var backendDescription: String { "single process (no MPI)" }

    public func allreduce<Element: CollectiveScalar>(
        _ buffer: UnsafeMutableBufferPointer<Element>, _ reduction: Reduction
    ) throws {}

    public func broadcast<Element: CollectiveScalar>(
        _ buffer: UnsafeMutableBufferPointer<Element>, from root: Int
    ) throws {
        precondition(root == 0, "broadcast from rank \(root) in a 1-rank job")
    }

    public func gatherv<Element: CollectiveScalar>(
        _ local: UnsafeBufferPointer<Element>, to root: Int
    ) throws -> Gathered<Element>? {
        precondition(root == 0, "gatherv to rank \(root) in a 1-rank job")
        return Gathered(values: Array(local), counts: [local.count])
    }

    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> any PendingCollective {
        CompletedCollective()
    }

    /// One rank's block is already everyone's.
    public func allgather(_ buffer: UnsafeMutablePointer<Float>, counts: UnsafePointer<Int32>,
                          displacements: UnsafePointer<Int32>) throws {}

    public func barrier() throws {}

    /// One process has nothing to share: its trainer keeps private buffers.
    public func makeNodeGroup(requiringEqualNodes: Bool) throws -> (any NodeGroup)? { nil }

    public func finalize() throws {}

    public func abort(message: String, code: Int32) -> Never {
        Console.printError(message)
        exit(code)
    }
}

/// The single process's collectives are complete when they start.
final class CompletedCollective: PendingCollective {
    func progress() throws -> Bool { true }
    func wait() throws {}
}
