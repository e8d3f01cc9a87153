/// Memory that every rank of the job maps at once: an MPI-3 shared-memory window,
/// offered only when all ranks run on one node. The trainer keeps its parameters,
/// optimizer state and every rank's gradient slot in it, so a step's gradients are
/// summed by reading the other ranks' slots directly (`SharedMemoryExchange`).
public protocol NodeSharedMemory: AnyObject {
    /// The first byte, the same memory on every rank (possibly at different addresses).
    var base: UnsafeMutableRawPointer { get }
    var byteCount: Int { get }
    /// Returns once every rank has called it; what any rank wrote before its call is
    /// visible to every rank's reads after it (a barrier with memory synchronisation).
    func synchronize() throws
}
