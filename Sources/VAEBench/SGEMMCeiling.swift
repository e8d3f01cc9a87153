import COpenBLAS
import Foundation
import VAECore
import VAEParallel

/// The SGEMM rate OpenBLAS reaches on one GEMM shape of the step, at the current thread count.
public struct GEMMRate: Codable, Equatable, Sendable {
    public let shape: GEMMShape
    /// Seconds per call over the timed rounds.
    public let secondsPerCall: Spread
    /// Heap allocations per call inside OpenBLAS (nil without the malloc_count shim).
    public let allocationsPerCall: Double?
    public var gflops: Double { shape.flops / secondsPerCall.median / 1e9 }
}

/// The physical ceiling of a training step.
///
/// Each of its GEMMs run alone, back to back, on warm buffers. A step that were only its
/// GEMMs would take the sum of their median times; the step's FLOPs over that sum is the
/// time-weighted aggregate rate.
public struct SGEMMCeiling: Codable, Equatable, Sendable {
    public let threads: Int
    public let rows: Int
    public let rates: [GEMMRate]

    public var flopsPerStep: Double { rates.reduce(0) { $0 + $1.shape.flops } }
    public var secondsPerStep: Double { rates.reduce(0) { $0 + $1.secondsPerCall.median } }
    /// Time-weighted aggregate GFLOP/s over the step's GEMMs.
    public var gflops: Double { flopsPerStep / secondsPerStep / 1e9 }
    /// Datapoints per second of one process if a step cost only its GEMMs.
    public var samplesPerSecond: Double { Double(rows) / secondsPerStep }

    /// Times each shape in `rounds` rounds of at least `secondsPerRound` each (after one untimed call).
    ///
    /// The per-call time of a shape is the median round.
    public static func measure(shapes: [GEMMShape], rows: Int, secondsPerRound: Double, rounds: Int = 5,
                               counter: AllocationCounter? = nil) -> SGEMMCeiling {
        precondition(rounds >= 1 && secondsPerRound > 0)
        let rates = shapes.map { shape -> GEMMRate in
            let a = filledBuffer(count: shape.m * shape.k, seed: 1)
            let b = filledBuffer(count: shape.k * shape.n, seed: 2)
            let c = filledBuffer(count: shape.m * shape.n, seed: 3)
            defer { [a, b, c].forEach { $0.deallocate() } }
            let call = {
                cblas_sgemm(CblasRowMajor, shape.transposeA ? CblasTrans : CblasNoTrans,
                            shape.transposeB ? CblasTrans : CblasNoTrans,
                            blasint(shape.m), blasint(shape.n), blasint(shape.k), 1,
                            a, blasint(shape.transposeA ? shape.m : shape.k),
                            b, blasint(shape.transposeB ? shape.k : shape.n),
                            shape.accumulate ? 1 : 0, c, blasint(shape.n))
            }
            call()
            var perCall: [Double] = []
            perCall.reserveCapacity(rounds)  // no allocation inside the counted rounds
            var totalCalls = 0
            let allocationsBefore = counter?.count ?? 0
            for _ in 0..<rounds {
                var calls = 0
                let start = monotonicSeconds()
                var elapsed = 0.0
                repeat {
                    for _ in 0..<8 { call() }
                    calls += 8
                    elapsed = monotonicSeconds() - start
                } while elapsed < secondsPerRound
                perCall.append(elapsed / Double(calls))
                totalCalls += calls
            }
            let allocations = counter.map { Double($0.count - allocationsBefore) / Double(totalCalls) }
            return GEMMRate(shape: shape, secondsPerCall: Spread(perCall), allocationsPerCall: allocations)
        }
        return SGEMMCeiling(threads: BLASLibrary.threadCount, rows: rows, rates: rates)
    }

    /// Values in [0, 1) from a fixed sequence: no zeros or subnormals to flatter the kernel.
    private static func filledBuffer(count: Int, seed: UInt64) -> UnsafeMutablePointer<Float> {
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        var state = seed &* 0x9E37_79B9_7F4A_7C15
        for i in 0..<count {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            buffer[i] = Float(state >> 40) / Float(1 << 24) * 0.99 + 0.005
        }
        return buffer
    }
}
