import ArgumentParser
import VAECore
import VAEParallel

/// The GEMM library and the number format of its inputs (`train`, `bench`, `eval`, `embed`).
struct GEMMOptions: ParsableArguments {
    @Option(help: "GEMM library: openblas, onednn, or auto (train and bench: time the model's GEMMs on both at start-up and take the faster, and a resumed run keeps its own; eval and embed: OpenBLAS in fp32).")
    var gemm: GEMMBackendRequest = .auto
    @Option(help: "Number format of the GEMM inputs: fp32, or bf16 (weights and activations rounded to bfloat16, float32 sums; needs oneDNN and AVX512_BF16) (default fp32; train --resume keeps its checkpoint's).")
    var precision: GEMMPrecision?

    func validate() throws {
        if gemm == .openblas && precision == .bf16 {
            throw ValidationError("--precision bf16 needs --gemm onednn or auto: OpenBLAS as built here has no bfloat16 GEMM")
        }
    }

    /// Sets the precision the user gave in `configuration`.
    func apply(to configuration: inout TrainingConfiguration) {
        if let precision { configuration.precision = precision }
    }

    /// For a command that runs a trained model (eval, embed): installs the engine these
    /// options name on every rank, agreed. A checkpoint's parameters are float32 whatever
    /// it was trained with, so it runs in either precision.
    func install(communicator: any Communicator) throws {
        let precision = self.precision ?? .fp32
        let backend: GEMMBackend = gemm == .onednn || (gemm == .auto && precision == .bf16) ? .onednn : .openblas
        guard backend != .openblas || precision != .fp32 else { return }
        let engine = try communicator.agreed { try GEMMRuntime.makeEngine(backend, precision: precision) }
        GEMMRuntime.use(engine, reason: "--gemm \(gemm.rawValue) --precision \(precision.rawValue)")
    }
}
