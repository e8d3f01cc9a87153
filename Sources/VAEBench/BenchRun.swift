import Foundation
import VAECore
import VAEIO
import VAEParallel

/// What `vae-dist bench` measures and how long.
public struct BenchOptions: Sendable {
    public var configuration = TrainingConfiguration.defaults()
    /// A data file path, "fashion-mnist", or nil for synthetic data.
    ///
    /// "fashion-mnist" is the default data, prepared on first use; nil means
    /// `syntheticRows` rows of synthetic image-like data.
    public var data: String?
    public var syntheticRows = 60_000
    /// Timed repetitions: epochs of training, each one repetition.
    public var epochs = 10
    public var flushToZero = true
    /// Minimum seconds of each of the 5 timed rounds per GEMM shape; 0 skips the ceiling.
    public var ceilingSecondsPerRound = 0.2
    public var allreduceRepetitions = 20
    /// Backtraces of this many allocations in the last epoch's steady state (needs the shim).
    public var traceAllocations = 0
    public var gradientExchange: GradientExchangeChoice = .auto
    public var dormantUnits: DormantUnitsChoice = .skip
    /// The GEMM backend; the precision is `configuration.precision`.
    public var gemm: GEMMBackendRequest = .auto
    public var reproducible: ReproducibilityChoice = .auto

    public init() {}
}

