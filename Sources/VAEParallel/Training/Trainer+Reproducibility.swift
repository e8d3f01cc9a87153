import VAECore

// The choice between the reproducible step (rows, then units) and the fast one.
extension Trainer {
    /// The row-sharing step of a reproducible run, or nil and why not (for the banner).
    ///
    /// Collective; `stepRows` is the largest step's global rows, `maxRows` a rank's share of
    /// it. `on` throws where `auto` falls back: a model the split step does not know,
    /// or a BLAS kernel that fails `ReproducibleGEMM.check` on some rank. On success the
    /// process's GEMMs run under the policy from here on.
    static func makeReproducibleStep(
        choice: ReproducibilityChoice, configuration: TrainingConfiguration, communicator: any Communicator,
        gradientExchange: GradientExchangeChoice, overlapAllreduce: Bool, stepRows: Int, maxRows: Int
    ) throws -> (SplitStep, RowSharingExchange)? {
        ReproducibleGEMM.use(nil)  // a process's earlier trainer may have left it on
        guard choice != .off else { return nil }
        if overlapAllreduce {
            throw TrainingSetupError("--overlap-allreduce overlaps the gradient allreduce of the fast step; the "
                                     + "reproducible step (the default) shares rows and has none: add --no-reproducible")
        }
        let architecture = configuration.architecture
        let batch = stepRows  // the largest step: --batch beyond the rows is every row
        guard let split = SplitStep(architecture: architecture, settings: configuration.objectiveSettings,
                                    globalBatch: batch, maxRows: maxRows) else {
            throw ReproducibilityUnavailable("the split step knows MLP encoders and decoders only")
        }
        if let failure = try ReproducibleGEMM.enableIfReproducible(for: architecture, rows: batch, draws: configuration.samples,
                                                                   communicator: communicator) {
            throw ReproducibilityUnavailable(failure)
        }
        let group = try rowSharingGroup(choice: gradientExchange, communicator: communicator, split: split,
                                        stateBuffers: configuration.optimizer.stateBufferCount)
        let exchange = try RowSharingExchange(communicator: communicator, group: group, split: split,
                                              stateBuffers: configuration.optimizer.stateBufferCount)
        return (split, exchange)
    }

    /// The GEMM engine request of a run: `auto` in an fp32 reproducible step means OpenBLAS.
    ///
    /// `auto` otherwise times both engines at the rows rank 0 holds and takes the faster, so
    /// one process and two ranks could pick different engines, and with them different
    /// sums. A resumed run keeps the engine it was trained with (`trained`). `auto` stays
    /// with bf16 (oneDNN only) and for a model the split step does not know (it trains the
    /// fast step); an explicit `--gemm` is kept, and the start-up check decides whether
    /// its sums are reproducible. Returns the request and, when it replaced `auto`, the
    /// reason for the banner.
    public static func gemmRequest(_ request: GEMMBackendRequest, configuration: TrainingConfiguration,
                                   reproducible: ReproducibilityChoice,
                                   trained: GEMMBackend?) -> (request: GEMMBackendRequest, reason: String?) {
        guard request == .auto, (configuration.precision ?? .fp32) == .fp32, reproducible != .off, trained == nil,
              SplitStep.knows(configuration.architecture) else {
            return (request, nil)
        }
        return (.openblas, "auto in the reproducible step: one engine whatever the ranks (--gemm onednn to ask for oneDNN)")
    }

    /// The ranks' grouping for the rows: a node's shared memory where `choice` allows it,
    /// else every rank alone (`SoloNodeGroup`). Collective.
    private static func rowSharingGroup(choice: GradientExchangeChoice, communicator: any Communicator,
                                        split: SplitStep, stateBuffers: Int) throws -> any NodeGroup {
        guard communicator.size > 1, choice != .allreduce else { return SoloNodeGroup(communicator: communicator) }
        guard let group = try communicator.makeNodeGroup() else {
            if choice == .sharedMemory {
                throw SharedMemoryUnavailable("--gradient-exchange shared-memory: the nodes hold different numbers of "
                                              + "ranks; it needs the same number of ranks on every node (use auto or allreduce)")
            }
            return SoloNodeGroup(communicator: communicator)
        }
        if choice == .auto && group.nodeSize == 1 { return SoloNodeGroup(communicator: communicator) }
        // The window's size is known only roughly here; the rows dominate beside the state.
        let bytes = 4 * (split.rows.floatCount + (2 + stateBuffers) * split.layout.totalCount)
        let shortage = group.sharedMemoryShortage(byteCount: bytes)
        if try communicator.allreduce(Int64(shortage == nil ? 0 : 1), .max) != 0 {
            if choice == .sharedMemory {
                throw SharedMemoryUnavailable("--gradient-exchange shared-memory: "
                                              + (shortage ?? "another node lacks room for the shared-memory exchange")
                                              + " (use auto or allreduce)")
            }
            return SoloNodeGroup(communicator: communicator)
        }
        return group
    }
}

/// The reproducible step cannot run here; the same verdict on every rank.
struct ReproducibilityUnavailable: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
