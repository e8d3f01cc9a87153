import VAECore

/// How a step's gradients become every rank's update (`--gradient-exchange`).
public enum GradientExchangeChoice: String, CaseIterable, Codable, Sendable {
    /// shared-memory when the nodes hold two or more ranks each (the same number), else allreduce.
    case auto
    /// The ranks of a node sum each other's gradient slots in shared memory.
    ///
    /// Each sums one range of the parameters; with several nodes, each range is then
    /// allreduced with the same range of the other nodes. Each rank updates its range (a
    /// sharded optimizer step). Needs the same number of ranks on every node.
    case sharedMemory = "shared-memory"
    /// One MPI_Allreduce of the fused gradient buffer, then every rank updates every parameter.
    ///
    /// Works across nodes.
    case allreduce
}

/// `--gradient-exchange shared-memory` on a job that cannot have it.
///
/// The nodes hold different numbers of ranks, or lack room; every rank finds this at
/// the same point.
public struct SharedMemoryUnavailable: CollectiveError, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

extension GradientExchangeChoice {
    /// Collective: the exchange this choice gives on this job.
    ///
    /// `auto` takes shared memory when every node holds the same number of ranks, two
    /// or more, and the window fits; otherwise the allreduce, whose banner line says
    /// why. `overlapAllreduce` asks for the two-bucket allreduce. One process takes the
    /// allreduce, whose collectives are then identities.
    func makeExchange(communicator: any Communicator, configuration: TrainingConfiguration, layout: ParameterLayout,
                      decoderStart: Int, overlapAllreduce: Bool) throws -> any GradientExchange {
        let parameterCount = layout.totalCount
        if self == .sharedMemory && overlapAllreduce {
            throw TrainingSetupError("--overlap-allreduce overlaps the MPI allreduce: use it with --gradient-exchange allreduce or auto, not shared-memory")
        }
        if overlapAllreduce && communicator.size > 1 {
            return OverlappedAllreduceExchange(communicator: communicator, parameterCount: parameterCount,
                                               decoderStart: decoderStart)
        }
        guard communicator.size > 1, self != .allreduce else {
            return AllreduceExchange(communicator: communicator, parameterCount: parameterCount)
        }
        // Under auto, one rank per node has nobody to share with: one fused allreduce is cheaper.
        switch try SharedMemoryExchange.open(communicator: communicator, parameterCount: parameterCount,
                                             stateBuffers: configuration.optimizer.stateBufferCount,
                                             requireSharing: self == .auto) {
        case .opened(let exchange):
            return exchange
        case .unavailable(let reason):
            if self == .sharedMemory {
                // Every rank got the same answer from `open`: a collective error.
                throw SharedMemoryUnavailable("--gradient-exchange shared-memory: \(reason) (use auto or allreduce)")
            }
            return AllreduceExchange(communicator: communicator, parameterCount: parameterCount,
                                     note: "shared memory not used: " + reason)
        }
    }
}
