import Foundation

/// A size the node cannot hold, found before allocating it.
public struct InsufficientMemory: Error, CustomStringConvertible {
    public let description: String
}

/// The memory of this node, and the one check every size a user chose goes through.
public enum NodeMemory {
    /// Physical memory, or the container's limit when lower (cgroup v2 `memory.max`,
    /// or v1 `memory.limit_in_bytes`).
    public static var bytes: Int {
        let physical = Int(clamping: ProcessInfo.processInfo.physicalMemory)
        let limits = ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"].compactMap { path in
            (try? String(contentsOfFile: path, encoding: .utf8)).flatMap { Int($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        }
        return ([physical] + limits.filter { $0 > 0 }).min()!
    }

    /// Ranks the launcher started on this node (Open MPI's and MPICH's variables; 1 without).
    public static var ranksOnThisNode: Int {
        let environment = ProcessInfo.processInfo.environment
        let counts = ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS"].compactMap { environment[$0].flatMap(Int.init) }
        return max(1, counts.first ?? 1)
    }

    /// Throws one line "WHAT needs X per rank (N ranks on this node: Y), this node has Z"
    /// unless `bytesPerRank` for every rank on this node fits in its memory. Nil bytes
    /// (an overflow) never fit.
    public static func require(_ bytesPerRank: Int?, for what: String, ranks: Int = ranksOnThisNode) throws {
        let total = bytesPerRank.flatMap { MemoryEstimate.product($0, ranks) }
        if let total, total <= bytes { return }
        let need = bytesPerRank.map(formatByteCount) ?? "more bytes than a 64-bit count holds"
        let perRank = ranks > 1 ? " per rank (\(ranks) ranks on this node: \(total.map(formatByteCount) ?? "more"))" : ""
        throw InsufficientMemory(description: "\(what) needs \(need)\(perRank), this node has \(formatByteCount(bytes))")
    }
}
