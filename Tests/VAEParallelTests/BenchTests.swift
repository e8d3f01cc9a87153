import Foundation
import VAEBench
import VAECore
import XCTest
import VAETestSupport

/// `vae-dist bench` runs and its report is well-formed; the kernel choice works end to
/// end. No timing is asserted anywhere: speed is measured, never tested.
final class BenchTests: XCTestCase {
    private let quickArguments = ["bench", "--quick", "--json", "--rows", "512", "--ceiling-seconds", "0.002"]

    private func runBench(_ arguments: [String], mpiRanks: Int? = nil, environment extra: [String: String] = [:],
                          file: StaticString = #filePath, line: UInt = #line) throws -> [String: Any] {
        let result: ProcessResult
        if let mpiRanks {
            var exports: [String] = []
            for name in extra.keys.sorted() { exports += ["-x", name] }
            result = try runProcess(
                try mpirunExecutable(),
                ["-n", String(mpiRanks), "--oversubscribe", "--bind-to", "none"] + exports + [try vaeDistBinary().path] + arguments,
                environment: childEnvironment(extra), timeout: 120, file: file, line: line)
        } else {
            result = try runProcess(try vaeDistBinary(), arguments, environment: childEnvironment(extra),
                                    timeout: 120, file: file, line: line)
        }
        XCTAssertEqual(result.status, 0, "bench failed:\n\(result.standardError)", file: file, line: line)
        let object = try JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8))
        return try XCTUnwrap(object as? [String: Any], "stdout is not one JSON object:\n\(result.standardOutput)",
                             file: file, line: line)
    }

    private func assertWellFormed(_ report: [String: Any], ranks: Int, file: StaticString = #filePath, line: UInt = #line) throws {
        for key in ["machine", "model", "ceiling", "training", "per_rank", "allocations", "global_batch", "rows_per_rank",
                    "flush_to_zero_active", "data"] {
            XCTAssertNotNil(report[key], "missing key \(key)", file: file, line: line)
        }
        XCTAssertEqual(report["ranks"] as? Int, ranks, file: file, line: line)
        let machine = try XCTUnwrap(report["machine"] as? [String: Any], file: file, line: line)
        XCTAssertFalse((machine["blas_kernel"] as? String ?? "").isEmpty, file: file, line: line)
        XCTAssertEqual(machine["blas_threads"] as? Int, 1, "the children run with OPENBLAS_NUM_THREADS=1", file: file, line: line)
        XCTAssertEqual((machine["load_average"] as? [Double])?.count, 3, file: file, line: line)
        let model = try XCTUnwrap(report["model"] as? [String: Any], file: file, line: line)
        XCTAssertEqual(model["parameters"] as? Int, 652_824, file: file, line: line)
        XCTAssertEqual(model["flops_per_sample"] as? Double, 3_280_000, file: file, line: line)

        let ceiling = try XCTUnwrap(report["ceiling"] as? [String: Any], file: file, line: line)
        let rank0 = try XCTUnwrap(ceiling["rank0"] as? [String: Any], file: file, line: line)
        XCTAssertEqual((rank0["rates"] as? [Any])?.count, 11, "4 forward, 4 dW, 3 dX GEMMs", file: file, line: line)
        XCTAssertGreaterThan(ceiling["gflops"] as? Double ?? 0, 0, file: file, line: line)

        let training = try XCTUnwrap(report["training"] as? [String: Any], file: file, line: line)
        let epochs = try XCTUnwrap(training["epochs"] as? [[String: Any]], file: file, line: line)
        XCTAssertEqual(epochs.count, 2, "--quick runs 2 epochs", file: file, line: line)
        XCTAssertEqual(epochs.first?["steps"] as? Int, 4, "512 rows in steps of 128", file: file, line: line)
        let rate = try XCTUnwrap(training["samples_per_second"] as? [String: Any], file: file, line: line)
        let median = try XCTUnwrap(rate["median"] as? Double, file: file, line: line)
        XCTAssertTrue(median > 0 && median.isFinite, file: file, line: line)
        XCTAssertLessThanOrEqual(rate["min"] as? Double ?? .infinity, median, file: file, line: line)
        let share = try XCTUnwrap(training["allreduce_share"] as? Double, file: file, line: line)
        XCTAssertTrue((0...1).contains(share), "allreduce share \(share)", file: file, line: line)

        let perRank = try XCTUnwrap(report["per_rank"] as? [[String: Any]], file: file, line: line)
        XCTAssertEqual(perRank.map { $0["rank"] as? Int }, (0..<ranks).map { $0 }, file: file, line: line)
        for rank in perRank {
            XCTAssertGreaterThan(rank["peak_resident_bytes"] as? Int ?? 0, 1 << 20, file: file, line: line)
            XCTAssertGreaterThan(rank["cpu_per_wall_second"] as? Double ?? 0, 0, file: file, line: line)
        }
    }

    func testQuickBenchAsOneProcessPrintsWellFormedJSON() throws {
        let report = try runBench(quickArguments)
        try assertWellFormed(report, ranks: 1)
        XCTAssertNil(report["allreduce"], "one rank has no allreduce to time")
        let allocations = try XCTUnwrap(report["allocations"] as? [String: Any])
        XCTAssertTrue((allocations["status"] as? String ?? "").hasPrefix("not measured"), "no shim was preloaded")
    }

    func testQuickBenchUnderMPIReportsEveryRankAndTheAllreduce() throws {
        let report = try runBench(quickArguments, mpiRanks: 2)
        try assertWellFormed(report, ranks: 2)
        XCTAssertEqual(report["rows_per_rank"] as? Int, 64)
        XCTAssertEqual(report["gradient_exchange"] as? String, "shared-memory", "auto on one node")
        let allreduce = try XCTUnwrap(report["allreduce"] as? [String: Any])
        XCTAssertEqual(allreduce["floats"] as? Int, 652_828, "gradients, 3 loss sums, the status slot")
        XCTAssertNotNil(allreduce["bare_milliseconds"])
    }

    func testMallocShimCountsTheEpochStartAllocations() throws {
        let shim = try buildMallocShim()
        let report = try runBench(quickArguments, environment: ["LD_PRELOAD": shim])
        let allocations = try XCTUnwrap(report["allocations"] as? [String: Any])
        XCTAssertEqual(allocations["status"] as? String, "counted")
        XCTAssertNotNil(allocations["count"] as? Int)
        // Each epoch builds its schedule and plan arrays before its first step: a counter
        // that saw none of them would not be counting.
        let epochs = try XCTUnwrap((report["training"] as? [String: Any])?["epochs"] as? [[String: Any]])
        for epoch in epochs {
            XCTAssertGreaterThan(epoch["epoch_start_allocations"] as? Int ?? 0, 0)
        }
    }

    // MARK: The BLAS kernel, end to end

    private func bestCoreTypeHere() throws -> String {
        let flags = cpuFlags(fromCPUInfo: (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? "")
        guard let best = BLASKernelChoice.bestCoreType(cpuFlags: flags) else {
            throw XCTSkip("this CPU has no AVX kernel to prefer over Prescott")
        }
        return best
    }

    private func kernel(_ environment: [String: String]) throws -> (name: String, choice: String) {
        let report = try runBench(quickArguments + ["--ceiling-seconds", "0", "--epochs", "1"], environment: environment)
        let machine = try XCTUnwrap(report["machine"] as? [String: Any])
        return (machine["blas_kernel"] as? String ?? "", machine["blas_kernel_choice"] as? String ?? "")
    }

    func testAutoRestartsAWeakKernelWithTheBestOne() throws {
        let best = try bestCoreTypeHere()
        let result = try kernel(["OPENBLAS_CORETYPE": "PRESCOTT", "VAE_DIST_BLAS_CORETYPE": "auto"])
        XCTAssertEqual(result.name.lowercased(), best.lowercased())
        XCTAssertTrue(result.choice.contains("had detected Prescott"), result.choice)
    }

    func testUsersOwnCoreTypeIsKeptEvenWhenWeak() throws {
        _ = try bestCoreTypeHere()
        let result = try kernel(["OPENBLAS_CORETYPE": "PRESCOTT"])
        XCTAssertEqual(result.name, "Prescott")
        XCTAssertTrue(result.choice.contains("set by the user"), result.choice)
    }

    func testProcessBoundToOneCPUGetsOneBLASThread() throws {
        let taskset = try Prerequisites.tool("taskset", package: "util-linux", for: "a process bound to one CPU")
        guard ProcessInfo.processInfo.processorCount > 1 else { throw XCTSkip("one CPU: nothing to restrict") }
        var environment = childEnvironment()
        for name in BLASThreadChoice.userVariables { environment.removeValue(forKey: name) }
        let result = try runProcess(taskset,
                                    ["-c", "0", try vaeDistBinary().path] + quickArguments + ["--ceiling-seconds", "0", "--epochs", "1"],
                                    environment: environment, timeout: 120)
        XCTAssertEqual(result.status, 0, result.standardError)
        let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        let machine = try XCTUnwrap(report["machine"] as? [String: Any])
        XCTAssertEqual(machine["blas_threads"] as? Int, 1, "\(machine["blas_thread_choice"] ?? "")")
        XCTAssertEqual(machine["usable_processors"] as? Int, 1)
    }

    // MARK: Helpers and the script

    private func buildMallocShim() throws -> String {
        let directory = try makeScratchDirectory(self)
        let output = directory + "/malloc_count.so"
        let compiler = try programInPath("cc") ?? programInPath("clang")
            ?? Prerequisites.tool("gcc", package: "gcc", for: "the malloc_count shim")
        let result = try runProcess(compiler,
                                    ["-O2", "-shared", "-fPIC", "-o", output,
                                     repositoryRoot + "/scripts/malloc-count/malloc_count.c"],
                                    environment: childEnvironment())
        XCTAssertEqual(result.status, 0, result.standardError)
        return output
    }

    func testBenchScriptParses() throws {
        let result = try runProcess(URL(fileURLWithPath: "/bin/bash"), ["-n", repositoryRoot + "/scripts/bench.sh"],
                                    environment: childEnvironment())
        XCTAssertEqual(result.status, 0, result.standardError)
    }
}

