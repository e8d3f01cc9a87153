import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// The reproducible step: 1, 2, 3, 4 and 8 ranks train one process's bits.
///
/// Every run takes the BLAS kernel vae-dist picks (`VAE_DIST_BLAS_CORETYPE=auto`, over any
/// OPENBLAS_CORETYPE of the machine); where that kernel fails the start-up check (no
/// AVX-512), the tests skip with the banner's reason, and `testAKernelWithoutTheGuarantee...`
/// proves the honest fallback instead. The reference is ONE plain process with two BLAS
/// threads; the ranks run one thread each. 37 rows at global batch 8: steps of 8 rows and a
/// last one of 5, split unevenly (with 8 ranks, three ranks hold no row of the last step).
final class ReproducibilityTests: XCTestCase {
    private var scratch = ""
    private var data = ""
    private static let environment = ["VAE_DIST_BLAS_CORETYPE": "auto"]

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 31), rows: 37)
    }

    private func configuration(epochs: Int = 3) -> TrainingConfiguration {
        var configuration = smallConfiguration(epochs: epochs)
        configuration.architecture.hiddenSizes = [24]
        return configuration
    }

    /// One plain process, two BLAS threads; skips when the kernel gives no guarantee.
    private func trainOneProcess(out: String, _ configuration: TrainingConfiguration,
                                 extraArguments: [String] = []) throws {
        let result = try runProcess(
            try vaeDistBinary(), trainArguments(configuration, data: data, out: out) + extraArguments,
            environment: childEnvironment(Self.environment.merging(["OPENBLAS_NUM_THREADS": "2"]) { $1 }), timeout: 120)
        XCTAssertEqual(result.status, 0, result.standardError)
        guard let line = result.standardOutput.split(separator: "\n").first(where: { $0.contains("  bits ") }) else {
            return XCTFail("no bits line in the banner:\n\(result.standardOutput)")
        }
        if line.contains("off:") { throw XCTSkip("no reproducible step on this machine: \(line)") }
        XCTAssertTrue(line.contains("the same bits for any number of ranks"), String(line))
    }

    /// The checkpoint's model and optimizer datasets, and the metrics' values, bit for bit.
    private func assertSameBits(_ run: String, as reference: String, _ label: String,
                                file: StaticString = #filePath, line: UInt = #line) throws {
        let a = try finalParameters(reference), b = try finalParameters(run)
        XCTAssertEqual(b.step, a.step, label, file: file, line: line)
        XCTAssertEqual(b.parameters.map(\.bitPattern), a.parameters.map(\.bitPattern), "\(label): parameters",
                       file: file, line: line)
        XCTAssertEqual(Set(b.optimizerState.keys), Set(a.optimizerState.keys), label, file: file, line: line)
        for (name, values) in a.optimizerState {
            XCTAssertEqual(b.optimizerState[name]?.map(\.bitPattern), values.map(\.bitPattern), "\(label): \(name)",
                           file: file, line: line)
        }
        let (ma, mb) = (try readMetrics(reference), try readMetrics(run))
        XCTAssertEqual(mb.count, ma.count, label, file: file, line: line)
        for (x, y) in zip(ma, mb) {
            let values = { (m: EpochMetrics) in
                [m.trainNegativeELBO, m.trainReconstruction, m.trainKL, m.klWeight, m.testNegativeELBO ?? 0,
                 m.validationNegativeELBO ?? 0, m.learningRate ?? 0].map(\.bitPattern)
            }
            XCTAssertEqual(values(y), values(x), "\(label): epoch \(x.epoch) metrics", file: file, line: line)
            XCTAssertEqual(y.step, x.step, label, file: file, line: line)
        }
    }

    func testOneToFourRanksOnEitherExchangeGiveOneProcessBits() throws {
        let configuration = configuration()
        try trainOneProcess(out: scratch + "/one", configuration)
        for ranks in [1, 2, 3, 4] {
            for exchange in [GradientExchangeChoice.sharedMemory, .allreduce] where ranks > 1 || exchange == .allreduce {
                let out = scratch + "/\(ranks)-\(exchange.rawValue)"
                let result = try trainUnderMPI(ranks: ranks, configuration, data: data, out: out,
                                               extraArguments: ["--gradient-exchange", exchange.rawValue],
                                               environment: Self.environment)
                XCTAssertTrue(ranks == 1 || result.standardOutput.contains(exchange == .sharedMemory ? "rows shared in memory"
                                                                                             : "rows allgathered"),
                              result.standardOutput)
                try assertSameBits(out, as: scratch + "/one", "n = \(ranks), \(exchange.rawValue)")
            }
        }
    }

    /// Eight ranks on a two-core machine: ranks with no row of the last step still take part.
    func testEightRanksOversubscribedGiveOneProcessBits() throws {
        let configuration = configuration(epochs: 2)
        try trainOneProcess(out: scratch + "/one", configuration)
        _ = try trainUnderMPI(ranks: 8, configuration, data: data, out: scratch + "/eight", environment: Self.environment)
        try assertSameBits(scratch + "/eight", as: scratch + "/one", "n = 8")
    }

    /// Streaming reads, clipping (its norm added in a fixed order) and --on-nonfinite skip
    /// (which needs the norm before the update), validation rows and a cosine schedule;
    /// two nodes of two ranks (the rows allgathered across nodes).
    func testStreamingClippingAndNodesGiveOneProcessBits() throws {
        let configuration = configuration(epochs: 2)
        let options = ["--reading", "streaming", "--clip", "0.5", "--on-nonfinite", "skip",
                       "--validation-fraction", "0.2", "--lr-schedule", "cosine"]
        try trainOneProcess(out: scratch + "/one", configuration, extraArguments: options)
        _ = try trainUnderMPI(ranks: 3, configuration, data: data, out: scratch + "/three", extraArguments: options,
                              environment: Self.environment)
        try assertSameBits(scratch + "/three", as: scratch + "/one", "n = 3, streaming, clip, skip")
        _ = try trainUnderMPI(ranks: 4, configuration, data: data, out: scratch + "/nodes", extraArguments: options,
                              environment: Self.environment.merging(["VAE_DIST_RANKS_PER_NODE": "2"]) { $1 })
        try assertSameBits(scratch + "/nodes", as: scratch + "/one", "2 nodes x 2 ranks")
    }

    /// A run stopped mid-epoch at 3 ranks and resumed at 2 ends with the bits of one process
    /// that never stopped; the resume line has no word about summation order.
    func testAStopAtThreeRanksResumedAtTwoGivesAnUninterruptedRunsBits() throws {
        var configuration = configuration(epochs: 60)
        configuration.architecture.hiddenSizes = [48]
        try trainOneProcess(out: scratch + "/straight", configuration)
        let out = scratch + "/stopped"
        let job = try ChildProcess(try mpirunExecutable(),
                                        try mpirunArguments(ranks: 3, trainArguments(configuration, data: data, out: out)),
                                        environment: childEnvironment(Self.environment))
        XCTAssertTrue(job.waitFor(timeout: 60) { metricsLineCount(out) >= 1 }, "no epoch finished:\n\(job.standardError)")
        job.signal(SIGUSR1)
        let stopped = job.finish(timeout: 60)
        XCTAssertEqual(stopped.status, StopRequest.exitCode, stopped.standardError)
        let resumed = try runProcess(
            try mpirunExecutable(),
            try mpirunArguments(ranks: 2, ["train", "--data", data, "--out", out, "--no-progress", "--resume", "latest"]),
            environment: childEnvironment(Self.environment), timeout: 120)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardOutput.contains("saved by 3 ranks, now 2\n"), resumed.standardOutput)
        XCTAssertFalse(resumed.standardOutput.contains("summation order"), resumed.standardOutput)
        try assertSameBits(out, as: scratch + "/straight", "stopped at 3 ranks, resumed at 2")
    }

    /// A kernel that fails the start-up check (OpenBLAS's Haswell kernel splits rows
    /// differently) trains the fast step and says so; `--reproducible` refuses it, with
    /// status 1, one line, and no run directory.
    func testAKernelWithoutTheGuaranteeIsNamedAndRefusedWhenRequired() throws {
        let haswell = ["VAE_DIST_BLAS_CORETYPE": "haswell"]
        let fallback = try trainUnderMPI(ranks: 2, configuration(epochs: 1), data: data, out: scratch + "/fallback",
                                         environment: haswell)
        XCTAssertTrue(fallback.standardOutput.contains("  bits     off: BLAS kernel Haswell: "), fallback.standardOutput)
        XCTAssertTrue(fallback.standardOutput.contains("the last bits depend on the number of ranks"),
                      fallback.standardOutput)
        let refused = try runProcess(
            try vaeDistBinary(),
            trainArguments(configuration(epochs: 1), data: data, out: scratch + "/refused") + ["--reproducible"],
            environment: childEnvironment(haswell))
        XCTAssertEqual(refused.status, 1, refused.standardError)
        let lines = refused.standardError.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, refused.standardError)
        XCTAssertTrue(lines.first?.hasPrefix("vae-dist: error: --reproducible: BLAS kernel Haswell: ") == true,
                      refused.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch + "/refused"))
    }

    /// `--overlap-allreduce` belongs to the fast step: asked for alone it is refused, saying so.
    func testOverlapAllreduceAsksForTheFastStep() throws {
        let result = try runProcess(
            try vaeDistBinary(),
            trainArguments(configuration(epochs: 1), data: data, out: scratch + "/overlap") + ["--overlap-allreduce"],
            environment: childEnvironment(Self.environment))
        XCTAssertEqual(result.status, 64, result.standardError)
        XCTAssertEqual(result.standardError,
                       "vae-dist: error: --overlap-allreduce overlaps the gradient allreduce of the fast step; the "
                       + "reproducible step (the default) shares rows and has none: add --no-reproducible\n")
    }
}
