import Foundation

/// How this process was started, read from the environment a launcher leaves behind.
///
/// The rule, first match wins:
/// 1. `OMPI_COMM_WORLD_SIZE` — Open MPI's mpirun/mpiexec (any size, 1 included).
/// 2. `PMI_SIZE` or `PMI_RANK` — a PMI launcher: MPICH/Intel MPI hydra, `srun --mpi=pmi2`.
/// 3. `PMIX_RANK` — a PMIx launcher: `srun --mpi=pmix`, prterun.
/// 4. `SLURM_STEP_NUM_TASKS` > 1 with `SLURM_PROCID` — one task of a multi-task
///    `srun` step whose MPI plugin exports none of the above.
/// Otherwise the process is alone. Slurm's job-level variables (`SLURM_NTASKS`,
/// `SLURM_PROCID=0` of a batch script) are deliberately not enough: a plain command in
/// an `sbatch` script is one process even when the job asked for many tasks.
public enum Launch: Equatable, Sendable {
    /// Started by `launcher`, which announced `expectedSize` ranks when it says so.
    case mpi(launcher: String, expectedSize: Int?)
    /// No launcher: one plain process.
    case singleProcess

    public static func detect(in environment: [String: String]) -> Launch {
        func number(_ name: String) -> Int? { environment[name].flatMap { Int($0) } }

        if let size = number("OMPI_COMM_WORLD_SIZE") {
            return .mpi(launcher: "Open MPI mpirun", expectedSize: size)
        }
        if environment["PMI_SIZE"] != nil || environment["PMI_RANK"] != nil {
            return .mpi(launcher: "PMI launcher", expectedSize: number("PMI_SIZE"))
        }
        if environment["PMIX_RANK"] != nil {
            return .mpi(launcher: "PMIx launcher", expectedSize: number("SLURM_STEP_NUM_TASKS"))
        }
        if environment["SLURM_PROCID"] != nil, let tasks = number("SLURM_STEP_NUM_TASKS"), tasks > 1 {
            return .mpi(launcher: "Slurm srun", expectedSize: tasks)
        }
        return .singleProcess
    }

    /// This process's rank as the launcher numbered it, before MPI is initialised; nil when
    /// no launcher started it or none says.
    public static func rank(in environment: [String: String]) -> Int? {
        guard case .mpi = detect(in: environment) else { return nil }
        for name in ["OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID"] {
            if let rank = environment[name].flatMap({ Int($0) }) { return rank }
        }
        return nil
    }

    /// Whether a launcher started this process as a rank other than 0.
    ///
    /// What every rank would say alike (a bad option, `--help`) is said by rank 0 alone.
    public static func isNonRootRank(in environment: [String: String] = ProcessInfo.processInfo.environment) -> Bool {
        (rank(in: environment) ?? 0) != 0
    }
}

/// The communicator for this process.
///
/// MPI when a launcher started it, the single-process communicator otherwise, so
/// `vae-dist train` never needs mpirun.
public func makeCommunicator(
    environment: [String: String] = ProcessInfo.processInfo.environment
) throws -> any Communicator {
    switch Launch.detect(in: environment) {
    case .singleProcess:
        return SingleProcessCommunicator()
    case let .mpi(launcher, expectedSize):
        let communicator = try MPICommunicator()
        if let expectedSize, expectedSize != communicator.size {
            // Typically srun without an MPI plugin: each task becomes its own 1-rank
            // job and would silently train alone. Every task sees the same mismatch.
            try? communicator.finalize()
            throw LaunchMismatch(launcher: launcher, expectedSize: expectedSize, mpiSize: communicator.size)
        }
        return communicator
    }
}

/// The launcher started N tasks but MPI joined them into a world of another size.
public struct LaunchMismatch: CollectiveError, CustomStringConvertible {
    public let launcher: String
    public let expectedSize: Int
    public let mpiSize: Int

    public var description: String {
        "\(launcher) started \(expectedSize) tasks but MPI sees \(mpiSize) rank(s): the launcher and the MPI "
            + "library do not talk to each other (with Slurm, try `srun --mpi=pmix`; see `srun --mpi=list`)"
    }
}