/// The GEMM list and FLOP count of a step, from the architecture alone.
final class ModelGEMMsTests: XCTestCase {
    func testDefaultModelStepIsBASELINESFlopCount() {
        let architecture = TrainingConfiguration.defaults().architecture
        let shapes = ModelGEMMs.step(architecture, rows: 128)
        // BASELINES.md: 166.7 MFLOP forward, 419.8 MFLOP per step at batch 128.
        let forward = shapes.filter { $0.name.hasSuffix("forward") }.reduce(0) { $0 + $1.flops }
        XCTAssertEqual(forward, 2 * 128 * (784 * 400 + 400 * 40 + 20 * 400 + 400 * 784))
        XCTAssertEqual(shapes.reduce(0) { $0 + $1.flops }, 419_840_000)
        XCTAssertEqual(ModelGEMMs.flopsPerSample(architecture), 3_280_000)
        XCTAssertFalse(shapes.contains { $0.name == "encoder.fc1 dX" }, "the data needs no gradient")
    }

    func testDecoderShapesScaleWithSamplesPerDatapoint() {
        let architecture = TrainingConfiguration.defaults().architecture
        let shapes = ModelGEMMs.step(architecture, rows: 10, samples: 3)
        XCTAssertEqual(shapes.first { $0.name == "decoder.out forward" }?.m, 30)
        XCTAssertEqual(shapes.first { $0.name == "encoder.fc1 forward" }?.m, 10)
    }

    func testSpreadOfAnEvenCountAveragesTheMiddlePair() {
        let spread = Spread([4, 1, 3, 2])
        XCTAssertEqual(spread.median, 2.5)
        XCTAssertEqual(spread.min, 1)
        XCTAssertEqual(spread.max, 4)
        XCTAssertEqual(spread.relativeRange, 1.2)
    }
}
