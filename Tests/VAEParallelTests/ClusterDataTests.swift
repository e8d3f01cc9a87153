import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// Data at cluster scale: the block shuffle, streaming and in-memory reading, a node's
/// one copy, shards, and ranks that must agree on their data (docs/data.md, parallel.md).
final class ClusterDataTests: XCTestCase {
    private var scratch = ""
    private let rows = 200
    private let features = 10

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
    }

    /// Rows [first, first + count) of the test's data set, chunked by 8 rows.
    private func writeRows(_ path: String, first: Int = 0, count: Int? = nil, seed: UInt64 = 21) throws {
        let all = syntheticFeatures(rows: rows, features: features, seed: seed)
        let count = count ?? rows - first
        try writeDataFile(path, features: Array(all[(first * features)..<((first + count) * features)]), rows: count, chunkRows: 8)
    }

    /// Blocks of 8 rows (the files' chunks), windows of 3 blocks: several windows in 200 rows.
    private func blockConfiguration(epochs: Int = 3) -> TrainingConfiguration {
        var configuration = smallConfiguration(epochs: epochs)
        configuration.shuffle = .blocks
        configuration.blockShuffle = BlockShuffle(blockRows: 8, windowBlocks: 3)
        configuration.globalBatch = 16
        return configuration
    }

    private func train(_ configuration: TrainingConfiguration, data: String, out: String, reading: ReadingMode = .auto,
                       budget: Int? = nil, stopAfterStep stop: Int? = nil, resume: Bool = false) throws -> TrainingRun {
        var options = TrainingOptions(configuration: configuration, runDirectory: out)
        options.dataPath = data
        options.progress = .off
        options.readingMode = reading
        options.memoryBudget = budget
        options.resume = resume ? "latest" : nil
        if let stop {
            let calls = StepCounter()
            options.stopRequested = { calls.next() == stop }
        }
        let run = TrainingRun(options: options, communicator: SingleProcessCommunicator(), log: { _ in })
        try run.run()
        return run
    }

    private func assertSameParameters(_ a: String, _ b: String, _ what: String, file: StaticString = #filePath, line: UInt = #line) throws {
        let first = try finalParameters(a), second = try finalParameters(b)
        XCTAssertEqual(first.step, second.step, what, file: file, line: line)
        XCTAssertEqual(first.parameters.map(\.bitPattern), second.parameters.map(\.bitPattern), what, file: file, line: line)
    }

    func testStreamingAndInMemoryTrainToIdenticalParameters() throws {
        let data = scratch + "/data.h5"
        try writeRows(data)
        for shuffle in [ShuffleMode.blocks, .rows] {
            var configuration = blockConfiguration()
            configuration.shuffle = shuffle
            _ = try train(configuration, data: data, out: scratch + "/memory-\(shuffle)", reading: .memory)
            // 24 KiB: a few steps of 320-byte blocks, so the slabs are reused within an epoch.
            _ = try train(configuration, data: data, out: scratch + "/streaming-\(shuffle)", reading: .streaming, budget: 24 << 10)
            try assertSameParameters(scratch + "/memory-\(shuffle)", scratch + "/streaming-\(shuffle)", "\(shuffle)")
        }
        // And on two ranks sharing the node's copy, or its read-ahead.
        var configuration = smallConfiguration(epochs: 3)
        configuration.shuffle = .blocks
        for reading in ["memory", "streaming"] {
            let result = try trainUnderMPI(ranks: 2, configuration, data: data, out: scratch + "/two-\(reading)",
                                           extraArguments: ["--reading", reading, "--memory-budget", "64K"])
            let memoryLine = result.standardOutput.split(separator: "\n").first { $0.hasPrefix("  memory") } ?? ""
            XCTAssertTrue(memoryLine.contains(reading == "memory" ? "one copy per node in shared memory: 7.8 KiB per node (2 ranks"
                                                                  : "per node, shared by its 2 ranks"), "\(memoryLine)")
        }
        try assertSameParameters(scratch + "/two-memory", scratch + "/two-streaming", "two ranks")
    }

    func testMidEpochResumeUnderBlocksIsBitwiseTheUninterruptedRun() throws {
        let data = scratch + "/data.h5"
        try writeRows(data)
        for reading in [ReadingMode.memory, .streaming] {
            let configuration = blockConfiguration()
            _ = try train(configuration, data: data, out: scratch + "/straight-\(reading)", reading: reading, budget: 24 << 10)
            // 13 steps per epoch: stop after step 5 of epoch 2.
            let stopped = try train(configuration, data: data, out: scratch + "/stopped-\(reading)", reading: reading,
                                    budget: 24 << 10, stopAfterStep: 18)
            XCTAssertEqual(stopped.stop?.position, CheckpointPosition(epoch: 1, stepInEpoch: 5))
            let resumed = try train(configuration, data: data, out: scratch + "/stopped-\(reading)", reading: reading,
                                    budget: 24 << 10, resume: true)
            XCTAssertNil(resumed.stop)
            try assertSameParameters(scratch + "/straight-\(reading)", scratch + "/stopped-\(reading)", "\(reading)")
            XCTAssertEqual(try readMetrics(scratch + "/stopped-\(reading)").map(\.trainNegativeELBO),
                           try readMetrics(scratch + "/straight-\(reading)").map(\.trainNegativeELBO))
        }
    }

    func testShardsAndTheSameRowsInOneFileTrainToIdenticalBits() throws {
        try writeRows(scratch + "/one.h5")
        try FileManager.default.createDirectory(atPath: scratch + "/shards", withIntermediateDirectories: false)
        for (index, (first, count)) in [(0, 64), (64, 64), (128, 72)].enumerated() {
            try writeRows(scratch + "/shards/train-0000\(index).h5", first: first, count: count)
        }
        let configuration = blockConfiguration()
        _ = try train(configuration, data: scratch + "/one.h5", out: scratch + "/one")
        _ = try train(configuration, data: scratch + "/shards/train-*.h5", out: scratch + "/sharded")
        try assertSameParameters(scratch + "/one", scratch + "/sharded", "in memory")
        _ = try train(configuration, data: scratch + "/shards/train-*.h5", out: scratch + "/sharded-streaming",
                      reading: .streaming, budget: 24 << 10)
        try assertSameParameters(scratch + "/one", scratch + "/sharded-streaming", "streamed")
        // The command line's default block shuffle takes the blocks from the files' chunks: alike for both.
        var cli = smallConfiguration(epochs: 2)
        cli.shuffle = .blocks
        _ = try trainUnderMPI(ranks: 2, cli, data: scratch + "/one.h5", out: scratch + "/cli-one")
        _ = try trainUnderMPI(ranks: 2, cli, data: scratch + "/shards/train-*.h5", out: scratch + "/cli-sharded")
        try assertSameParameters(scratch + "/cli-one", scratch + "/cli-sharded", "mpirun -n 2")
        XCTAssertEqual(try finalParameters(scratch + "/cli-one").configuration.blockShuffle, BlockShuffle(blockRows: 8, windowBlocks: 13108))
    }

    /// mpirun's MPMD form gives rank 1 other data than rank 0: before step 1 every rank ends
    /// with rank 1's line, status 1, and nothing written.
    func testRanksWithDifferentDataEndEveryRankWithOneLineNamingTheRankAndFile() throws {
        try writeRows(scratch + "/a.h5")
        try writeRows(scratch + "/short.h5", count: rows - 1)
        try writeRows(scratch + "/other.h5", seed: 22)
        let before = snapshot(scratch)
        let binary = try vaeDistBinary().path
        for (other, summary) in [("short.h5", "199 rows x 10 float32"), ("other.h5", "200 rows x 10 float32")] {
            let configuration = smallConfiguration()
            let result = try runProcess(
                try mpirunExecutable(),
                ["--oversubscribe", "--bind-to", "none", "-n", "1", binary]
                    + trainArguments(configuration, data: scratch + "/a.h5", out: scratch + "/run")
                    + [":", "-n", "1", binary] + trainArguments(configuration, data: scratch + "/" + other, out: scratch + "/run"),
                environment: childEnvironment(), timeout: 60)
            // Every rank's line is rank 1's (mpirun may end a rank before it prints: 1 or 2 lines).
            assertFailed(result, status: 1, message: ["rank 1: training data \(scratch)/\(other)"], ranks: 2)
            let fingerprint = try DataFile.open(scratch + "/a.h5").computeFingerprint()
            for line in result.errorMessages {
                XCTAssertTrue(line.hasPrefix("vae-dist: error: rank 1: training data \(scratch)/\(other) has \(summary), fingerprint "),
                              String(line))
                XCTAssertTrue(line.contains("but rank 0's \(scratch)/a.h5 has 200 rows x 10 float32, fingerprint \(fingerprint): "
                                            + "every rank must read the same data"), String(line))
            }
            XCTAssertLessThan(result.seconds, 30, "no hang")
            assertFilesUnchanged(before, snapshot(scratch), "nothing written")
        }
    }

    /// Rows HDF5 would read as zeros: a virtual dataset whose source is gone, a file with
    /// unwritten chunks. `check`, `train` and `mpirun -n 2 train` refuse them, status 1, one
    /// line, files unchanged.
    func testStorageThatWouldReadAsZerosIsRefusedByCheckAndTrain() throws {
        for (first, count) in [(0, 100), (100, 100)] { try writeRows(scratch + "/part-\(first).h5", first: first, count: count) }
        let virtual = scratch + "/virtual.h5"
        let file = try HDF5File.create(virtual)
        try file.root().createVirtualDataset("features", of: Float.self, shape: [rows, features], sources: [
            HDF5VirtualSource(file: "part-0.h5", dataset: "/features", rows: 0..<100, row: 0),
            HDF5VirtualSource(file: "part-100.h5", dataset: "/features", rows: 0..<100, row: 100),
        ])
        try file.close()
        XCTAssertEqual(try runProcess(try vaeDistBinary(), ["check", virtual], environment: childEnvironment()).status, 0)
        try FileManager.default.removeItem(atPath: scratch + "/part-100.h5")

        let half = scratch + "/half.h5"
        let halfFile = try HDF5File.create(half)
        let dataset = try halfFile.root().createDataset("features", of: Float.self, shape: [rows, features], chunks: [8, features])
        try syntheticFeatures(rows: 40, features: features, seed: 1).withUnsafeBufferPointer { try dataset.writeRows(startingAt: 0, from: $0) }
        try halfFile.close()

        let cases = [
            (virtual, "\(virtual): /features: virtual mapping 1 (source part-100.h5:/features) is missing: no file part-100.h5 "
                + "where HDF5 looks for it (HDF5_VDS_PREFIX, then \(scratch), then the current directory); HDF5 would read rows 100..<200 as zeros"),
            (half, "\(half): /features: 20 of its 25 chunks were never written (a half-written file?): HDF5 would read their rows "
                + "as zeros; write the file again"),
        ]
        let before = snapshot(scratch)
        for (path, message) in cases {
            let configuration = smallConfiguration()
            for (name, executable, arguments, lines) in [
                ("check", try vaeDistBinary(), ["check", path], 1),
                ("train", try vaeDistBinary(), trainArguments(configuration, data: path, out: scratch + "/run"), 1),
                ("mpirun -n 2 train", try mpirunExecutable(),
                 try mpirunArguments(ranks: 2, trainArguments(configuration, data: path, out: scratch + "/run")), 2),
            ] {
                let result = try runProcess(executable, arguments, environment: childEnvironment(), timeout: 60)
                // train's agreement names the rank; both ranks of the job find the same fault (and
                // mpirun may end one before it prints: 1 or 2 lines).
                let expected = "vae-dist: error: " + (name == "check" ? "" : "rank 0: ") + message
                    + (name.hasPrefix("mpirun") ? " (and 1 other rank failed too)" : "")
                assertFailed(result, status: 1, message: [message], ranks: lines > 1 ? lines : nil, name)
                XCTAssertTrue(result.errorMessages.allSatisfy { $0 == expected }, "\(name): \(result.errorMessages)")
                assertFilesUnchanged(before, snapshot(scratch), "\(name) changed no file")
            }
        }
    }
}
