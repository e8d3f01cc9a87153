import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// The fast step (`--no-reproducible`): N ranks train the one-rank model bitwise for n = 1,
/// and to float32 summation order for n = 2, 3, 4 with uneven shards (37 rows, global batch 8:
/// steps of 8,8,8,8,5 rows split 4+4, 3+3+2 / 2+3+3, 2+2+2+2 / 1+1+1+2 ...).
final class DistributedTrainingTests: XCTestCase {
    func testOneRankUnderMpirunIsBitwiseEqualToInProcessRun() throws {
        let scratch = try makeScratchDirectory(self)
        let data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 1), rows: 37)
        let configuration = smallConfiguration()
        _ = try trainInProcess(configuration, data: data, out: scratch + "/in-process")
        _ = try trainUnderMPI(ranks: 1, configuration, data: data, out: scratch + "/mpirun")
        let serial = try finalParameters(scratch + "/in-process")
        let launched = try finalParameters(scratch + "/mpirun")
        XCTAssertEqual(serial.step, 10)
        XCTAssertEqual(launched.parameters.map(\.bitPattern), serial.parameters.map(\.bitPattern))
    }

    func testTwoThreeAndFourRanksMatchOneRank() throws {
        let scratch = try makeScratchDirectory(self)
        let data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 2), rows: 37)
        let configuration = smallConfiguration(epochs: 4)
        let serialMetrics = try trainInProcess(configuration, data: data, out: scratch + "/one")
        let serial = try finalParameters(scratch + "/one")
        for ranks in [2, 3, 4] {
          for exchange in GradientExchangeChoice.allCases where exchange != .auto {
            let out = scratch + "/ranks-\(ranks)-\(exchange.rawValue)"
            _ = try trainUnderMPI(ranks: ranks, configuration, data: data, out: out,
                                  extraArguments: ["--no-reproducible", "--gradient-exchange", exchange.rawValue])
            let parallel = try finalParameters(out)
            XCTAssertEqual(parallel.worldSize, ranks)
            XCTAssertEqual(parallel.step, serial.step)
            // The ranks sum the same per-row gradients in another order: float32
            // roundoff of ~1e-7 relative per step. Adam turns a gradient's relative
            // error into the same relative error of a step of at most lr = 0.01, so
            // 20 steps move a parameter by at most 20 * 0.01 * (a few 1e-7): 1e-5 is
            // a 10x margin, while any real difference in the math moves them by ~lr.
            XCTAssertEqual(parallel.parameters.count, serial.parameters.count)
            let worst = zip(parallel.parameters, serial.parameters).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, 1e-5, "n = \(ranks), \(exchange): parameters differ by up to \(worst)")
            let metrics = try readMetrics(out)
            XCTAssertEqual(metrics.count, serialMetrics.count)
            for (epoch, (a, b)) in zip(metrics, serialMetrics).enumerated() {
                XCTAssertEqual(a.trainNegativeELBO, b.trainNegativeELBO, accuracy: 1e-4 * abs(b.trainNegativeELBO),
                               "n = \(ranks), \(exchange), epoch \(epoch + 1): train -ELBO")
            }
          }
        }
    }

    /// The shared-memory exchange sums a + b for two ranks, as MPI does, and each rank applies
    /// the optimizer to its range with the same per-element arithmetic: bitwise the allreduce
    /// result for every optimizer. Clipping adds the ranges' sums of squares in another order
    /// (one rounding of a double), and three ranks may sum in another order: tolerance there.
    func testSharedMemoryExchangeGivesTheAllreduceResult() throws {
        let scratch = try makeScratchDirectory(self)
        let data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 7), rows: 37)
        let configuration = smallConfiguration()
        let cases: [(ranks: Int, options: [String])] = [
            (2, ["--optimizer", "adam"]), (2, ["--optimizer", "sgd"]), (2, ["--optimizer", "adagrad", "--weight-decay", "0.01"]),
            (2, ["--optimizer", "adam", "--clip", "0.5"]), (3, ["--optimizer", "adam", "--clip", "0.5"]),
        ]
        for (index, (ranks, options)) in cases.enumerated() {
            var parameters: [GradientExchangeChoice: [Float]] = [:]
            for exchange in [GradientExchangeChoice.sharedMemory, .allreduce] {
                let out = scratch + "/case-\(index)-\(exchange.rawValue)"
                let result = try trainUnderMPI(ranks: ranks, configuration, data: data, out: out,
                                               extraArguments: options + ["--no-reproducible", "--gradient-exchange", exchange.rawValue])
                XCTAssertTrue(result.standardOutput.contains(exchange == .sharedMemory ? "exchange shared memory" : "MPI allreduce"),
                              "the banner names the exchange:\n\(result.standardOutput)")
                parameters[exchange] = try finalParameters(out).parameters
            }
            let (shared, reduced) = (parameters[.sharedMemory]!, parameters[.allreduce]!)
            XCTAssertEqual(shared.count, reduced.count)
            if ranks == 2 && !options.contains("--clip") {
                XCTAssertEqual(shared.map(\.bitPattern), reduced.map(\.bitPattern), "n = 2 \(options)")
            } else {
                let worst = zip(shared, reduced).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThanOrEqual(worst, 1e-5, "n = \(ranks) \(options): exchanges differ by \(worst)")
            }
        }
    }

    /// The multi-node shape of the shared-memory exchange, on one machine: with
    /// VAE_DIST_RANKS_PER_NODE ranks are grouped as if on separate nodes, so each node sums
    /// its slots in its own window and each range is allreduced across the "nodes".
    /// 2 nodes x 2 ranks and 2 nodes x 1 rank match one rank and the allreduce exchange;
    /// nodes of unequal size (3 ranks in nodes of 2) fall back to the allreduce under auto
    /// and are refused, naming the reason, when shared memory is asked for.
    func testSharedMemoryExchangeAcrossNodesMatchesOneRank() throws {
        let scratch = try makeScratchDirectory(self)
        let data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 8), rows: 37)
        let configuration = smallConfiguration(epochs: 3)
        _ = try trainInProcess(configuration, data: data, out: scratch + "/one")
        let serial = try finalParameters(scratch + "/one").parameters
        for (ranks, perNode) in [(4, 2), (2, 1)] {
            let out = scratch + "/nodes-\(ranks)-\(perNode)"
            let result = try trainUnderMPI(ranks: ranks, configuration, data: data, out: out,
                                           extraArguments: ["--no-reproducible", "--gradient-exchange", "shared-memory", "--clip", "5"],
                                           environment: ["VAE_DIST_RANKS_PER_NODE": String(perNode)])
            XCTAssertTrue(result.standardOutput.contains("\(ranks / perNode) nodes x \(perNode) rank"), result.standardOutput)
            let parameters = try finalParameters(out).parameters
            XCTAssertEqual(parameters.count, serial.count)
            let worst = zip(parameters, serial).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(ranks) ranks, \(perNode) per node: differs from one rank by \(worst)")
        }

        let uneven = try trainUnderMPI(ranks: 3, configuration, data: data, out: scratch + "/uneven-auto",
                                       extraArguments: ["--no-reproducible"], environment: ["VAE_DIST_RANKS_PER_NODE": "2"])
        XCTAssertTrue(uneven.standardOutput.contains("MPI allreduce"), uneven.standardOutput)
        let refused = try runProcess(
            try mpirunExecutable(),
            ["-n", "3", "--oversubscribe", "--bind-to", "none", try vaeDistBinary().path]
                + trainArguments(configuration, data: data, out: scratch + "/uneven-shared")
                + ["--gradient-exchange", "shared-memory"],
            environment: childEnvironment(["VAE_DIST_RANKS_PER_NODE": "2"]), timeout: 60)
        XCTAssertEqual(refused.status, 1, refused.standardError)
        XCTAssertTrue(refused.standardError.contains("same number of ranks on every node"), refused.standardError)
    }

    /// The ranges each rank of the shared-memory exchange owns cover the parameters once,
    /// on 64-byte boundaries, for any rank count (more ranks than cache lines included).
    func testSharedMemoryRangesPartitionTheParameters() {
        for count in [0, 1, 15, 16, 17, 100, 652_824] {
            for size in [1, 2, 3, 4, 7, 8, 64] {
                var next = 0
                for rank in 0..<size {
                    let range = SharedMemoryExchange.ownedRange(rank: rank, size: size, count: count)
                    XCTAssertEqual(range.lowerBound, next, "count \(count), size \(size), rank \(rank)")
                    XCTAssertTrue(range.lowerBound % 16 == 0 || range.isEmpty)
                    next = range.upperBound
                }
                XCTAssertEqual(next, count, "count \(count), size \(size)")
            }
        }
    }

    /// The overlapped reduction (decoder bucket non-blocking during the encoder's backward)
    /// sums the same numbers: with two ranks a + b has one order, so the runs are bitwise equal;
    /// with three, MPI may order the sums differently: summation-order tolerance.
    func testOverlappedAllreduceGivesTheBlockingResult() throws {
        let scratch = try makeScratchDirectory(self)
        let data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 6), rows: 37)
        let configuration = smallConfiguration()
        for ranks in [2, 3] {
            // The fast step's two allreduces (the reproducible step has none to overlap).
            _ = try trainUnderMPI(ranks: ranks, configuration, data: data, out: scratch + "/blocking-\(ranks)",
                                  extraArguments: ["--no-reproducible", "--gradient-exchange", "allreduce"])
            _ = try trainUnderMPI(ranks: ranks, configuration, data: data, out: scratch + "/overlap-\(ranks)",
                                  extraArguments: ["--no-reproducible", "--overlap-allreduce"])
            let blocking = try finalParameters(scratch + "/blocking-\(ranks)").parameters
            let overlapped = try finalParameters(scratch + "/overlap-\(ranks)").parameters
            if ranks == 2 {
                XCTAssertEqual(overlapped.map(\.bitPattern), blocking.map(\.bitPattern))
            } else {
                let worst = zip(overlapped, blocking).map { abs($0 - $1) }.max() ?? .infinity
                XCTAssertLessThanOrEqual(worst, 1e-5, "n = 3: overlap differs by \(worst)")
            }
        }
    }

    /// The independent NumPy reference trained the same 10 steps (scripts/reference,
    /// fixture train_small): Swift on one rank and on three ranks lands on its parameters.
    func testOneAndThreeRanksMatchTheNumPyReferenceTraining() throws {
        let fixture = try TrainingFixture.load("train_small")
        let scratch = try makeScratchDirectory(self)
        let data = scratch + "/train_small.h5"
        try writeDataFile(data, features: fixture.data, rows: fixture.rows)
        let configuration = smallConfiguration()
        XCTAssertEqual(configuration.architecture.parameterLayout.totalCount, fixture.finalParameters.count)

        let metrics = try trainInProcess(configuration, data: data, out: scratch + "/one")
        // Three ranks on the kernel vae-dist picks: the reproducible step where it has one.
        _ = try trainUnderMPI(ranks: 3, configuration, data: data, out: scratch + "/three",
                              environment: ["VAE_DIST_BLAS_CORETYPE": "auto"])
        for run in ["one", "three"] {
            let parameters = try finalParameters(scratch + "/" + run).parameters
            // The reference runs in float64, VAECore in float32: each of the 10 Adam
            // steps (lr 0.01) carries the gradient's ~1e-6 relative error: 1e-5 absolute
            // is a 10x margin over 10 steps; a wrong schedule or warm-up moves them by ~lr.
            let worst = zip(parameters, fixture.finalParameters).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, 1e-5, "\(run) rank(s): parameters differ from the reference by up to \(worst)")
        }
        // The epoch's reported reconstruction is the row-weighted mean of the reference's step values.
        let stepRows: [Double] = [8, 8, 8, 8, 5]
        for epoch in 0..<2 {
            let steps = fixture.stepRecon[epoch * 5..<epoch * 5 + 5].map(Double.init)
            var weighted = 0.0
            for (value, rows) in zip(steps, stepRows) { weighted += value * rows }
            let expected = weighted / 37
            XCTAssertEqual(metrics[epoch].trainReconstruction, expected, accuracy: 1e-4 * expected,
                           "epoch \(epoch + 1): reconstruction term")
        }
    }
}

