import CVAECPU
import Foundation

/// How many OpenBLAS threads each process runs, decided at start-up.
///
/// OpenBLAS starts one thread per CPU it sees; with several ranks on a node every rank
/// would start that many (2 ranks on 2 cores: 4 BLAS threads on 2 cores, each rank's
/// threads waiting for the other's). The rule:
/// - the user set OPENBLAS_NUM_THREADS, GOTO_NUM_THREADS or OMP_NUM_THREADS (the
///   variables OpenBLAS itself reads, in its order): keep OpenBLAS's count;
/// - otherwise the CPUs this process may use divided by the node's ranks: a plain
///   process on 2 CPUs runs 2 threads (scripts/bench.sh: 1.6-1.7x of 1 thread at batch
///   128 on the project's VM, in its fast mode: docs/performance.md), `mpirun -n <cores>`
///   runs 1 per rank (1.7-1.8x of one rank with the shared-memory exchange), and a rank
///   bound to one core runs 1.
public enum BLASThreadChoice {
    public static let userVariables = ["OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"]

    /// What the CLI's start-up decided (nil when it did not run). Written once, before any thread starts.
    public nonisolated(unsafe) static var applied: Decision?

    public struct Decision: Equatable, Sendable {
        /// Threads to set with openblas_set_num_threads; nil keeps OpenBLAS's own count.
        public var threads: Int?
        public var reason: String

        public init(threads: Int?, reason: String) {
            self.threads = threads
            self.reason = reason
        }
    }

    /// Ranks of this job on this node, from the launcher's environment.
    ///
    /// 1 without a launcher; nil under a launcher that does not say (then nobody knows how many
    /// ranks share the CPUs).
    public static func ranksOnThisNode(environment: [String: String]) -> Int? {
        for name in ["OMPI_COMM_WORLD_LOCAL_SIZE", "MPI_LOCALNRANKS", "SLURM_NTASKS_PER_NODE"] {
            if let value = environment[name].flatMap({ Int($0) }), value >= 1 { return value }
        }
        let launched = ["OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMI_RANK", "PMIX_RANK", "SLURM_STEP_NUM_TASKS"]
            .contains { environment[$0] != nil }
        return launched ? nil : 1
    }

    public static func decide(environment: [String: String], onlineCPUs: Int, usableCPUs: Int) -> Decision {
        if let name = userVariables.first(where: { !(environment[$0] ?? "").isEmpty }) {
            return Decision(threads: nil, reason: "\(name)=\(environment[name]!) set by the user")
        }
        guard let ranks = ranksOnThisNode(environment: environment) else {
            // `srun` without --ntasks-per-node, say: 32 unbound ranks must not start 64 threads each.
            return Decision(threads: 1, reason: "1 per process (a launcher that does not say how many ranks share this "
                            + "node's \(usableCPUs) usable CPUs); OPENBLAS_NUM_THREADS overrides")
        }
        // Divided even when bound: a binding to a socket gives every rank of that socket the
        // same CPUs. Too few threads cost speed; too many cost far more (they wait for each other).
        let threads = max(1, usableCPUs / ranks)
        return Decision(threads: threads, reason: "\(threads) per process (\(ranks) rank\(ranks == 1 ? "" : "s") on this node, "
                        + "\(usableCPUs) usable of \(onlineCPUs) CPUs); OPENBLAS_NUM_THREADS overrides")
    }
}

/// CPUs this process may run on.
///
/// Its affinity mask (what mpirun's binding and taskset set), falling back to the active
/// processor count where there is no such call.
public func usableCPUCount() -> Int {
    let count = Int(vae_usable_cpu_count())
    return count > 0 ? count : ProcessInfo.processInfo.activeProcessorCount
}
