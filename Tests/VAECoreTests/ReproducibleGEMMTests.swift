import XCTest
@testable import VAECore

/// How `ReproducibleGEMM` cuts calls, and its start-up check on the kernel in use.
final class ReproducibleGEMMTests: XCTestCase {
    /// K is cut into chunks of at most the policy's size, the same for every caller: a
    /// function of K alone, covering it once.
    func testChunksCoverKOnceWithinThePolicy() {
        let policy = ReproducibleGEMM.Policy()
        for k in 1...5_000 {
            let (chunks, size) = ReproducibleGEMM.chunking(k: k, policy: policy)
            let last = k - size * (chunks - 1)
            XCTAssertTrue(size <= policy.chunk && last >= 1 && last <= size, "k = \(k): \(chunks) x \(size), last \(last)")
        }
        XCTAssertTrue(ReproducibleGEMM.chunking(k: 784, policy: policy) == (3, 272))
        XCTAssertTrue(ReproducibleGEMM.chunking(k: 400, policy: policy) == (2, 208))
        XCTAssertTrue(ReproducibleGEMM.chunking(k: 320, policy: policy) == (1, 320))
    }

    /// A padded call leaves OpenBLAS's small-matrix path (m n k <= 10^6) and a large one is not padded.
    func testPaddingTakesSmallCallsOffTheSmallPath() {
        let policy = ReproducibleGEMM.Policy()
        for (m, n, k) in [(1, 40, 400), (64, 20, 192), (16, 400, 40), (125, 20, 400)] {
            let rows = ReproducibleGEMM.paddedRows(m: m, n: n, k: k, policy: policy)
            XCTAssertGreaterThan(rows * n * k, policy.smallProduct, "\(m) x \(n) x \(k)")
            XCTAssertLessThanOrEqual((rows - 1) * n * k, policy.smallProduct, "\(m) x \(n) x \(k): more rows than needed")
        }
        XCTAssertEqual(ReproducibleGEMM.paddedRows(m: 128, n: 400, k: 784, policy: policy), 128)
    }

    /// Under the policy, a padded and chunked product equals the plain product to float32
    /// rounding (the same sums, grouped in chunks).
    func testThePolicyComputesTheProduct() {
        let (m, n, k) = (5, 7, 600)
        var values = TestValues(seed: 61)
        let a = values.array(m * k, -1, 1), b = values.array(n * k, -1, 1)
        let c = FloatBuffer(count: m * n)
        ReproducibleGEMM.use(ReproducibleGEMM.Policy())
        a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                sgemm(transposeA: false, transposeB: true, m: m, n: n, k: k, a: a.baseAddress!, lda: k,
                      b: b.baseAddress!, ldb: k, beta: 0, c: c.pointer, ldc: n)
            }
        }
        ReproducibleGEMM.use(nil)
        for i in 0..<m {
            for j in 0..<n {
                var exact = 0.0
                for t in 0..<k { exact += Double(a[i * k + t]) * Double(b[j * k + t]) }
                // 600 float32 products of magnitude < 1: a few ulps of sqrt(600).
                XCTAssertEqual(Double(c[i * n + j]), exact, accuracy: 1e-4, "C[\(i), \(j)]")
            }
        }
    }

    /// The check passes on OpenBLAS's AVX-512 kernels and fails on its Haswell kernel, whose
    /// sums depend on how rows are split (the kernels vae-dist measured; others: skipped).
    func testTheCheckKnowsTheKernel() throws {
        let products: [ReproducibleGEMM.Product] = [
            .init(inFeatures: 784, outFeatures: 400, rows: 128, inputGradient: false),
            .init(inFeatures: 400, outFeatures: 40, rows: 128, inputGradient: true),
            .init(inFeatures: 20, outFeatures: 400, rows: 128, inputGradient: true)]
        let failure = ReproducibleGEMM.check(policy: ReproducibleGEMM.Policy(), products: products, threadCounts: [1, 2])
        switch BLASLibrary.coreName {
        case "SkylakeX", "Cooperlake": XCTAssertNil(failure)
        case "Haswell": XCTAssertNotNil(failure)
        default: throw XCTSkip("no verdict expected for OpenBLAS kernel \(BLASLibrary.coreName)")
        }
        XCTAssertFalse(ReproducibleGEMM.isEnabled, "the check restores the policy in force")
    }
}