/// The whole measurement, collective over the ranks.
///
/// The report is complete on rank 0 (the other ranks get nil).
public enum BenchRun {
    public static func run(_ options: BenchOptions, communicator: any Communicator) throws -> BenchReport? {
        if options.flushToZero { FloatingPointEnvironment.enableFlushToZero() }
        let counter = AllocationCounter.find()
        if options.data == "fashion-mnist" { try prepareDefaultData(communicator: communicator) }
        let (source, imageShape) = try communicator.agreed { try makeSource(options, communicator: communicator) }
        var configuration = options.configuration
        configuration.architecture.fit(dataDimension: source.featureCount, imageShape: imageShape)
        let problems = configuration.problems
        if !problems.isEmpty { throw BenchSetupError(problems.joined(separator: "; ")) }
        guard configuration.globalBatch >= communicator.size else {
            throw BenchSetupError("--batch \(configuration.globalBatch) gives some of the \(communicator.size) ranks no rows")
        }
        try configuration.requireMemory(rowCount: source.rowCount, ranks: communicator.size)
        let stepRows = EpochSchedule.largestStep(rowCount: source.rowCount, globalBatch: configuration.globalBatch)
        let rowsPerRank = EpochSchedule.rankRange(batchSize: stepRows, rank: communicator.size - 1,
                                                  size: communicator.size).count
        let architecture = configuration.architecture
        let flopsPerSample = ModelGEMMs.flopsPerSample(architecture, samples: configuration.samples)

        // 1. The engine of the run (as `train` chooses it), then the ceiling of every engine
        //    that runs here, every rank at once: what the node's cores give the step's GEMMs.
        let gemm = Trainer.gemmRequest(options.gemm, configuration: configuration,
                                       reproducible: options.reproducible, trained: nil)
        configuration.gemm = try GEMMSetup.install(request: gemm.request, configuration: configuration,
                                                   rowsPerRank: rowsPerRank, communicator: communicator).backend
        if let reason = gemm.reason { GEMMRuntime.use(GEMMRuntime.engine, reason: reason) }
        var ceilings: [BenchReport.CeilingSummary] = []
        if options.ceilingSecondsPerRound > 0 {
            let shapes = ModelGEMMs.step(architecture, rows: rowsPerRank, samples: configuration.samples)
            for engine in try communicator.agreed({ try ceilingEngines() }) {
                try communicator.barrier()
                let measured = SGEMMCeiling.measure(engine: engine, shapes: shapes, rows: rowsPerRank,
                                                    secondsPerRound: options.ceilingSecondsPerRound, counter: counter)
                let jobSamplesPerSecond = try communicator.allreduce(measured.samplesPerSecond, .sum)
                ceilings.append(.init(rank0: measured, gflops: measured.gflops, samplesPerSecond: jobSamplesPerSecond))
            }
        }
        // The training figures are fractions of the ceiling of the engine they ran on.
        let ceiling = ceilings.first { $0.rank0.engine == GEMMRuntime.engine.name }

        // 2. Training steps.
        let (cpuStart, wallStart) = (processCPUSeconds(), monotonicSeconds())
        let (trainer, epochs) = try TrainingBenchmark.run(
            configuration: configuration, communicator: communicator, source: source, epochs: options.epochs,
            counter: counter, traceAllocations: options.traceAllocations, gradientExchange: options.gradientExchange,
            dormantUnits: options.dormantUnits, reproducible: options.reproducible)
        let cpuPerWall = (processCPUSeconds() - cpuStart) / (monotonicSeconds() - wallStart)
        let flushToZeroActive = FloatingPointEnvironment.flushToZeroEnabled
        // What bf16 does to one step's gradient, at the initial and the trained parameters (rank 0's rows).
        let gradientDifference = try communicator.agreed {
            try GradientDifference.measure(configuration: configuration, objective: trainer.objective,
                                           trained: trainer.parameters.pointer, source: source, rows: rowsPerRank)
        }

        // 3. The same allreduce bare, to tell its own cost from waiting for other ranks.
        let fusedFloats = trainer.layout.totalCount + 4
        var allreduce: BenchReport.AllreduceSummary?
        if communicator.size > 1 {
            let bare = try TrainingBenchmark.bareAllreduce(communicator: communicator, floatCount: fusedFloats,
                                                            repetitions: options.allreduceRepetitions, counter: counter)
            let bareAllocations = try bare.allocations.map { try communicator.allreduce(Int64($0), .sum) }
            allreduce = .init(floats: fusedFloats, bytes: fusedFloats * 4, bareMilliseconds: bare.seconds.scaled(by: 1e3),
                              bareAllocations: bareAllocations.map { UInt64($0) }, bareRepetitions: options.allreduceRepetitions)
        }

        // 4. Per-rank facts, gathered on rank 0.
        let steady = epochs.count > 1 ? Array(epochs.dropFirst()) : epochs
        let steadyAllocations = counter == nil ? nil : steady.reduce(UInt64(0)) { $0 + ($1.steadyStateAllocations ?? 0) }
        let steadyBytes = steady.reduce(UInt64(0)) { $0 + ($1.steadyStateAllocatedBytes ?? 0) }
        let steadySteps = steady.reduce(0) { $0 + $1.stepSeconds.count }
        let ownShare = Spread(epochs.map(\.allreduceShare)).median
        let ownStep = Spread(epochs.map(\.stepSeconds.median)).median
        let own: [Double] = [Double(peakResidentBytes() ?? -1), steadyAllocations.map { Double($0) } ?? -1,
                             Double(steadyBytes), ownShare, ownStep, cpuPerWall]
        let gathered = try own.withUnsafeBufferPointer { try communicator.gatherv($0, to: 0) }
        guard communicator.isRoot, let gathered else { return nil }

        var perRank: [BenchReport.RankFacts] = []
        for rank in 0..<communicator.size {
            let values = Array(gathered.part(ofRank: rank))
            perRank.append(.init(rank: rank, peakResidentBytes: values[0] < 0 ? nil : Int(values[0]),
                                 steadyStateAllocations: values[1] < 0 ? nil : UInt64(values[1]),
                                 allreduceShare: values[3], stepMilliseconds: values[4] * 1e3,
                                 cpuPerWallSecond: values[5]))
        }
        let totalAllocations = counter == nil ? nil : perRank.reduce(UInt64(0)) { $0 + ($1.steadyStateAllocations ?? 0) }
        let totalBytes = perRank.indices.reduce(0.0) { $0 + gathered.part(ofRank: $1).dropFirst(2).first! }
        let allocations = BenchReport.AllocationSummary(
            status: counter == nil ? "not measured (run with LD_PRELOAD=scripts/malloc-count/malloc_count.so; scripts/bench.sh does)"
                                   : "counted",
            steps: steadySteps, count: totalAllocations,
            perStep: totalAllocations.map { Double($0) / Double(max(steadySteps, 1)) },
            bytes: counter == nil ? nil : UInt64(totalBytes))

        let throughput = Spread(epochs.map(\.samplesPerSecond))
        let training = BenchReport.TrainingSummary(
            epochs: epochs, samplesPerSecond: throughput,
            firstEpochSamplesPerSecond: epochs.first!.samplesPerSecond,
            lastEpochSamplesPerSecond: epochs.last!.samplesPerSecond,
            lastOverFirst: epochs.last!.samplesPerSecond / epochs.first!.samplesPerSecond,
            achievedGflops: throughput.median * flopsPerSample / 1e9,
            fractionOfCeiling: ceiling.map { throughput.median / $0.samplesPerSecond },
            medianStepMilliseconds: Spread(epochs.map(\.stepSeconds.median)).median * 1e3,
            meanStepMilliseconds: Spread(epochs.map(\.meanStepSeconds)).median * 1e3,
            meanComputeMilliseconds: Spread(epochs.map { $0.meanStepSeconds - $0.meanAllreduceSeconds }).median * 1e3,
            meanAllreduceMilliseconds: Spread(epochs.map(\.meanAllreduceSeconds)).median * 1e3,
            allreduceShare: ownShare)

        return BenchReport(
            machine: .current(), ranks: communicator.size,
            model: .init(architecture: architecture.summary, parameters: trainer.layout.totalCount,
                         samplesPerDatapoint: configuration.samples, flopsPerSample: flopsPerSample),
            globalBatch: configuration.globalBatch, rowsPerRank: rowsPerRank,
            data: .init(source: options.data ?? "synthetic", rows: source.rowCount, features: source.featureCount),
            flushToZero: options.flushToZero, flushToZeroActive: flushToZeroActive,
            gemm: .init(engine: GEMMRuntime.engine.name, reason: GEMMRuntime.reason ?? "default"),
            ceiling: ceiling, ceilings: ceilings, training: training, gradientDifference: gradientDifference,
            allreduce: allreduce,
            gradientExchange: communicator.size > 1 ? trainer.gradientExchange.rawValue : nil,
            dormantUnits: trainer.dormantUnitsNote, reproducibility: trainer.reproducibilityNote,
            perRank: perRank, allocations: allocations)
    }