/// The train_small fixture of scripts/reference/make_fixtures.py.
struct TrainingFixture {
    let rows: Int
    let data: [Float]
    let finalParameters: [Float]
    let stepRecon: [Float]

    static func load(_ name: String) throws -> TrainingFixture {
        let folder = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures").appendingPathComponent(name)
        let manifest = try XCTUnwrap(JSONSerialization.jsonObject(
            with: Data(contentsOf: folder.appendingPathComponent("manifest.json"))) as? [String: Any])
        let raw = try Data(contentsOf: folder.appendingPathComponent("data.bin"))
        let values: [Float] = raw.withUnsafeBytes { bytes in
            (0..<raw.count / 4).map { Float(bitPattern: UInt32(littleEndian: bytes.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        }
        let tensors = try XCTUnwrap(manifest["tensors"] as? [String: [String: Any]])
        func tensor(_ name: String) throws -> [Float] {
            let entry = try XCTUnwrap(tensors[name], "fixture lacks \(name)")
            let offset = entry["offset"] as! Int, count = entry["count"] as! Int
            return Array(values[offset..<offset + count])
        }
        let layout = smallConfiguration().architecture.parameterLayout
        var flat = [Float](repeating: 0, count: layout.totalCount)
        for spec in layout.tensors {
            flat.replaceSubrange(spec.offset..<spec.offset + spec.count, with: try tensor("final/\(spec.name)"))
        }
        let config = try XCTUnwrap(manifest["config"] as? [String: Any])
        return TrainingFixture(rows: config["rows"] as! Int, data: try tensor("data"), finalParameters: flat,
                               stepRecon: try tensor("step_recon"))
    }
}

final class LearningRateScalingTrainingTests: XCTestCase {
    /// With global batch 8, `--lr 0.16 --lr-scaling linear` trains with 0.16 x 8/128 = 0.01:
    /// exactly the run with `--lr 0.01` (a power-of-two scale is exact in float32).
    func testLinearScalingTrainsWithTheScaledRate() throws {
        let scratch = try makeScratchDirectory(self)
        let data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 9), rows: 37)
        var scaled = smallConfiguration()
        scaled.learningRate = 0.16
        scaled.learningRateScaling = .linear
        _ = try trainInProcess(scaled, data: data, out: scratch + "/scaled")
        _ = try trainInProcess(smallConfiguration(), data: data, out: scratch + "/plain")
        XCTAssertEqual(try finalParameters(scratch + "/scaled").parameters.map(\.bitPattern),
                       try finalParameters(scratch + "/plain").parameters.map(\.bitPattern))
        // The warm-up changes the trajectory (a test that the schedule is applied at all).
        var warming = scaled
        warming.learningRateWarmupEpochs = 1
        _ = try trainInProcess(warming, data: data, out: scratch + "/warming")
        XCTAssertNotEqual(try finalParameters(scratch + "/warming").parameters,
                          try finalParameters(scratch + "/plain").parameters)
    }
}

/// Too little /dev/shm must become a message and the allreduce, not a bus error.
final class SharedMemorySpaceTests: XCTestCase {
    func testShortageNamesTheDirectoryAndBothSizes() throws {
        XCTAssertNil(SharedMemorySpace.shortage(needed: 100_000_000, available: 200_000_000, directory: "/dev/shm"))
        let message = try XCTUnwrap(SharedMemorySpace.shortage(needed: 91_200_000, available: 64_000_000, directory: "/dev/shm"))
        XCTAssertTrue(message.contains("/dev/shm has 64.0 MB free"), message)
        XCTAssertTrue(message.contains("needs 91.2 MB"), message)
        // Within the 5% margin counts as short: the library adds its own headers.
        XCTAssertNotNil(SharedMemorySpace.shortage(needed: 100, available: 102, directory: "/dev/shm"))
    }

