/// The collectives a data-parallel job needs, over a group of `size` ranks.
///
/// The trainer is written once against this protocol: `MPICommunicator` runs it on N
/// ranks, `SingleProcessCommunicator` (where every collective is the identity) runs the
/// same code as one plain process.
///
/// Every method is collective: all ranks call the same methods in the same order with
/// matching shapes (the same count for reductions and broadcasts, the same root).
/// Calls are made from the thread that created the communicator (MPI_THREAD_FUNNELED).
/// Failures of the MPI library throw `MPIError`; a failure of one rank's own work is
/// exchanged with `agreeOnFailure(_:)` so that no rank is left waiting in a collective.
public protocol Communicator: AnyObject {
    /// This process's rank, `0 ..< size`.
    var rank: Int { get }
    /// The number of ranks in the job.
    var size: Int { get }
    /// What runs underneath, for logs and `mpi-check`.
    ///
    /// The MPI library's version line, or that there is no MPI.
    var backendDescription: String { get }

    /// Replaces every element of `buffer` with its reduction over all ranks.
    func allreduce<Element: CollectiveScalar>(
        _ buffer: UnsafeMutableBufferPointer<Element>, _ reduction: Reduction
    ) throws

    /// Copies `root`'s `buffer` into `buffer` on every other rank.
    func broadcast<Element: CollectiveScalar>(
        _ buffer: UnsafeMutableBufferPointer<Element>, from root: Int
    ) throws

    /// Concatenates every rank's `local` elements, in rank order, on `root`.
    ///
    /// Ranks may contribute different counts (zero included). Returns nil on the other
    /// ranks.
    func gatherv<Element: CollectiveScalar>(
        _ local: UnsafeBufferPointer<Element>, to root: Int
    ) throws -> Gathered<Element>?

    /// Every rank's block of `buffer`, in place: rank i's `counts[i]` floats at
    /// `displacements[i]` are copied into every other rank's buffer (MPI_Allgatherv).
    ///
    /// Each rank writes its own block first; `counts` and `displacements` [size] are the
    /// same on every rank.
    func allgather(_ buffer: UnsafeMutablePointer<Float>, counts: UnsafePointer<Int32>,
                   displacements: UnsafePointer<Int32>) throws

    /// Starts an in-place sum allreduce of `buffer` and returns at once.
    ///
    /// The buffer must stay untouched until `wait()` on the result returns. Lets a rank
    /// reduce some gradients while it computes others (`Trainer`'s overlap option).
    func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> any PendingCollective

    /// Returns once every rank has called it.
    func barrier() throws

    /// The job's ranks grouped by node, or nil (every rank gets the same answer).
    ///
    /// Offered when the library offers shared memory and, with `requiringEqualNodes`,
    /// every node holds the same number of ranks (the gradient exchange's columns need
    /// that; a node's copy of the data does not). Collective. Freed by `finalize()`.
    func makeNodeGroup(requiringEqualNodes: Bool) throws -> (any NodeGroup)?

    /// Ends the communicator (MPI_Finalize).
    ///
    /// Collective: call it once, on every rank, at the end of the program and not after
    /// an unagreed failure (abort then). Calling it again does nothing.
    func finalize() throws

    /// Prints `message` on standard error, then ends every rank of the job with exit status `code`.
    ///
    /// For failures the other ranks cannot be told about in order.
    func abort(message: String, code: Int32) -> Never
}

extension Communicator {
    /// The job's ranks grouped by node when every node holds the same number of them.
    public func makeNodeGroup() throws -> (any NodeGroup)? { try makeNodeGroup(requiringEqualNodes: true) }

    /// Rank 0 owns the side effects: log lines, checkpoints, embeddings.
    public var isRoot: Bool { rank == 0 }
}

/// A collective in flight.
public protocol PendingCollective: AnyObject {
    /// Lets the library move the collective along; true once it is complete.
    func progress() throws -> Bool
    /// Blocks until the collective is complete.
    func wait() throws
}

/// The reductions `allreduce` offers.
public enum Reduction: Sendable, CaseIterable {
    case sum, max, min
}

/// The element types the collectives move. A closed set: each maps to one MPI datatype.
public protocol CollectiveScalar: Numeric, Sendable {
    static var collectiveType: CollectiveType { get }
}

/// The MPI datatypes behind `CollectiveScalar`.
public enum CollectiveType: Sendable {
    case float32, float64, int64, uint8
}

extension Float: CollectiveScalar {
    public static var collectiveType: CollectiveType { .float32 }
}
extension Double: CollectiveScalar {
    public static var collectiveType: CollectiveType { .float64 }
}
extension Int64: CollectiveScalar {
    public static var collectiveType: CollectiveType { .int64 }
}
extension UInt8: CollectiveScalar {
    public static var collectiveType: CollectiveType { .uint8 }
}

/// The result of `gatherv` on the root: every rank's elements, rank 0's first.
public struct Gathered<Element: CollectiveScalar>: Equatable, Sendable {
    /// All elements, concatenated in rank order.
    public let values: [Element]
    /// How many elements each rank contributed; `counts.count == size`.
    public let counts: [Int]

    public init(values: [Element], counts: [Int]) {
        precondition(values.count == counts.reduce(0, +), "gathered counts do not add up")
        self.values = values
        self.counts = counts
    }

    /// Where each rank's elements start in `values`.
    public var offsets: [Int] {
        var offsets = [Int]()
        offsets.reserveCapacity(counts.count)
        var next = 0
        for count in counts {
            offsets.append(next)
            next += count
        }
        return offsets
    }

    /// The elements rank `rank` contributed.
    public func part(ofRank rank: Int) -> ArraySlice<Element> {
        let start = offsets[rank]
        return values[start ..< start + counts[rank]]
    }
}

/// The result of `gatherRows` on the root.
///
/// A row-major [rows, width] matrix whose first `rowsPerRank[0]` rows came from rank 0,
/// the next from rank 1, and so on.
public struct GatheredRows: Equatable, Sendable {
    public let values: [Float]
    public let width: Int
    public let rowsPerRank: [Int]

    public init(values: [Float], width: Int, rowsPerRank: [Int]) {
        precondition(values.count == width * rowsPerRank.reduce(0, +), "gathered rows do not add up")
        self.values = values
        self.width = width
        self.rowsPerRank = rowsPerRank
    }

    public var rowCount: Int { values.count / width }
}