    /// A fresh engine of each backend and precision this machine runs, for the ceilings.
    private static func ceilingEngines() throws -> [any GEMMEngine] {
        var engines: [any GEMMEngine] = [OpenBLASGEMM(), try OneDNNGEMM(precision: .fp32)]
        if OneDNNGEMM.hasBFloat16Instructions { engines.append(try OneDNNGEMM(precision: .bf16)) }
        return engines
    }

    /// The rows to train on, and their image [C, H, W] when the data file records one.
    private static func makeSource(_ options: BenchOptions, communicator: any Communicator) throws
        -> (any MinibatchSource, [Int]?) {
        guard var path = options.data else {
            let features = options.configuration.architecture.dataDimension
            try NodeMemory.require(MemoryEstimate.product(options.syntheticRows, features),
                                   for: "--rows \(options.syntheticRows) synthetic rows of \(features) bytes")
            return (SyntheticMinibatchSource(rows: options.syntheticRows,
                                             features: options.configuration.architecture.dataDimension,
                                             seed: options.configuration.seed), nil)
        }
        if path == "fashion-mnist" {
            path = DefaultData.paths(dataDirectory: DefaultData.dataDirectory()).train
        }
        let file = try DataFile.open(path)
        return (try InMemoryMinibatchSource(dataFile: file, bernoulli: options.configuration.likelihood == .bernoulli),
                file.imageShape.map { [$0.channels, $0.height, $0.width] })
    }

    /// Prepares the default data on rank 0 when missing (the other ranks wait for it).
    private static func prepareDefaultData(communicator: any Communicator) throws {
        try communicator.rootOnly { _ = try DefaultData.ensureFashionMNIST(log: Console.printError) }
    }
}

/// A bench option that cannot work with this data or job; every rank finds the same.
public struct BenchSetupError: CollectiveError, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