    /// A 4 MB /dev/shm (in a private mount namespace) cannot hold two ranks' window: auto
    /// trains over the allreduce and says why; asking for shared memory is refused.
    func testTooLittleSharedMemoryFallsBackToTheAllreduceOrIsRefused() throws {
        let unshare = URL(fileURLWithPath: "/usr/bin/unshare")
        guard FileManager.default.isExecutableFile(atPath: unshare.path),
              (try? runProcess(unshare, ["-m", "sh", "-c", "mount -t tmpfs -o size=6m tmpfs /dev/shm"],
                               environment: childEnvironment(), timeout: 30).status) == 0
        else { throw XCTSkip("no private mount namespace here (unshare -m and mount need privileges)") }
        let scratch = try makeScratchDirectory(self)
        let data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 9), rows: 37)
        // Two hidden layers of 400: 332,014 parameters, a 6.6 MB window at two ranks (3 parameter-sized
        // buffers and 2 slots), which a 4 MB /dev/shm cannot hold.
        var configuration = smallConfiguration(epochs: 1)
        configuration.architecture = ModelArchitecture(dataDimension: 10, hiddenSizes: [400, 400], latentDimension: 2,
                                                       activation: .relu)
        let mpirun = try mpirunExecutable().path, binary = try vaeDistBinary().path
        func train(_ extra: [String], out: String) throws -> ProcessResult {
            let command = ([mpirun, "-n", "2", "--oversubscribe", "--bind-to", "none", binary]
                + trainArguments(configuration, data: data, out: out) + extra)
                .map { "'" + $0 + "'" }.joined(separator: " ")
            return try runProcess(unshare, ["-m", "sh", "-c", "mount -t tmpfs -o size=4m tmpfs /dev/shm && exec " + command],
                                  environment: childEnvironment(), timeout: 120)
        }
        let fallback = try train([], out: scratch + "/auto")
        XCTAssertEqual(fallback.status, 0, fallback.standardError)
        XCTAssertTrue(fallback.standardOutput.contains("MPI allreduce of the fused gradient buffer (shared memory not used: /dev/shm has"),
                      fallback.standardOutput)
        let refused = try train(["--gradient-exchange", "shared-memory"], out: scratch + "/shared")
        XCTAssertEqual(refused.status, 1, refused.standardError)
        XCTAssertTrue(refused.standardError.contains("--gradient-exchange shared-memory: /dev/shm has"), refused.standardError)
        XCTAssertTrue(refused.standardError.contains("docker run --shm-size"), refused.standardError)
    }

    func testThisMachineReportsItsSharedMemory() throws {
        guard FileManager.default.fileExists(atPath: "/dev/shm") else { throw XCTSkip("no /dev/shm here") }
        let available = try XCTUnwrap(SharedMemorySpace.availableBytes(in: "/dev/shm"))
        XCTAssertGreaterThan(available, 0)
        XCTAssertNil(SharedMemorySpace.availableBytes(in: "/nonexistent/vae-dist"))
    }
}
