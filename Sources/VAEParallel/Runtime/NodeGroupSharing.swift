import VAEIO

/// A node group's shared memory as VAEIO's `NodeSharing`: where the node's ranks keep one
/// copy of the training rows, or one read-ahead of them.
final class NodeGroupSharing: NodeSharing {
    let group: any NodeGroup
    private var regions: [any NodeSharedMemory] = []

    init(group: any NodeGroup) { self.group = group }

    var localRank: Int { group.nodeRank }
    var localSize: Int { group.nodeSize }
    var worldRanks: [Int] { group.nodeWorldRanks }

    func allocate(byteCount: Int) throws -> UnsafeMutableRawPointer {
        let region = try group.allocateSharedMemory(byteCount: byteCount)
        regions.append(region)
        return region.base
    }

    /// A barrier of the node's ranks with memory synchronisation (through its first region's window).
    func synchronize() throws {
        guard let region = regions.first else { preconditionFailure("synchronize before any shared region was allocated") }
        try region.synchronize()
    }
}
