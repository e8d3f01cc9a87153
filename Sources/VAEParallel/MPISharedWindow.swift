import CMPI
import CVAESupport

/// An MPI-3 shared-memory window over the ranks of one node (MPI_Win_allocate_shared):
/// node rank 0 allocates every byte, the others map the same segment.
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

    /// Collective over `nodeCommunicator`, which it takes over (and frees with the window).
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

    /// Collective; MPICommunicator calls it before MPI_Finalize.
    func free() throws {
        guard !isFreed else { return }
        isFreed = true
        try MPICommunicator.check(MPI_Win_unlock_all(window), "MPI_Win_unlock_all")
        try MPICommunicator.check(MPI_Win_free(&window), "MPI_Win_free")
        try MPICommunicator.check(MPI_Comm_free(&nodeCommunicator), "MPI_Comm_free")
    }
}
