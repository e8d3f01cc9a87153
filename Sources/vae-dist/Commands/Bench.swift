import ArgumentParser
import Foundation
import VAEBench
import VAECore
import VAEParallel

/// `vae-dist bench`.
///
/// How fast the training step runs here, against the machine's own SGEMM ceiling; run it
/// as one process or under mpirun like `train`.
struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Measure the SGEMM ceiling, training-step throughput, allreduce share, memory and allocations.",
        discussion: """
            Runs the Trainer's own step loop on data in memory (synthetic by default) for --epochs \
            repetitions and reports samples/s (median, min, max), GFLOP/s against the SGEMM rate of \
            the model's own GEMM shapes, the per-step split into compute and allreduce (under mpirun), \
            peak RSS per rank and, when scripts/malloc-count/malloc_count.so is preloaded, the \
            allocations in steady-state steps. scripts/bench.sh runs the whole comparison.
            """)

    @OptionGroup(title: "Model (as in train; default the 784-400-20 MLP)")
    var model: ModelOptions
    @Option(help: "GLOBAL batch: rows per optimizer step over all ranks.")
    var batch: Int = 128
    @Option(help: "Timed repetitions, one epoch each.")
    var epochs: Int = 10
    @Option(help: "Training data: an HDF5 file, 'fashion-mnist' (the default data, prepared on first use), or none for synthetic data.")
    var data: String?
    @Option(help: "Rows of synthetic data (without --data).")
    var rows: Int = 60_000
    @Option(help: "BLAS threads per rank (default: the start-up choice, see the banner).")
    var threads: Int?
    @Flag(inversion: .prefixedNo, help: "Flush subnormal floats to zero (--no-ftz shows the denormal slowdown).")
    var ftz = true
    @Option(help: "Seconds of each of 5 timed rounds per GEMM shape; 0 skips the SGEMM ceiling.")
    var ceilingSeconds: Double = 0.2
    @Option(help: "Bare allreduces timed after training (with more than one rank).")
    var allreduceRepetitions: Int = 20
    @Option(help: "Print backtraces of this many allocations in the last epoch's steady-state steps (needs the malloc_count shim).")
    var traceAllocations: Int = 0
    @Flag(help: "A smoke run in seconds: 2 epochs of 2048 synthetic rows, short ceiling rounds.")
    var quick = false
    @Flag(help: "Print the report as one JSON object instead of the table.")
    var json = false
    @Option(help: "Seed of the parameters, the data order and the synthetic data.")
    var seed: UInt64 = 0
    @Option(help: "How ranks combine gradients: auto, shared-memory or allreduce (as in train).")
    var gradientExchange: GradientExchangeChoice = .auto
    @Option(help: "First-layer units provably off on every training row: skip (leave them out of the forward, the same results) or compute (as in train).")
    var dormantUnits: DormantUnitsChoice = .skip
    @Flag(inversion: .prefixedNo, help: "The reproducible step (as in train; default: on when the BLAS kernel passes the start-up check); --no-reproducible times the fast step.")
    var reproducible: Bool?

    @OptionGroup(title: "GEMM")
    var gemmOptions: GEMMOptions

    func validate() throws {
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard epochs >= 1 else { throw ValidationError("--epochs must be at least 1, got \(epochs)") }
        guard rows >= 1 else { throw ValidationError("--rows must be at least 1, got \(rows)") }
        if let threads, threads < 1 { throw ValidationError("--threads must be at least 1, got \(threads)") }
        guard ceilingSeconds >= 0 else { throw ValidationError("--ceiling-seconds must be >= 0, got \(ceilingSeconds)") }
        guard (1...1_000_000).contains(allreduceRepetitions) else {
            throw ValidationError("--allreduce-repetitions must be 1...1000000, got \(allreduceRepetitions)")
        }
        guard traceAllocations >= 0 else { throw ValidationError("--trace-allocations must be >= 0, got \(traceAllocations)") }
    }

    func run() throws {
        if let threads {
            BLASLibrary.setThreadCount(threads)
            BLASThreadChoice.applied = .init(threads: threads, reason: "--threads \(threads)")
        }
        var options = BenchOptions()
        model.apply(to: &options.configuration)
        options.configuration.globalBatch = batch
        options.configuration.seed = seed
        options.data = data
        options.syntheticRows = quick && data == nil ? min(rows, 2048) : rows
        options.epochs = quick ? min(epochs, 2) : epochs
        options.flushToZero = ftz
        options.ceilingSecondsPerRound = quick ? min(ceilingSeconds, 0.01) : ceilingSeconds
        options.allreduceRepetitions = quick ? min(allreduceRepetitions, 5) : allreduceRepetitions
        options.traceAllocations = traceAllocations
        options.gradientExchange = gradientExchange
        options.dormantUnits = dormantUnits
        options.gemm = gemmOptions.gemm
        gemmOptions.apply(to: &options.configuration)
        options.reproducible = reproducible.map { $0 ? .on : .off } ?? .auto
        try withCommunicator { communicator in
            guard let report = try BenchRun.run(options, communicator: communicator) else { return }
            Console.print(json ? try report.json() : report.table)
        }
    }
}
