import Foundation

/// What the command line asks of the GEMM backend (`--gemm`).
public enum GEMMBackendRequest: String, CaseIterable, Codable, Sendable {
    /// Measure the model's own GEMMs on both backends at start-up and take the faster.
    case auto
    case openblas
    case onednn
}

/// The start-up choice of the GEMM engine for a run.
///
/// bf16 runs on oneDNN (OpenBLAS has no bfloat16 GEMM here). In fp32, `auto` times one
/// training step's GEMMs (`ModelGEMMs.step`, at the rows each rank holds) on OpenBLAS and on
/// oneDNN in alternating rounds and takes oneDNN only when it is at least `margin` faster:
/// a near tie keeps the incumbent, so that a repeated run makes the same choice. The run
/// records the backend it chose (`TrainingConfiguration.gemm`); a resumed run keeps it.
public enum GEMMChoice {
    public static let margin = 0.03
    public static let rounds = 7

    public struct Decision: Sendable, Equatable {
        public var backend: GEMMBackend
        public var reason: String

        public init(backend: GEMMBackend, reason: String) {
            self.backend = backend
            self.reason = reason
        }
    }

    /// The backend for `request` at `precision`; `shapes` are one step's GEMMs (timed only for `auto` in fp32).
    public static func decide(request: GEMMBackendRequest, precision: GEMMPrecision,
                              shapes: [GEMMShape]) throws -> Decision {
        switch (request, precision) {
        case (.openblas, .bf16):
            throw GEMMSetupError("--precision bf16 needs --gemm onednn (or auto): OpenBLAS as built here has no "
                                 + "bfloat16 GEMM")
        case (.auto, .bf16): return Decision(backend: .onednn, reason: "auto: bf16 runs on oneDNN")
        case (.openblas, .fp32): return Decision(backend: .openblas, reason: "--gemm openblas")
        case (.onednn, _): return Decision(backend: .onednn, reason: "--gemm onednn")
        case (.auto, .fp32):
            let openBLAS = OpenBLASGEMM()
            let oneDNN = try OneDNNGEMM(precision: .fp32)
            let (openBLASTime, oneDNNTime) = timeAlternating(openBLAS, oneDNN, shapes: shapes)
            let ratio = openBLASTime / oneDNNTime
            let measured = String(format: "oneDNN %.2fx OpenBLAS on the model's GEMMs (%.3f vs %.3f ms a step, "
                                  + "median of %d alternating rounds)", ratio, oneDNNTime * 1e3, openBLASTime * 1e3, rounds)
            return Decision(backend: ratio >= 1 + margin ? .onednn : .openblas, reason: "auto: " + measured)
        }
    }

    /// Median seconds per step's GEMMs of each engine, timed in alternating rounds after one
    /// untimed round each (oneDNN's first call of a kind compiles its kernels).
    public static func timeAlternating(_ first: any GEMMEngine, _ second: any GEMMEngine,
                                       shapes: [GEMMShape], rounds: Int = rounds) -> (Double, Double) {
        let operands = GEMMOperands(shapes: shapes)
        defer { operands.deallocate() }
        var (firstTimes, secondTimes) = ([Double](), [Double]())
        for round in 0...rounds {
            let a = seconds { operands.run(shapes, on: first) }
            let b = seconds { operands.run(shapes, on: second) }
            if round > 0 { firstTimes.append(a); secondTimes.append(b) }
        }
        return (median(firstTimes), median(secondTimes))
    }

    private static func seconds(_ body: () -> Void) -> Double {
        let start = DispatchTime.now().uptimeNanoseconds
        body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
    }

    private static func median(_ values: [Double]) -> Double {
        let sorted = values.sorted()
        return sorted.isEmpty ? .nan : sorted[sorted.count / 2]
    }
}

/// A, B and C buffers for the largest of some GEMM shapes, filled with values in (0, 1)
/// from a fixed sequence (no zeros or subnormals to flatter a kernel).
public final class GEMMOperands {
    public let a: UnsafeMutablePointer<Float>
    public let b: UnsafeMutablePointer<Float>
    public let c: UnsafeMutablePointer<Float>

    public init(shapes: [GEMMShape]) {
        func filled(_ count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
            let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
            var state = seed &* 0x9E37_79B9_7F4A_7C15
            for i in 0..<max(count, 1) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                buffer[i] = Float(state >> 40) / Float(1 << 24) * 0.99 + 0.005
            }
            return buffer
        }
        a = filled(shapes.map { $0.m * $0.k }.max() ?? 1, seed: 1)
        b = filled(shapes.map { $0.k * $0.n }.max() ?? 1, seed: 2)
        c = filled(shapes.map { $0.m * $0.n }.max() ?? 1, seed: 3)
    }

    public func deallocate() { [a, b, c].forEach { $0.deallocate() } }

    /// One call of `shape` on `engine`, with packed leading dimensions.
    public func run(_ shape: GEMMShape, on engine: any GEMMEngine) {
        engine.multiply(transposeA: shape.transposeA, transposeB: shape.transposeB, m: shape.m, n: shape.n, k: shape.k,
                        alpha: 1, a: a, lda: shape.transposeA ? shape.m : shape.k,
                        b: b, ldb: shape.transposeB ? shape.k : shape.n,
                        beta: shape.accumulate ? 1 : 0, c: c, ldc: shape.n)
    }

    public func run(_ shapes: [GEMMShape], on engine: any GEMMEngine) {
        for shape in shapes { run(shape, on: engine) }
    }
}
