import CMPI
import CVAESupport
import Foundation

/// The job's ranks grouped by node.
///
/// A communicator per node (MPI_Comm_split_type, MPI_COMM_TYPE_SHARED) for the shared
/// windows, and a communicator per node rank across the nodes (MPI_Comm_split by node
/// rank) for `allreduceAcrossNodes`.
///
/// `VAE_DIST_RANKS_PER_NODE=k` groups ranks [0, k), [k, 2k), ... as if they were on
/// separate nodes (they must still share one machine's memory): how the tests run the
/// multi-node path of the exchange on one machine.
final class MPINodeGroup: NodeGroup {
    let nodeRank: Int
    let nodeSize: Int
    let nodeCount: Int
    let nodeWorldRanks: [Int]
    private var nodeCommunicator: MPI_Comm?
    private var columnCommunicator: MPI_Comm?
    private var windows: [MPISharedWindow] = []

    static let ranksPerNodeVariable = "VAE_DIST_RANKS_PER_NODE"

    /// Collective over `world`; nil (on every rank) when the nodes hold different numbers of
    /// ranks and `requiringEqualNodes` (without it, such a group has no columns).
    static func make(world: MPI_Comm, communicator: MPICommunicator, requiringEqualNodes: Bool) throws -> MPINodeGroup? {
        var node = vae_mpi_comm_null()
        if let text = ProcessInfo.processInfo.environment[ranksPerNodeVariable] {
            guard let ranksPerNode = Int(text), ranksPerNode >= 1 else {
                throw CommunicatorError("\(ranksPerNodeVariable) must be a positive number of ranks, got '\(text)'")
            }
            try MPICommunicator.check(MPI_Comm_split(world, Int32(communicator.rank / ranksPerNode),
                                                     Int32(communicator.rank), &node), "MPI_Comm_split")
        } else {
            try MPICommunicator.check(
                MPI_Comm_split_type(world, Int32(vae_mpi_comm_type_shared()), Int32(communicator.rank),
                                    vae_mpi_info_null(), &node),
                "MPI_Comm_split_type")
        }
        var nodeSize: Int32 = 0, nodeRank: Int32 = 0
        try MPICommunicator.check(MPI_Comm_size(node, &nodeSize), "MPI_Comm_size")
        try MPICommunicator.check(MPI_Comm_rank(node, &nodeRank), "MPI_Comm_rank")
        let smallest = try communicator.allreduce(Int64(nodeSize), .min)
        let largest = try communicator.allreduce(Int64(nodeSize), .max)
        let nodeCount = Int(try communicator.allreduce(Int64(nodeRank == 0 ? 1 : 0), .sum))
        var own = Int64(communicator.rank)
        var worldRanks = [Int64](repeating: 0, count: Int(nodeSize))
        try MPICommunicator.check(MPI_Allgather(&own, 1, vae_mpi_int64(), &worldRanks, 1, vae_mpi_int64(), node), "MPI_Allgather")
        var column = vae_mpi_comm_null()
        if smallest == largest {
            try MPICommunicator.check(MPI_Comm_split(world, nodeRank, Int32(communicator.rank), &column), "MPI_Comm_split")
        } else if requiringEqualNodes {
            try MPICommunicator.check(MPI_Comm_free(&node), "MPI_Comm_free")
            return nil
        }
        // The column's job ranks in node order, for the rows allgathered across the nodes.
        var columnRanks = [Int64]()
        if smallest == largest {
            columnRanks = [Int64](repeating: 0, count: nodeCount)
            try columnRanks.withUnsafeMutableBytes { ranks in
                try MPICommunicator.check(
                    MPI_Allgather(&own, 1, vae_mpi_int64(), ranks.baseAddress, 1, vae_mpi_int64(), column),
                    "MPI_Allgather")
            }
        }
        return MPINodeGroup(nodeRank: Int(nodeRank), nodeSize: Int(nodeSize), nodeCount: nodeCount,
                            nodeWorldRanks: worldRanks.map { Int($0) }, node: node,
                            column: smallest == largest ? column : nil, columnWorldRanks: columnRanks.map { Int($0) })
    }

    /// The job ranks of this rank's column, in node order (empty without columns).
    let columnWorldRanks: [Int]

    private init(nodeRank: Int, nodeSize: Int, nodeCount: Int, nodeWorldRanks: [Int], node: MPI_Comm?, column: MPI_Comm?,
                 columnWorldRanks: [Int]) {
        self.nodeRank = nodeRank
        self.nodeSize = nodeSize
        self.nodeCount = nodeCount
        self.nodeWorldRanks = nodeWorldRanks
        nodeCommunicator = node
        columnCommunicator = column
        self.columnWorldRanks = columnWorldRanks
    }

    func allgatherAcrossNodes(_ buffer: UnsafeMutablePointer<Float>, counts: UnsafePointer<Int32>,
                              displacements: UnsafePointer<Int32>) throws {
        guard nodeCount > 1 else { return }
        try MPICommunicator.check(
            MPI_Allgatherv(UnsafeRawPointer(vae_mpi_in_place()), 0, vae_mpi_float(), buffer, counts, displacements,
                           vae_mpi_float(), columnCommunicator),
            "MPI_Allgatherv")
    }

