/// Memory that every rank of one node maps at once (an MPI-3 shared-memory window).
///
/// The trainer keeps its parameters, optimizer state and every rank's gradient slot in
/// it, so a step's gradients are summed by reading the other ranks' slots directly
/// (`SharedMemoryExchange`).
public protocol NodeSharedMemory: AnyObject {
    /// The first byte, the same memory on every rank of the node (possibly at different addresses).
    var base: UnsafeMutableRawPointer { get }
    var byteCount: Int { get }
    /// Returns once every rank of the node has called it.
    ///
    /// What any of them wrote before its call is visible to every one's reads after it (a
    /// barrier with memory synchronisation).
    func synchronize() throws
}
