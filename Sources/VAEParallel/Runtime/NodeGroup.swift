/// The ranks of the job grouped by node, for the shared-memory gradient exchange and the
/// node's one copy of the data.
///
/// Rank `nodeRank` of each node shares memory with the other ranks of its node and forms,
/// with the ranks of the same node rank on the other nodes, a "column" that
/// `allreduceAcrossNodes` sums over (offered when every node holds the same number of ranks).
public protocol NodeGroup: AnyObject {
    /// This rank's place on its node, `0 ..< nodeSize`.
    var nodeRank: Int { get }
    /// Ranks on this node (the same on every node, unless made with unequal nodes allowed).
    var nodeSize: Int { get }
    /// Nodes in the job.
    var nodeCount: Int { get }
    /// The job ranks of this node's ranks, in node-rank order.
    var nodeWorldRanks: [Int] { get }

    /// Why `byteCount` bytes of shared memory for `purpose` would not fit on this node, or nil.
    ///
    /// Nil when they would, or when it cannot be told. A full or small /dev/shm (64 MB
    /// in many containers) must become a message, not a bus error when the window is
    /// first touched.
    func sharedMemoryShortage(byteCount: Int, purpose: String) -> String?

    /// `byteCount` zeroed bytes mapped by every rank of this node.
    ///
    /// Collective over the node's ranks (every node's ranks call it at once). Lives as
    /// long as the group.
    func allocateSharedMemory(byteCount: Int) throws -> any NodeSharedMemory

    /// Sums `buffer` in place over the ranks with this rank's node rank on every node.
    ///
    /// Collective over the whole job, the same count for every rank of a column.
    /// Nothing to do, and no call into MPI, with one node. Only for groups of equal nodes.
    func allreduceAcrossNodes(_ buffer: UnsafeMutableBufferPointer<Float>) throws

    /// The world ranks of this rank's column (the ranks with its node rank), in node order.
    var columnWorldRanks: [Int] { get }

    /// Every column member's block of `buffer`, in place, on every member (MPI_Allgatherv
    /// over the column): member i's `counts[i]` floats at `displacements[i]`. Nothing to do,
    /// and no call into MPI, with one node.
    func allgatherAcrossNodes(_ buffer: UnsafeMutablePointer<Float>, counts: UnsafePointer<Int32>,
                              displacements: UnsafePointer<Int32>) throws
}

extension NodeGroup {
    /// `sharedMemoryShortage` of the gradient exchange's window.
    public func sharedMemoryShortage(byteCount: Int) -> String? {
        sharedMemoryShortage(byteCount: byteCount, purpose: "the shared-memory exchange")
    }
}
