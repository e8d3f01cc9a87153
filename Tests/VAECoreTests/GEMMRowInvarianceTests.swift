@testable import VAECore
import XCTest

/// The per-row property N ranks rely on (`GEMMRowInvariance`): the oneDNN engines keep it
/// on the default model's layers for any row count (its padding and row blocks), and the
/// check can fail.
final class GEMMRowInvarianceTests: XCTestCase {
    private let defaultLayers = GEMMRowInvariance.layers(of: TrainingConfiguration.defaults().architecture)
    /// One row, rows below the 16-row padding, the two-rank and one-rank shares of batch 128
    /// and 256, a short last batch, and a call past the 128-row blocks.
    private let rowCounts = [1, 7, 16, 48, 64, 96, 128, 200, 256]

    func testDefaultModelLayers() {
        XCTAssertEqual(defaultLayers, [.init(inFeatures: 784, outFeatures: 400, inputGradient: .none),
                                       .init(inFeatures: 400, outFeatures: 40, inputGradient: .direct),
                                       .init(inFeatures: 20, outFeatures: 400, inputGradient: .throughTranspose),
                                       .init(inFeatures: 400, outFeatures: 784, inputGradient: .direct)])
    }

    func testOneDNNFloat32KeepsEveryRowsBits() throws {
        XCTAssertNil(GEMMRowInvariance.check(engine: try OneDNNGEMM(precision: .fp32), layers: defaultLayers,
                                             rowCounts: rowCounts))
    }

    func testOneDNNBFloat16KeepsEveryRowsBits() throws {
        guard OneDNNGEMM.hasBFloat16Instructions else { throw XCTSkip("no AVX512_BF16 here") }
        XCTAssertNil(GEMMRowInvariance.check(engine: try OneDNNGEMM(precision: .bf16), layers: defaultLayers,
                                             rowCounts: rowCounts))
    }

    /// An engine whose sums depend on the call's size (the last bit of every element flipped
    /// in calls with m, or n, below 100) is caught, with the product. Its sums are otherwise
    /// plain loops in one order, the same for every shape.
    func testTheCheckFindsAnEngineThatDependsOnTheRowCount() {
        final class RowCountDependent: GEMMEngine {
            let backend = GEMMBackend.openblas
            let precision = GEMMPrecision.fp32
            let limit: Int
            let dimension: KeyPath<(Int, Int), Int>
            init(limit: Int, onColumns: Bool) {
                self.limit = limit
                dimension = onColumns ? \.1 : \.0
            }
            func multiply(transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
                          a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
                          beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int) {
                for i in 0..<m {
                    for j in 0..<n {
                        var sum = beta * c[i * ldc + j]
                        for p in 0..<k { sum += (transposeA ? a[p * lda + i] : a[i * lda + p]) * (transposeB ? b[j * ldb + p] : b[p * ldb + j]) }
                        c[i * ldc + j] = sum
                    }
                }
                guard (m, n)[keyPath: dimension] < limit else { return }
                for i in 0..<m { for j in 0..<n { c[i * ldc + j] = Float(bitPattern: c[i * ldc + j].bitPattern ^ 1) } }
            }
        }
        let layers = [GEMMRowInvariance.Layer(inFeatures: 30, outFeatures: 120, inputGradient: .throughTranspose)]
        XCTAssertNil(GEMMRowInvariance.check(engine: RowCountDependent(limit: 1, onColumns: false), layers: layers,
                                             rowCounts: [10, 128]), "the same sums for every shape")
        XCTAssertEqual(GEMMRowInvariance.check(engine: RowCountDependent(limit: 100, onColumns: false), layers: layers,
                                               rowCounts: [10, 128])?.product, "forward")
        // Only the transposed input gradient has the rows as columns (n).
        XCTAssertEqual(GEMMRowInvariance.check(engine: RowCountDependent(limit: 100, onColumns: true), layers: layers,
                                               rowCounts: [10, 128])?.product, "dX through the transpose")
        // Rows always >= 100: only the weight gradient's unit slices (m < 100) differ.
        XCTAssertEqual(GEMMRowInvariance.check(engine: RowCountDependent(limit: 100, onColumns: false), layers: layers,
                                               rowCounts: [110, 128])?.product, "dW")
    }

    /// What the check finds for OpenBLAS, printed for docs/performance.md (not asserted: it
    /// depends on the kernel OpenBLAS runs on this CPU).
    func testReportOpenBLAS() {
        let failure = GEMMRowInvariance.check(engine: OpenBLASGEMM(), layers: defaultLayers, rowCounts: rowCounts)
        print("OpenBLAS \(BLASLibrary.coreName): \(failure.map(String.init(describing:)) ?? "every row keeps its bits")")
    }
}
