import Foundation
import VAECore
import VAEParallel

/// The rate a GEMM engine reaches on one GEMM shape of the step, at the current thread count.
public struct GEMMRate: Codable, Equatable, Sendable {
    public let shape: GEMMShape
    /// Seconds per call over the timed rounds.
    public let secondsPerCall: Spread
    /// Heap allocations per call inside the engine (nil without the malloc_count shim).
    public let allocationsPerCall: Double?
    public var gflops: Double { shape.flops / secondsPerCall.median / 1e9 }
}

/// The physical ceiling of a training step.
///
/// Each of its GEMMs run alone, back to back, on warm buffers. A step that were only its
/// GEMMs would take the sum of their median times; the step's FLOPs over that sum is the
/// time-weighted aggregate rate.
public struct SGEMMCeiling: Codable, Equatable, Sendable {
    /// The GEMM engine timed: "OpenBLAS fp32", "oneDNN fp32", "oneDNN bf16".
    public let engine: String
    public let threads: Int
    public let rows: Int
    public let rates: [GEMMRate]

    public var flopsPerStep: Double { rates.reduce(0) { $0 + $1.shape.flops } }
    public var secondsPerStep: Double { rates.reduce(0) { $0 + $1.secondsPerCall.median } }
    /// Time-weighted aggregate GFLOP/s over the step's GEMMs.
    public var gflops: Double { flopsPerStep / secondsPerStep / 1e9 }
    /// Datapoints per second of one process if a step cost only its GEMMs.
    public var samplesPerSecond: Double { Double(rows) / secondsPerStep }

    /// Times each shape on `engine` in `rounds` rounds of at least `secondsPerRound` each (after one untimed call).
    ///
    /// The per-call time of a shape is the median round.
    public static func measure(engine: any GEMMEngine, shapes: [GEMMShape], rows: Int, secondsPerRound: Double,
                               rounds: Int = 5, counter: AllocationCounter? = nil) -> SGEMMCeiling {
        precondition(rounds >= 1 && secondsPerRound > 0)
        let operands = GEMMOperands(shapes: shapes)
        defer { operands.deallocate() }
        let rates = shapes.map { shape -> GEMMRate in
            operands.run(shape, on: engine)
            var perCall: [Double] = []
            perCall.reserveCapacity(rounds)  // no allocation inside the counted rounds
            var totalCalls = 0
            let allocationsBefore = counter?.count ?? 0
            for _ in 0..<rounds {
                var calls = 0
                let start = monotonicSeconds()
                var elapsed = 0.0
                repeat {
                    for _ in 0..<8 { operands.run(shape, on: engine) }
                    calls += 8
                    elapsed = monotonicSeconds() - start
                } while elapsed < secondsPerRound
                perCall.append(elapsed / Double(calls))
                totalCalls += calls
            }
            let allocations = counter.map { Double($0.count - allocationsBefore) / Double(totalCalls) }
            return GEMMRate(shape: shape, secondsPerCall: Spread(perCall), allocationsPerCall: allocations)
        }
        let threads = engine.backend == .onednn ? OpenMPThreads.count : BLASLibrary.threadCount
        return SGEMMCeiling(engine: engine.name, threads: threads, rows: rows, rates: rates)
    }
}
