import Foundation
import VAECore

/// The ranks of one node that share a copy of the data in memory, as VAEIO sees them.
///
/// VAEIO does not know MPI: VAEParallel implements this over an MPI-3 shared-memory
/// window (`MPINodeGroup`); `PrivateMemory` is the one-rank case.
public protocol NodeSharing: AnyObject {
    /// This rank's place on the node, `0 ..< localSize`.
    var localRank: Int { get }
    var localSize: Int { get }
    /// The job ranks of the node's ranks, in local-rank order (what the schedule calls them).
    var worldRanks: [Int] { get }
    /// `byteCount` zeroed bytes that every local rank maps, page-aligned. Collective over the node.
    func allocate(byteCount: Int) throws -> UnsafeMutableRawPointer
    /// Returns once every local rank has called it; every store before any rank's call is
    /// visible to every load after it. Collective over the node.
    func synchronize() throws
}

/// One rank alone: memory of its own, and nobody to wait for.
public final class PrivateMemory: NodeSharing {
    public let localRank = 0
    public let localSize = 1
    public let worldRanks: [Int]
    private var regions: [(base: UnsafeMutableRawPointer, byteCount: Int)] = []

    public init(worldRank: Int = 0) { worldRanks = [worldRank] }

    deinit { regions.forEach { _ = munmap($0.base, $0.byteCount) } }

    /// Anonymous pages: zeroed, and resident only once touched (as the shared window's are).
    public func allocate(byteCount: Int) throws -> UnsafeMutableRawPointer {
        let size = max(1, byteCount)
        guard let base = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              base != MAP_FAILED else {
            throw DataError(file: "", "cannot reserve \(formatByteCount(size)) of memory for the data: \(String(cString: strerror(errno)))")
        }
        regions.append((base, size))
        return base
    }

    public func synchronize() throws {}
}
