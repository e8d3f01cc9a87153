import CVAECPU

/// The GEMM engine of this process: what every `sgemm` call runs on.
///
/// Start-up (the trainer, the bench) installs one with `use` before the first step; until
/// then it is OpenBLAS in fp32, as it always was. The engine is a global because `sgemm`
/// keeps its plain signature for the layers; it is written only between steps, on the one
/// thread that runs the model.
public enum GEMMRuntime {
    public nonisolated(unsafe) private(set) static var engine: any GEMMEngine = OpenBLASGEMM()
    /// How the installed engine was chosen, for the banner; nil for the default.
    public nonisolated(unsafe) private(set) static var reason: String?

    public static func use(_ engine: any GEMMEngine, reason: String) {
        self.engine = engine
        self.reason = reason
    }

    /// A new engine of `backend` at `precision`; throws a one-line error when this build or
    /// CPU cannot run it (bf16 needs oneDNN and a CPU with AVX512_BF16).
    public static func makeEngine(_ backend: GEMMBackend, precision: GEMMPrecision) throws -> any GEMMEngine {
        switch (backend, precision) {
        case (.openblas, .fp32): return OpenBLASGEMM()
        case (.openblas, .bf16):
            throw GEMMSetupError("--precision bf16 needs --gemm onednn (or auto): OpenBLAS as built here has no "
                                 + "bfloat16 GEMM")
        case (.onednn, _): return try OneDNNGEMM(precision: precision)
        }
    }
}

/// A GEMM engine that cannot run here, in the words of the command line.
public struct GEMMSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// oneDNN's threads: the OpenMP runtime its Debian build runs on (libgomp).
///
/// They follow the rule of BLAS threads (`BLASThreadChoice`): `BLASLibrary.setThreadCount`
/// sets both; when the user's variables decide, OMP_NUM_THREADS is OpenMP's own, and
/// without it oneDNN runs as many threads as OpenBLAS was told to.
public enum OpenMPThreads {
    public static func set(_ count: Int) { _ = vae_openmp_set_threads(Int32(count)) }

    /// Threads of the next parallel region of this thread (0 without an OpenMP runtime).
    public static var count: Int { Int(vae_openmp_max_threads()) }

    /// Applies the start-up decision where it left OpenMP's count open (`threads` nil).
    public static func follow(_ decision: BLASThreadChoice.Decision, environment: [String: String]) {
        guard decision.threads == nil, (environment["OMP_NUM_THREADS"] ?? "").isEmpty else { return }
        set(BLASLibrary.threadCount)
    }
}
