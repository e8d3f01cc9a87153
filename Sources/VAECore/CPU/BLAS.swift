import COpenBLAS

/// Row-major single-precision GEMM: C = alpha * op(A) * op(B) + beta * C.
///
/// op(A) is [m, k], op(B) [k, n], C [m, n]; leading dimensions are the stored row lengths.
/// Every GEMM of the model goes through here and runs on the process's engine
/// (`GEMMRuntime.engine`: OpenBLAS fp32 unless start-up chose otherwise).
@inline(__always)
func sgemm(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
    alpha: Float = 1, a: UnsafePointer<Float>, lda: Int,
    b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    if m == 0 || n == 0 { return }
    if k == 0 {
        // An empty sum (a layer over zero active units): BLAS rejects lda = 0, so do it here.
        precondition(beta == 0 || beta == 1, "sgemm with k = 0 handles beta 0 or 1")
        if beta == 0 { for row in 0..<m { (c + row * ldc).update(repeating: 0, count: n) } }
        return
    }
    if ReproducibleGEMM.isEnabled {
        ReproducibleGEMM.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                  a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
        return
    }
    backendSGEMM(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                 a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// The engine's GEMM itself, as the call gives it: what `sgemm` and `ReproducibleGEMM` run on.
@inline(__always)
func backendSGEMM(
    transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
) {
    GEMMRuntime.engine.multiply(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
}

/// OpenBLAS's `cblas_sgemm`, as it always ran here.
public final class OpenBLASGEMM: GEMMEngine {
    public let backend = GEMMBackend.openblas
    public let precision = GEMMPrecision.fp32

    public init() {}

    public func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                         a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
            beta, c, blasint(ldc))
    }
}

/// Facts about the BLAS library this process loaded.
public enum BLASLibrary {
    /// OpenBLAS's name for the kernel it chose for this CPU (e.g. "SkylakeX", "Prescott").
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }

    public static var threadCount: Int { Int(openblas_get_num_threads()) }

    /// Sets OpenBLAS's threads and oneDNN's (OpenMP's, for this thread's next GEMMs) to `count`.
    public static func setThreadCount(_ count: Int) {
        openblas_set_num_threads(Int32(count))
        OpenMPThreads.set(count)
    }
}
