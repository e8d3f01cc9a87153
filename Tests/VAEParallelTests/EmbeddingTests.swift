import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// `vae-dist embed`: the file's layout and provenance, its numbers against the
/// encoder, and the same file for any number of ranks and any block size.
final class EmbeddingTests: XCTestCase {
    func embed(_ run: TrainedRun, out: String, data: String? = nil, microBatch: Int = 5, blockRows: Int = 65_536,
               warn: @escaping (String) -> Void = { _ in }) throws -> EmbeddingSummary {
        var options = EmbeddingOptions(checkpoint: run.runDirectory)
        options.dataPath = data ?? run.dataPath
        options.outputPath = out
        options.microBatch = microBatch
        options.blockRows = blockRows
        return try EmbeddingExport(options: options, communicator: SingleProcessCommunicator(),
                                   log: { _ in }, warn: warn).run()
    }

    func bits(_ values: [Float]) -> [UInt32] { values.map(\.bitPattern) }

    func testEmbeddingFileHasTheLayoutAndProvenanceAttributes() throws {
        let run = try TrainedRun.make(self)
        let out = run.path("embeddings.h5")
        _ = try embed(run, out: out)
        let root = try HDF5File.open(out).root()
        XCTAssertEqual(try root.stringAttribute("format"), "vae-dist-embeddings")
        XCTAssertEqual(try root.intAttribute("format_version"), 1)
        XCTAssertEqual(try root.intAttribute("checkpoint_step"), run.checkpoint.step)
        XCTAssertEqual(try root.intAttribute("checkpoint_epoch"), 2)
        XCTAssertEqual(try root.stringAttribute("checkpoint"), try CheckpointLocation.resolve(run.runDirectory).path)
        XCTAssertEqual(try root.jsonAttribute("config", as: TrainingConfiguration.self), run.checkpoint.configuration)
        XCTAssertEqual(try root.stringAttribute("data"), run.dataPath)
        let fingerprint = try DataFile.open(run.dataPath).fingerprint()
        XCTAssertEqual(try root.stringAttribute("data_fingerprint"), fingerprint)
        XCTAssertEqual(try root.stringAttribute("training_data_fingerprint"), fingerprint)
        for (name, shape, type) in [("mu", [37, 2], HDF5ElementType.float32), ("logvar", [37, 2], .float32),
                                    ("index", [37], .int64), ("labels", [37], .int64)] {
            let dataset = try root.openDataset(name)
            XCTAssertEqual(try dataset.shape(), shape, name)
            XCTAssertEqual(try dataset.elementType(), type, name)
            XCTAssertNotNil(try dataset.chunkShape(), "\(name) must be chunked")
            let filters = try dataset.filters()
            XCTAssertTrue(filters.contains("gzip(4)"), "\(name) must be compressed: \(filters)")
        }
        XCTAssertEqual(try readDataset(out, "index", as: Int64.self), (0..<37).map(Int64.init))
        // No temporary file is left beside the output.
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: run.directory).filter { $0.hasPrefix(".") }, [])
    }

    func testMuAndLogvarAreTheEncoderOutputsOfTheSameRows() throws {
        let run = try TrainedRun.make(self)
        let out = run.path("embeddings.h5")
        _ = try embed(run, out: out, microBatch: 5)
        // The encoder on the same micro-batches of 5 rows (the last one short).
        let configuration = run.checkpoint.configuration
        let objective = ELBOObjective(architecture: configuration.architecture, settings: configuration.objectiveSettings,
                                      maxRows: 5)
        var mu = [Float](repeating: 0, count: 37 * 2), logVariance = mu
        for first in stride(from: 0, to: 37, by: 5) {
            let count = min(5, 37 - first)
            run.features.withUnsafeBufferPointer { features in
                run.checkpoint.parameters.withUnsafeBufferPointer { parameters in
                    mu.withUnsafeMutableBufferPointer { muPointer in
                        logVariance.withUnsafeMutableBufferPointer { logVariancePointer in
                            objective.encode(batch: features.baseAddress! + first * 10, count: count,
                                             parameters: parameters.baseAddress!, mu: muPointer.baseAddress! + first * 2,
                                             logVariance: logVariancePointer.baseAddress! + first * 2)
                        }
                    }
                }
            }
        }
        XCTAssertEqual(bits(try readDataset(out, "mu")), bits(mu))
        XCTAssertEqual(bits(try readDataset(out, "logvar")), bits(logVariance))
        XCTAssertTrue(mu.contains { $0 != 0 } && Set(mu).count > 10, "a degenerate encoder would prove nothing")
    }

    func testLabelsAreCarriedOverInDataOrder() throws {
        let run = try TrainedRun.make(self)
        let out = run.path("embeddings.h5")
        _ = try embed(run, out: out, blockRows: 7)
        XCTAssertEqual(try readDataset(out, "labels", as: Int64.self), run.labels.map(Int64.init))
    }

    func testDataWithoutLabelsGivesNoLabelsDataset() throws {
        let run = try TrainedRun.make(self)
        let unlabelled = run.path("unlabelled.h5")
        try writeDataFile(unlabelled, features: run.features, rows: 37)
        let out = run.path("embeddings.h5")
        let summary = try embed(run, out: out, data: unlabelled)
        XCTAssertFalse(summary.hasLabels)
        XCTAssertFalse(try HDF5File.open(out).root().contains("labels"))
        // Same features, same codes: the labels dataset is the only difference.
        let labelled = run.path("labelled.h5")
        _ = try embed(run, out: labelled)
        XCTAssertEqual(bits(try readDataset(out, "mu")), bits(try readDataset(labelled, "mu")))
    }

    func testSmallBlocksWriteTheSameFileAsOneBlock() throws {
        let run = try TrainedRun.make(self)
        let oneBlock = run.path("one-block.h5"), smallBlocks = run.path("small-blocks.h5")
        _ = try embed(run, out: oneBlock, microBatch: 4)
        _ = try embed(run, out: smallBlocks, microBatch: 4, blockRows: 9)  // blocks of 3 micro-batches, the last short
        for name in ["mu", "logvar"] {
            XCTAssertEqual(bits(try readDataset(smallBlocks, name)), bits(try readDataset(oneBlock, name)), name)
        }
        XCTAssertEqual(try readDataset(smallBlocks, "index", as: Int64.self), (0..<37).map(Int64.init))
    }

    /// The datasets are bitwise equal, and so are the files, byte for byte: no HDF5 object
    /// records its modification time (the runs are a second apart, which would show).
    func testOneTwoAndThreeRanksWriteByteIdenticalEmbeddingFiles() throws {
        let run = try TrainedRun.make(self)
        var outputs: [String] = []
        for ranks in [1, 3, 2] {
            if !outputs.isEmpty { Thread.sleep(forTimeInterval: 1.1) }
            let out = run.path("embeddings-\(ranks).h5")
            // Blocks of 10 rows: several blocks, shares of 1, 1 and 2 micro-batches of 3 rows at n = 3.
            let result = try runUnderMPI(ranks: ranks, ["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath,
                                                        "--out", out, "--batch", "3", "--block-rows", "10"])
            XCTAssertEqual(result.status, 0, "n = \(ranks): \(result.standardError)")
            XCTAssertTrue(result.standardOutput.contains("\(ranks) rank"), result.standardOutput)
            outputs.append(out)
        }
        let inProcess = run.path("in-process.h5")
        _ = try embed(run, out: inProcess, microBatch: 3)
        for name in ["mu", "logvar"] {
            let one: [Float] = try readDataset(outputs[0], name)
            XCTAssertEqual(one.count, 37 * 2)
            XCTAssertEqual(bits(try readDataset(outputs[1], name)), bits(one), "\(name): n = 3 differs from n = 1")
            XCTAssertEqual(bits(try readDataset(inProcess, name)), bits(one), "\(name): mpirun -n 1 differs from in-process")
        }
        let bytes = try outputs.map { try Data(contentsOf: URL(fileURLWithPath: $0)) }
        XCTAssertEqual(bytes[1], bytes[0], "the file of n = 3 differs from n = 1's")
        XCTAssertEqual(bytes[2], bytes[0], "the file of n = 2 differs from n = 1's")
        XCTAssertEqual(try readDataset(outputs[1], "index", as: Int64.self), (0..<37).map(Int64.init))
        XCTAssertEqual(try readDataset(outputs[1], "labels", as: Int64.self), run.labels.map(Int64.init))
    }

    func testDataOfAnotherWidthIsRefused() throws {
        let run = try TrainedRun.make(self)
        let wide = run.path("wide.h5")
        try writeDataFile(wide, features: syntheticFeatures(rows: 4, features: 11, seed: 1), rows: 4)
        let out = run.path("embeddings.h5")
        XCTAssertThrowsError(try embed(run, out: out, data: wide)) { error in
            let message = failureMessage(error)
            XCTAssertTrue(message.contains("wide.h5 has 11 features per row") && message.contains("takes 10"), message)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: out))
    }

    func testOtherDataIsEmbeddedWithOneWarning() throws {
        let run = try TrainedRun.make(self)
        let other = run.path("other.h5")
        try writeDataFile(other, features: syntheticFeatures(rows: 6, features: 10, seed: 9), rows: 6)
        var warnings: [String] = []
        let summary = try embed(run, out: run.path("other-embeddings.h5"), data: other, warn: { warnings.append($0) })
        XCTAssertEqual(summary.rows, 6)
        XCTAssertEqual(warnings.count, 1)
        XCTAssertTrue(warnings.first?.contains("is not the data") ?? false, "\(warnings)")
        // The model's own data gives no warning.
        warnings = []
        _ = try embed(run, out: run.path("own.h5"), warn: { warnings.append($0) })
        XCTAssertEqual(warnings, [])
    }

    func testAFailureOnRankZeroEndsEveryRankWithItsMessage() throws {
        let run = try TrainedRun.make(self)
        let result = try runUnderMPI(ranks: 3, ["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath,
                                                "--out", run.path("missing-directory/embeddings.h5")])
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertEqual(result.errorLines(containing: "vae-dist: error: rank 0:").count, 1, result.standardError)
        XCTAssertTrue(result.standardError.contains("does not exist"), result.standardError)
        XCTAssertLessThan(result.seconds, 30)
    }

    func testRunDirectoryMeansItsNewestCheckpoint() throws {
        let directory = try makeScratchDirectory(self)
        for name in ["checkpoint-epoch-0002.h5", "checkpoint-epoch-0010.h5", "checkpoint-epoch-0009.h5", "notes.h5"] {
            XCTAssertTrue(FileManager.default.createFile(atPath: (directory as NSString).appendingPathComponent(name), contents: nil))
        }
        let location = try CheckpointLocation.resolve(directory)
        XCTAssertEqual(location.path, (directory as NSString).appendingPathComponent("checkpoint-epoch-0010.h5"))
        XCTAssertEqual(location.runDirectory, directory)
        let file = (directory as NSString).appendingPathComponent("checkpoint-epoch-0002.h5")
        XCTAssertEqual(try CheckpointLocation.resolve(file), CheckpointLocation(path: file, runDirectory: directory))
        let empty = try makeScratchDirectory(self)
        XCTAssertThrowsError(try CheckpointLocation.resolve(empty)) {
            XCTAssertTrue("\($0)".contains("holds no checkpoint-epoch-NNNN.h5"), "\($0)")
        }
    }

    func testDefaultDataIsFashionMNISTOnlyWhenTheCheckpointWasTrainedOnIt() throws {
        let run = try TrainedRun.make(self)
        let dataDirectory = run.path("default-data")
        XCTAssertThrowsError(try CheckpointedModel.defaultDataPath(
            for: run.checkpoint, checkpointPath: "ckpt.h5", split: .train, dataDirectory: dataDirectory)) {
            XCTAssertTrue("\($0)".hasPrefix("--data is needed"), "\($0)")
        }
        // A default train file with the checkpoint's fingerprint: the default applies.
        try FileManager.default.createDirectory(atPath: dataDirectory, withIntermediateDirectories: true)
        let paths = DefaultData.paths(dataDirectory: dataDirectory)
        try FileManager.default.copyItem(atPath: run.dataPath, toPath: paths.train)
        XCTAssertEqual(try CheckpointedModel.defaultDataPath(for: run.checkpoint, checkpointPath: "ckpt.h5", split: .train,
                                                             dataDirectory: dataDirectory), paths.train)
        XCTAssertEqual(try CheckpointedModel.defaultDataPath(for: run.checkpoint, checkpointPath: "ckpt.h5", split: .test,
                                                             dataDirectory: dataDirectory), paths.test)
        // Another default file: --data is needed.
        try FileManager.default.removeItem(atPath: paths.train)
        try writeDataFile(paths.train, features: syntheticFeatures(rows: 6, features: 10, seed: 9), rows: 6)
        XCTAssertThrowsError(try CheckpointedModel.defaultDataPath(
            for: run.checkpoint, checkpointPath: "ckpt.h5", split: .train, dataDirectory: dataDirectory)) {
            XCTAssertTrue("\($0)".contains("which is not the default Fashion-MNIST"), "\($0)")
        }
    }
}
