/// The library that runs the project's GEMMs (`--gemm`).
public enum GEMMBackend: String, CaseIterable, Codable, Sendable {
    /// OpenBLAS's `cblas_sgemm`: float32 only.
    case openblas
    /// oneDNN's matmul primitive: float32, or bfloat16 inputs with float32 accumulation.
    case onednn
}

/// The number format of the GEMM inputs (`--precision`, docs/algorithm.md).
///
/// Only the GEMMs' inputs change: weights, gradients, optimizer state, the loss and
/// every elementwise pass stay float32, and so do the GEMMs' sums.
public enum GEMMPrecision: String, CaseIterable, Codable, Sendable {
    case fp32
    /// Both factors of every product rounded to bfloat16 (round to nearest even), their
    /// products summed in float32.
    case bf16
}

/// One way to run a row-major GEMM: a library at a precision.
///
/// `sgemm` hands every call to the process's engine (`GEMMRuntime`); the bench times
/// engines side by side. An engine is used from one thread at a time: it may keep
/// staging buffers between calls.
public protocol GEMMEngine: AnyObject {
    var backend: GEMMBackend { get }
    var precision: GEMMPrecision { get }

    /// C = alpha op(A) op(B) + beta C with op(A) [m, k], op(B) [k, n], C [m, n];
    /// m, n, k >= 1, beta 0 or 1.
    func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                  a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                  beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int)
}

extension GEMMEngine {
    /// "oneDNN bf16", "OpenBLAS fp32": how the banner and the bench name an engine.
    public var name: String { "\(backend.displayName) \(precision.rawValue)" }
}

extension GEMMBackend {
    public var displayName: String {
        switch self {
        case .openblas: "OpenBLAS"
        case .onednn: "oneDNN"
        }
    }
}
