/// GEMM calls whose every row (and unit) has the same bits however the calls are cut.
///
/// One process computes a layer's product on all rows of a global batch; N ranks each
/// compute it on their rows, and the weight gradient of a range of units on all rows.
/// For the ranks to reproduce the process bit for bit, an element of C must not depend on
/// how many rows (or units) share its call, nor on how many BLAS threads run it. OpenBLAS
/// 0.3.21 breaks both (measured with its SkylakeX and Cooperlake kernels, docs/parallel.md):
///
/// - a call with m n k <= 100^3 takes its small-matrix path, whose sums differ from the
///   regular path's (a forward on 43 rows of the head differs from the same rows in a
///   128-row call);
/// - with more than one thread, a K above the kernel's block (320 for Cooperlake) is cut
///   into blocks at other places than with one thread.
///
/// The regular path with K inside one block gives each element the same bits for any m, n
/// and thread count. So, while enabled, every `sgemm` is cut into calls of at most
/// `chunk` along K (C accumulates the chunks in order, as the library accumulates its
/// blocks), and a call whose m n k would take the small path is padded along m with zero
/// rows in scratch memory until it does not. A start-up check (`ReproducibleGEMM.check`)
/// verifies these properties for the kernel in use; a kernel that fails it (OpenBLAS's
/// Haswell kernel splits rows differently) gets no guarantee.
public enum ReproducibleGEMM {
    /// How calls are cut: the two numbers the guarantee rests on.
    public struct Policy: Sendable, Equatable {
        /// The most K one call sums: the kernel must not cut it into blocks.
        public var chunk: Int
        /// Calls with m n k at or below this take the library's small-matrix path.
        public var smallProduct: Int

        public init(chunk: Int = 320, smallProduct: Int = 1_000_000) {
            self.chunk = chunk
            self.smallProduct = smallProduct
        }
    }

    /// The policy in force; nil runs every call as given.
    public nonisolated(unsafe) private(set) static var policy: Policy?
    /// Scratch for padded calls: op(A) and C with rows added. Grown on demand, so the
    /// first step of a run may allocate and later ones do not.
    private nonisolated(unsafe) static var scratchA = Scratch()
    private nonisolated(unsafe) static var scratchC = Scratch()

    public static var isEnabled: Bool { policy != nil }

    /// Cuts every later `sgemm` call by `policy` (nil: calls run as given). Set once at
    /// start-up, on the thread that runs the model.
    public static func use(_ policy: Policy?) {
        self.policy = policy
    }

    /// The rows a call of `n` columns summing `k` terms needs to stay off the small path.
    public static func paddedRows(m: Int, n: Int, k: Int, policy: Policy) -> Int {
        let product = m * n * k
        guard product <= policy.smallProduct, n > 0, k > 0 else { return m }
        return policy.smallProduct / (n * k) + 1
    }

    /// `sgemm` under the policy: K in chunks, each chunk's call padded along m when small.
    static func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                         a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                         beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
        guard let policy else { preconditionFailure("ReproducibleGEMM.multiply without a policy") }
        let (chunks, size) = chunking(k: k, policy: policy)
        let smallest = k - size * (chunks - 1)
        let rows = paddedRows(m: m, n: n, k: min(size, smallest), policy: policy)
        if rows == m {
            for chunk in 0..<chunks {
                let first = chunk * size, count = min(size, k - first)
                backendSGEMM(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: count, alpha: alpha,
                             a: transposeA ? a + first * lda : a + first, lda: lda,
                             b: transposeB ? b + first : b + first * ldb, ldb: ldb,
                             beta: chunk == 0 ? beta : 1, c: c, ldc: ldc)
            }
            return
        }
        // Padded: op(A) [rows, k] and C [rows, n] in scratch. The rows past m hold whatever
        // an earlier call left (zeros, or finite values of the model): each row of C depends
        // on its own row of op(A) only, so they cost time, never bits.
        let paddedA = scratchA.floats(rows * k)
        let paddedC = scratchC.floats(rows * n)
        if transposeA {  // A is stored [k, m]: op(A)'s rows are its columns
            for term in 0..<k { (paddedA + term * rows).update(from: a + term * lda, count: m) }
        } else {
            for row in 0..<m { (paddedA + row * k).update(from: a + row * lda, count: k) }
        }
        if beta != 0 {
            for row in 0..<m { (paddedC + row * n).update(from: c + row * ldc, count: n) }
        }
        let paddedLDA = transposeA ? rows : k
        for chunk in 0..<chunks {
            let first = chunk * size, count = min(size, k - first)
            backendSGEMM(transposeA: transposeA, transposeB: transposeB, m: rows, n: n, k: count, alpha: alpha,
                         a: transposeA ? paddedA + first * paddedLDA : paddedA + first, lda: paddedLDA,
                         b: transposeB ? b + first : b + first * ldb, ldb: ldb,
                         beta: chunk == 0 ? beta : 1, c: paddedC, ldc: n)
        }
        for row in 0..<m { (c + row * ldc).update(from: paddedC + row * n, count: n) }
    }

    /// How K is cut: `chunks` calls of `size` terms, the last one the rest.
    ///
    /// Equal chunks on 16-float boundaries where that leaves a last chunk, else plain equal
    /// ones: a fixed function of k, so every rank cuts the same K the same way.
    static func chunking(k: Int, policy: Policy) -> (chunks: Int, size: Int) {
        let chunks = (k + policy.chunk - 1) / policy.chunk
        let even = (k + chunks - 1) / chunks
        let aligned = (even + 15) / 16 * 16
        return (chunks, aligned * (chunks - 1) < k ? aligned : even)
    }

    /// A growing block of floats (never shrinks; made on the first call that needs it).
    private struct Scratch {
        private var pointer: UnsafeMutablePointer<Float>?
        private var capacity = 0

        mutating func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            if count > capacity {
                pointer?.deallocate()
                capacity = max(count, capacity * 2)
                pointer = .allocate(capacity: capacity)
                pointer!.initialize(repeating: 0, count: capacity)
            }
            return pointer!
        }
    }
}