    /// Open MPI 4.1 backs shared windows with files in /dev/shm (a tmpfs).
    static let sharedMemoryDirectory = "/dev/shm"

    func sharedMemoryShortage(byteCount: Int, purpose: String) -> String? {
        guard let available = SharedMemorySpace.availableBytes(in: Self.sharedMemoryDirectory) else { return nil }
        // Every rank of the node asks at once for the node's one window: compare the whole.
        return SharedMemorySpace.shortage(needed: byteCount, available: available, directory: Self.sharedMemoryDirectory,
                                          purpose: purpose)
    }

    func allocateSharedMemory(byteCount: Int) throws -> any NodeSharedMemory {
        let window = try MPISharedWindow(byteCount: byteCount, nodeCommunicator: nodeCommunicator)
        windows.append(window)
        return window
    }

    func allreduceAcrossNodes(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard nodeCount > 1, let base = buffer.baseAddress else { return }
        precondition(columnCommunicator != nil, "allreduceAcrossNodes on a node group of unequal nodes")
        for chunk in MPICommunicator.chunks(of: buffer.count) {
            try MPICommunicator.check(
                MPI_Allreduce(UnsafeRawPointer(vae_mpi_in_place()), base + chunk.start, Int32(chunk.count),
                              vae_mpi_float(), vae_mpi_sum(), columnCommunicator),
                "MPI_Allreduce")
        }
    }

    /// Collective; MPICommunicator calls it before MPI_Finalize.
    func free() throws {
        for window in windows { try window.free() }
        windows.removeAll()
        if nodeCommunicator != nil { try MPICommunicator.check(MPI_Comm_free(&nodeCommunicator), "MPI_Comm_free") }
        if columnCommunicator != nil { try MPICommunicator.check(MPI_Comm_free(&columnCommunicator), "MPI_Comm_free") }
        nodeCommunicator = nil
        columnCommunicator = nil
    }
}

/// An MPI-3 shared-memory window over the ranks of one node (MPI_Win_allocate_shared).
///
/// Node rank 0 allocates every byte, the others map the same segment.
///
/// The window stays in one passive-target epoch for its whole life (MPI_Win_lock_all
/// with MPI_MODE_NOCHECK, the "unified" memory model's usual pattern), and
/// `synchronize()` is MPI_Win_sync, MPI_Barrier, MPI_Win_sync: the barrier orders the
/// ranks, the syncs make each rank's stores visible to the others' loads.
final class MPISharedWindow: NodeSharedMemory {
    let base: UnsafeMutableRawPointer
    let byteCount: Int
    private var window: MPI_Win?
    private var nodeCommunicator: MPI_Comm?
    private var isFreed = false
    /// The window's first byte is page-aligned (the trainer's regions are page multiples).
    private static let alignment = 4096

    /// Collective over `nodeCommunicator` (the node group's, which frees it).
    init(byteCount: Int, nodeCommunicator: MPI_Comm?) throws {
        self.byteCount = byteCount
        self.nodeCommunicator = nodeCommunicator
        var nodeRank: Int32 = 0
        try MPICommunicator.check(MPI_Comm_rank(nodeCommunicator, &nodeRank), "MPI_Comm_rank")
        var window = vae_mpi_win_null()
        var ownBase: UnsafeMutableRawPointer?
        try MPICommunicator.check(
            MPI_Win_allocate_shared(MPI_Aint(nodeRank == 0 ? byteCount + Self.alignment : 0), 1, vae_mpi_info_null(),
                                    nodeCommunicator, &ownBase, &window),
            "MPI_Win_allocate_shared")
        self.window = window
        var size: MPI_Aint = 0
        var displacementUnit: Int32 = 0
        var sharedBase: UnsafeMutableRawPointer?
        try MPICommunicator.check(MPI_Win_shared_query(window, 0, &size, &displacementUnit, &sharedBase),
                                  "MPI_Win_shared_query")
        guard let sharedBase, Int(size) >= byteCount + Self.alignment else {
            throw CommunicatorError("the MPI shared-memory window holds \(size) bytes, \(byteCount) were asked for")
        }
        // Open MPI places the window after a header inside its page-aligned segment; every
        // rank maps the segment page-aligned, so rounding up to a page lands every rank on
        // the same byte.
        let padding = (Self.alignment - Int(bitPattern: sharedBase) % Self.alignment) % Self.alignment
        base = sharedBase + padding
        try MPICommunicator.check(MPI_Win_lock_all(Int32(vae_mpi_mode_nocheck()), window), "MPI_Win_lock_all")
    }

    func synchronize() throws {
        precondition(!isFreed, "shared-memory window used after MPI finalize")
        try MPICommunicator.check(MPI_Win_sync(window), "MPI_Win_sync")
        try MPICommunicator.check(MPI_Barrier(nodeCommunicator), "MPI_Barrier")
        try MPICommunicator.check(MPI_Win_sync(window), "MPI_Win_sync")
    }

    /// Collective; the node group calls it before MPI_Finalize.
    func free() throws {
        guard !isFreed else { return }
        isFreed = true
        try MPICommunicator.check(MPI_Win_unlock_all(window), "MPI_Win_unlock_all")
        try MPICommunicator.check(MPI_Win_free(&window), "MPI_Win_free")
    }
}
