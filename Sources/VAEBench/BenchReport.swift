import Foundation

/// Everything `vae-dist bench` measured in one run.
///
/// Its JSON form (snake_case keys) is what scripts/bench.sh collects into
/// bench/results.json.
public struct BenchReport: Codable, Sendable {
    public var tool = "vae-dist bench"
    public var formatVersion = 1
    public var machine: MachineFacts
    public var ranks: Int
    public var model: ModelFacts
    public var globalBatch: Int
    /// The most rows one rank computes per step (the GEMM shapes' row count).
    public var rowsPerRank: Int
    public var data: DataFacts
    /// Flush-to-zero asked for (`--no-ftz` turns it off) and found set on the training thread.
    public var flushToZero: Bool
    public var flushToZeroActive: Bool
    /// The GEMM engine the training ran on and why.
    public var gemm: GEMMFacts
    /// The ceiling of that engine (the one `training.fractionOfCeiling` divides by).
    public var ceiling: CeilingSummary?
    /// The ceiling of every engine that runs here: OpenBLAS fp32, oneDNN fp32, oneDNN bf16.
    public var ceilings: [CeilingSummary]
    public var training: TrainingSummary?
    /// bf16's gradient against fp32's on one batch (nil without AVX512_BF16).
    public var gradientDifference: GradientDifference?
    public var allreduce: AllreduceSummary?
    /// How the ranks combined gradients.
    ///
    /// "shared-memory" or "allreduce" (the "allreduce" times and shares are that
    /// exchange's: synchronizing and summing, waiting included).
    public var gradientExchange: String?
    /// Whether the first layer's dormant units were skipped, or why not (the counts are per epoch).
    public var dormantUnits: String
    /// Which step ran: the reproducible one (rows, then units) or the fast one, and why.
    public var reproducibility: String?
    public var perRank: [RankFacts]
    /// Steady-state allocation counting: "counted" with the malloc_count shim, else why not.
    public var allocations: AllocationSummary

    public struct ModelFacts: Codable, Sendable {
        public var architecture: String
        public var parameters: Int
        public var samplesPerDatapoint: Int
        /// GEMM FLOPs of one training step per datapoint.
        ///
        /// Forward + backward, no input gradient for the first layer.
        public var flopsPerSample: Double
    }

    public struct GEMMFacts: Codable, Sendable {
        public var engine: String
        public var reason: String
    }

    public struct DataFacts: Codable, Sendable {
        public var source: String
        public var rows: Int
        public var features: Int
    }

    public struct CeilingSummary: Codable, Sendable {
        /// Rank 0's SGEMM rates; every rank measured at the same time (the node as loaded by training).
        public var rank0: SGEMMCeiling
        public var gflops: Double
        /// Samples/s of the whole job if a step cost only its GEMMs: the sum over ranks.
        public var samplesPerSecond: Double
    }

    public struct TrainingSummary: Codable, Sendable {
        public var epochs: [EpochMeasurement]
        /// Over the epochs (one repetition = one epoch; the slowest rank's time).
        public var samplesPerSecond: Spread
        public var firstEpochSamplesPerSecond: Double
        public var lastEpochSamplesPerSecond: Double
        /// Last epoch over first: 1 is flat; denormals show as a drop below 1.
        public var lastOverFirst: Double
        /// Median samples/s x GEMM FLOPs per sample.
        public var achievedGflops: Double
        /// Median samples/s over the ceiling's samples/s (nil without a ceiling).
        public var fractionOfCeiling: Double?
        /// Rank 0's steady-state step.
        ///
        /// The median step, and the mean step split into compute + allreduce (each the
        /// median over epochs of the per-epoch value).
        public var medianStepMilliseconds: Double
        public var meanStepMilliseconds: Double
        public var meanComputeMilliseconds: Double
        public var meanAllreduceMilliseconds: Double
        /// Allreduce time over step time on rank 0 (includes waiting for slower ranks).
        public var allreduceShare: Double
    }

    public struct AllreduceSummary: Codable, Sendable {
        /// The fused buffer: gradients, 3 loss sums and the status slot.
        public var floats: Int
        public var bytes: Int
        /// Bare allreduces of that buffer between barriers (no training around them).
        public var bareMilliseconds: Spread
        public var bareAllocations: UInt64?
        public var bareRepetitions: Int
    }

    public struct RankFacts: Codable, Sendable {
        public var rank: Int
        public var peakResidentBytes: Int?
        public var steadyStateAllocations: UInt64?
        public var allreduceShare: Double?
        public var stepMilliseconds: Double?
        /// CPU seconds per wall second while training (all threads; MPI's busy-polling counts as busy).
        ///
        /// Below the thread count, the rank was waiting for a CPU: the machine was
        /// oversubscribed.
        public var cpuPerWallSecond: Double?
    }

    public struct AllocationSummary: Codable, Sendable {
        public var status: String
        /// Steady-state steps counted (epochs after the first; the first if only one) on every rank.
        public var steps: Int
        /// Allocations in those steps, summed over ranks, and per step.
        public var count: UInt64?
        public var perStep: Double?
        public var bytes: UInt64?
    }

    public func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(self), as: UTF8.self)
    }
}
