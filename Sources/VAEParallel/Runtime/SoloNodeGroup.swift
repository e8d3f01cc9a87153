/// Every rank a node of its own: private memory, and the node collectives over all ranks.
///
/// What the row-sharing step runs on where ranks share no memory (`--gradient-exchange
/// allreduce`, or one rank per node): each rank's "window" is its own memory, a
/// synchronize has nothing to wait for, and the across-node collectives are the world's.
final class SoloNodeGroup: NodeGroup {
    private let communicator: any Communicator
    let columnWorldRanks: [Int]

    init(communicator: any Communicator) {
        self.communicator = communicator
        columnWorldRanks = Array(0..<communicator.size)
    }

    var nodeRank: Int { 0 }
    var nodeSize: Int { 1 }
    var nodeCount: Int { communicator.size }
    var nodeWorldRanks: [Int] { [communicator.rank] }

    func sharedMemoryShortage(byteCount: Int, purpose: String) -> String? { nil }

    func allocateSharedMemory(byteCount: Int) throws -> any NodeSharedMemory { PrivateRegion(byteCount: byteCount) }

    func allreduceAcrossNodes(_ buffer: UnsafeMutableBufferPointer<Float>) throws {
        guard communicator.size > 1 else { return }
        try communicator.allreduce(buffer, .sum)
    }

    func allgatherAcrossNodes(_ buffer: UnsafeMutablePointer<Float>, counts: UnsafePointer<Int32>,
                              displacements: UnsafePointer<Int32>) throws {
        guard communicator.size > 1 else { return }
        try communicator.allgather(buffer, counts: counts, displacements: displacements)
    }
}
