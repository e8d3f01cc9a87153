import VAECore
import VAEIO

/// Where a node keeps its ranks' training rows, decided alike on every rank from the
/// node's budget (`--memory-budget`, a quarter of physical memory by default).
///
/// In memory when the stored rows fit the node's budget: one read-only copy in MPI-3
/// node shared memory, each rank of the node loading a share of it. Streamed otherwise:
/// one read-ahead per node, shared too, each rank loading a share of the blocks. Where
/// the shared memory is too small (a 64 MB `/dev/shm` in a container), each rank holds
/// its own copy (when k copies fit the budget) or its own read-ahead of a k-th of it.
struct DataPlacement {
    let source: any MinibatchSource
    /// The banner's memory line.
    let description: String

    static func make(data: ShardSet, mode: ReadingMode, nodeBudget: Int, bernoulli: Bool,
                     communicator: any Communicator) throws -> DataPlacement {
        let group = try communicator.makeNodeGroup(requiringEqualNodes: false)
        let ranksOnNode = group?.nodeSize ?? 1
        var inMemory = switch mode {
        case .memory: true
        case .streaming: false
        case .auto: data.featureBytes <= nodeBudget
        }
        // Shared when some node has ranks to share with and every node has room.
        var shortage: String?
        if let group {
            let bytes = inMemory ? data.featureBytes
                : StreamingMinibatchSource.sharedBytes(data: data, memoryBudget: nodeBudget, ranksSharing: ranksOnNode)
            shortage = group.sharedMemoryShortage(byteCount: bytes, purpose: "the node's copy of the training data")
        }
        let someNodeShares = try communicator.allreduce(Int64(ranksOnNode), .max) > 1
        let everyNodeHasRoom = try communicator.allreduce(Int64(shortage == nil ? 1 : 0), .min) == 1
        let shared = group != nil && someNodeShares && everyNodeHasRoom
        // Unshared, a node holds k copies: auto streams unless they fit (every node alike).
        let largestNodeCopies = try communicator.allreduce(Int64(data.featureBytes * ranksOnNode), .max)
        if !shared, mode == .auto, inMemory, largestNodeCopies > nodeBudget { inMemory = false }
        let sharing: NodeSharing = shared ? NodeGroupSharing(group: group!) : PrivateMemory(worldRank: communicator.rank)
        // Collective within each node (the shared region): every rank gets here with the same decision.
        let source = try communicator.agreed { () -> any MinibatchSource in
            if inMemory { return try InMemoryMinibatchSource(data: data, bernoulli: bernoulli, sharing: sharing) }
            return try StreamingMinibatchSource(data: data, memoryBudget: shared ? nodeBudget : nodeBudget / ranksOnNode,
                                                bernoulli: bernoulli, sharing: sharing)
        }
        let why = !shared && someNodeShares ? (shortage ?? "another node has too little shared memory") : nil
        return DataPlacement(source: source, description: describe(source, data: data, shared: shared, ranksOnNode: ranksOnNode,
                                                                   nodeBudget: nodeBudget, notShared: why))
    }

    private static func describe(_ source: any MinibatchSource, data: ShardSet, shared: Bool, ranksOnNode: Int,
                                 nodeBudget: Int, notShared: String?) -> String {
        let ranks = "\(ranksOnNode) rank\(ranksOnNode == 1 ? "" : "s")"
        var text: String
        if source is InMemoryMinibatchSource {
            text = shared ? "in memory, one copy per node in shared memory: \(formatByteCount(data.featureBytes)) per node "
                + "(\(ranks), each loaded a share)"
                : "in memory: \(formatByteCount(data.featureBytes)) per rank, \(formatByteCount(data.featureBytes * ranksOnNode)) per node"
        } else {
            let streaming = source as! StreamingMinibatchSource
            text = "streaming whole storage blocks: up to \(streaming.slabCapacity) slabs of \(formatByteCount(streaming.slabBytes)) "
                + (shared ? "per node, shared by its \(ranks) (each loads a share)" : "per rank")
                + ", \(streaming.loadThreads) loader\(streaming.loadThreads == 1 ? "" : "s") per rank"
        }
        text += "; node budget \(formatByteCount(nodeBudget))"
        if let notShared { text += " (not shared: \(notShared))" }
        return text
    }
}
