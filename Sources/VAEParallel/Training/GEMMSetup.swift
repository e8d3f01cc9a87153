import VAECore

/// Installs a run's GEMM engine on every rank: the same backend and precision everywhere.
///
/// Rank 0 decides (`GEMMChoice`: `auto` in fp32 times both backends on the model's GEMMs),
/// the others take its decision, and every rank makes its own engine; a failure on any
/// rank (bf16 on a CPU without AVX512_BF16, say) is agreed, so every rank ends with it.
public enum GEMMSetup {
    /// `configuration.gemm` is the backend a resumed run was trained with: `auto` keeps it.
    /// Returns the decision; the caller records its backend in the configuration.
    @discardableResult
    public static func install(request: GEMMBackendRequest, configuration: TrainingConfiguration, rowsPerRank: Int,
                               communicator: any Communicator) throws -> GEMMChoice.Decision {
        let precision = configuration.precision ?? .fp32
        let decision = try communicator.rootOnly { () -> GEMMChoice.Decision in
            if request == .auto, let trained = configuration.gemm {
                return .init(backend: trained, reason: "auto: as the checkpoint was trained")
            }
            return try GEMMChoice.decide(
                request: request, precision: precision,
                shapes: ModelGEMMs.step(configuration.architecture, rows: rowsPerRank, samples: configuration.samples))
        }
        let backendName = try communicator.broadcast(decision?.backend.rawValue ?? "", from: 0)
        let reason = try communicator.broadcast(decision?.reason ?? "", from: 0)
        let agreed = GEMMChoice.Decision(backend: GEMMBackend(rawValue: backendName)!, reason: reason)
        let engine = try communicator.agreed { try GEMMRuntime.makeEngine(agreed.backend, precision: precision) }
        GEMMRuntime.use(engine, reason: reason)
        return agreed
    }
}
