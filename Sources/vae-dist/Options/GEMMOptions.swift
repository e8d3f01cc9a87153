import ArgumentParser
import VAECore
import VAEParallel

/// The GEMM library and the number format of its inputs (`train`, `bench`).
struct GEMMOptions: ParsableArguments {
    @Option(help: "GEMM library: openblas, onednn, or auto: time the model's GEMMs on both at start-up and take the faster (a resumed run keeps its own).")
    var gemm: GEMMBackendRequest = .auto
    @Option(help: "Number format of the GEMM inputs: fp32, or bf16 (weights and activations rounded to bfloat16, float32 sums; needs oneDNN and AVX512_BF16) (default fp32; a resumed run keeps its checkpoint's).")
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
}
