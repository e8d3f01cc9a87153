import Foundation
import XCTest
import VAETestSupport
import VAECore
import VAEIO
import VAEParallel

/// scripts/load_checkpoint.py and scripts/plot_embeddings.py, run as a Python user runs them.
final class PythonScriptTests: XCTestCase {
    private struct ScriptEncoding: Decodable {
        let rows: [Int]
        let mu: [[Double]]
        let logvar: [[Double]]
    }

    /// The Swift encoder's mu and logvar for `rows` of the run's data.
    private func swiftEncoding(_ run: String, rows: [Int], features: [Float], dimension: Int) throws -> (mu: [Float], logVariance: [Float]) {
        let checkpoint = try finalParameters(run)
        let z = checkpoint.configuration.architecture.latentDimension
        let objective = ELBOObjective(architecture: checkpoint.configuration.architecture,
                                      settings: checkpoint.configuration.objectiveSettings, maxRows: rows.count)
        let batch = rows.flatMap { features[($0 * dimension)..<(($0 + 1) * dimension)] }
        var mu = [Float](repeating: 0, count: rows.count * z)
        var logVariance = [Float](repeating: 0, count: rows.count * z)
        checkpoint.parameters.withUnsafeBufferPointer { parameters in
            objective.encode(batch: batch, count: rows.count, parameters: parameters.baseAddress!, mu: &mu, logVariance: &logVariance)
        }
        return (mu, logVariance)
    }

    func testPythonEncoderMatchesTheSwiftEncoderForEveryActivation() throws {
        let purpose = "scripts/load_checkpoint.py"
        let directory = try makeScratchDirectory(self)
        let features = syntheticFeatures(rows: 40, features: 12, seed: 5)
        for activation in Activation.allCases {
            let (run, data) = try trainPictureModel(in: directory, features: 12, latent: 3, hidden: [7, 5], activation: activation,
                                                    name: activation.rawValue)
            let result = try runPython([repositoryRoot + "/scripts/load_checkpoint.py", run, data, "--rows", "0:20,33", "--json"], for: purpose)
            XCTAssertEqual(result.status, 0, result.standardError)
            let python = try JSONDecoder().decode(ScriptEncoding.self, from: Data(result.standardOutput.utf8))
            let rows = Array(0..<20) + [33]
            XCTAssertEqual(python.rows, rows)
            let swift = try swiftEncoding(run, rows: rows, features: features, dimension: 12)
            // float32 GEMMs in Swift vs float64 in NumPy over sums of at most 12 terms: differences are
            // a few float32 roundings (~1e-7 relative); 1e-5 leaves room and still catches any wrong layer.
            for (name, ours, theirs) in [("mu", swift.mu, python.mu.flatMap { $0 }), ("logvar", swift.logVariance, python.logvar.flatMap { $0 })] {
                XCTAssertEqual(ours.count, theirs.count)
                for (index, (a, b)) in zip(ours, theirs).enumerated() {
                    XCTAssertEqual(Double(a), b, accuracy: 1e-5 * max(1, abs(b)), "\(activation) \(name)[\(index)]")
                }
            }
        }
    }

    /// The convolutional model's encoder in NumPy (conv2d by strided slices) against vae-dist's embeddings.
    func testPythonConvolutionalEncoderMatchesTheSwiftEmbeddings() throws {
        let purpose = "scripts/load_checkpoint.py on a conv checkpoint"
        let directory = try makeScratchDirectory(self)
        let data = directory + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 64, seed: 12), rows: 37)
        _ = try trainInProcess(smallConvolutionalConfiguration(), data: data, out: directory + "/run")
        let embedded = try runProcess(try vaeDistBinary(), ["embed", "--checkpoint", directory + "/run", "--data", data],
                                      environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(embedded.status, 0, embedded.standardError)
        // float32 in Swift, float64 in NumPy, sums of at most 64 terms: 1e-5 catches any wrong layer or layout.
        let result = try runPython([repositoryRoot + "/scripts/load_checkpoint.py", directory + "/run", data, "--rows", "all",
                                    "--compare", directory + "/run/embeddings.h5", "--tolerance", "1e-5"], for: purpose)
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardError.contains("37 rows match"), result.standardError)
        XCTAssertTrue(result.standardOutput.contains("encoder of conv 1x8x8 3,4 k3 s2 -> 2 relu"), result.standardOutput)
    }

    /// A checkpoint of the default conv model is a PyTorch state_dict: the PyTorch module of
    /// scripts/reference/bench_torch_conv.py loads it strictly and encodes as vae-dist does.
    func testPyTorchLoadsAConvolutionalCheckpoint() throws {
        // PyTorch is optional (a 5 GB install, not in CI): without it this is skipped.
        let purpose = "loading a conv checkpoint into PyTorch"
        guard let python = try? Prerequisites.python(["torch", "h5py", "numpy"], for: purpose) else {
            throw XCTSkip("PyTorch is not installed (python3 -m pip install torch): \(purpose) not checked")
        }
        let directory = try makeScratchDirectory(self)
        let data = directory + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 24, features: 784, seed: 13), rows: 24)
        var configuration = TrainingConfiguration.defaults()
        configuration.architecture.hiddenSizes = []
        configuration.architecture.convolution = ConvolutionalShape()  // the default 32,64 k3 s2 on 1x28x28
        configuration.globalBatch = 8
        configuration.epochs = 1
        _ = try trainInProcess(configuration, data: data, out: directory + "/run")
        let embedded = try runProcess(try vaeDistBinary(), ["embed", "--checkpoint", directory + "/run", "--data", data],
                                      environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(embedded.status, 0, embedded.standardError)
        let checkpoint = try XCTUnwrap(try FileManager.default.contentsOfDirectory(atPath: directory + "/run")
            .first { $0.hasPrefix("checkpoint-epoch-") })
        // float32 in both, sums of up to 3136 terms in other orders: 1e-5 of 1 + |value|.
        let result = try runProcess(python, [repositoryRoot + "/scripts/reference/torch_load_checkpoint.py",
                                             directory + "/run/" + checkpoint, data, directory + "/run/embeddings.h5"],
                                    timeout: 120)
        XCTAssertEqual(result.status, 0, result.standardOutput + result.standardError)
        XCTAssertTrue(result.standardOutput.contains("24 rows match"), result.standardOutput)
    }

    func testCompareAcceptsTheSwiftEmbeddingsAndRejectsAlteredOnes() throws {
        let purpose = "load_checkpoint.py --compare"
        let directory = try makeScratchDirectory(self)
        let (run, data) = try trainPictureModel(in: directory, latent: 3)
        let rows = [9, 2, 0, 1, 5, 4, 3, 8, 7, 6]  // embeddings in any row order; /index says which is which
        let swift = try swiftEncoding(run, rows: rows, features: syntheticFeatures(rows: 40, features: 16, seed: 5), dimension: 16)
        func writeEmbeddings(_ path: String, mu: [Float]) throws {
            try writeHDF5FileAtomically(to: path) { file in
                let root = try file.root()
                try root.writeDataset("mu", mu, shape: [rows.count, 3])
                try root.writeDataset("logvar", swift.logVariance, shape: [rows.count, 3])
                try root.writeDataset("index", rows.map { Int64($0) }, shape: [rows.count])
            }
        }
        try writeEmbeddings(directory + "/good.h5", mu: swift.mu)
        var altered = swift.mu
        altered[13] += 0.01
        try writeEmbeddings(directory + "/bad.h5", mu: altered)

        let good = try runPython([repositoryRoot + "/scripts/load_checkpoint.py", run, data, "--rows", "0:10", "--compare", directory + "/good.h5"], for: purpose)
        XCTAssertEqual(good.status, 0, good.standardError)
        XCTAssertTrue(good.standardError.contains("10 rows match"), good.standardError)
        XCTAssertTrue(good.standardOutput.contains("row 9: mu"), good.standardOutput)
        let bad = try runPython([repositoryRoot + "/scripts/load_checkpoint.py", run, data, "--rows", "0:10", "--compare", directory + "/bad.h5"], for: purpose)
        XCTAssertEqual(bad.status, 1, bad.standardError)
        XCTAssertTrue(bad.standardError.contains("MISMATCH"), bad.standardError)
    }

    func testPlotEmbeddingsWritesTheScatterAndTheCurvesAsPNG() throws {
        let purpose = "scripts/plot_embeddings.py"
        let directory = try makeScratchDirectory(self)
        // Embeddings as `vae-dist embed` lays them out, written with h5py: Z = 5 (PCA) with labels, Z = 2 without.
        let make = """
            import h5py, numpy as np, sys
            r = np.random.default_rng(0)
            with h5py.File(sys.argv[1] + "/z5.h5", "w") as f:
                labels = r.integers(0, 10, 500)
                f["mu"] = (r.normal(size=(500, 5)) + labels[:, None]).astype(np.float32)
                f["logvar"] = np.zeros((500, 5), np.float32)
                f["index"] = np.arange(500)
                f["labels"] = labels
            with h5py.File(sys.argv[1] + "/z2.h5", "w") as f:
                f["mu"] = r.normal(size=(300, 2)).astype(np.float32)
                f["logvar"] = np.zeros((300, 2), np.float32)
                f["index"] = np.arange(300)
            """
        assertSucceeded(try runPython(["-c", make, directory], for: purpose))
        // metrics.jsonl of a real run with test data (test_neg_elbo set) ...
        let dataPath = directory + "/data.h5"
        try writeDataFile(dataPath, features: syntheticFeatures(rows: 40, features: 16, seed: 5), rows: 40)
        var configuration = smallConfiguration(epochs: 3)
        configuration.architecture.dataDimension = 16
        var options = TrainingOptions(configuration: configuration, runDirectory: directory + "/run")
        options.dataPath = dataPath
        options.testDataPath = dataPath
        options.progress = .off
        _ = try TrainingRun(options: options, communicator: SingleProcessCommunicator(), log: { _ in }).run()
        // ... and one without (test_neg_elbo null).
        let noTest = directory + "/no-test.jsonl"
        try (1...3).map { #"{"epoch": \#($0), "train_neg_elbo": \#(10 - $0), "test_neg_elbo": null, "train_kl": 1.5, "train_recon": 7, "samples_per_s": 1000}"# }
            .joined(separator: "\n").write(toFile: noTest, atomically: true, encoding: .utf8)

        let script = repositoryRoot + "/scripts/plot_embeddings.py"
        let runs: [([String], [String])] = [
            ([directory + "/z5.h5", "--metrics", directory + "/run", "--out-dir", directory + "/a"], ["latent-scatter.png", "training-curves.png"]),
            ([directory + "/z2.h5", "--out-dir", directory + "/b"], ["latent-scatter.png"]),
            (["--metrics", noTest, "--out-dir", directory + "/c"], ["training-curves.png"]),
        ]
        for (arguments, outputs) in runs {
            let result = try runPython([script] + arguments, for: purpose)
            XCTAssertEqual(result.status, 0, "\(arguments): \(result.standardError)")
            let outDirectory = arguments[arguments.firstIndex(of: "--out-dir")! + 1]
            XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: outDirectory).sorted(), outputs)
            for output in outputs {
                let png = try decodePNG(outDirectory + "/" + output, pixels: false)
                XCTAssertGreaterThan(png.width, 300, output)
                XCTAssertGreaterThan(png.height, 300, output)
            }
        }
        let refused = try runPython([script, "--out-dir", directory + "/d"], for: purpose)
        XCTAssertNil(refused.signal)
        XCTAssertEqual(refused.status, 2, "argparse's usage error")
        XCTAssertTrue(refused.standardError.contains("give an embeddings file, --metrics, or both"), refused.standardError)
    }

    /// An h5py user's float64 images with class names, as they are: `prepare hdf5` converts them
    /// (label_names kept), `embed` carries the names over, and the plot lands in the run
    /// directory with the names in its legend.
    func testPlotOfAnH5pyDatasetNamesTheClassesInTheRunDirectory() throws {
        let purpose = "scripts/plot_embeddings.py with label_names"
        let directory = try makeScratchDirectory(self)
        let make = """
            import h5py, numpy as np, sys
            r = np.random.default_rng(1)
            with h5py.File(sys.argv[1], "w") as f:
                f["images"] = r.uniform(size=(40, 4, 4))            # float64, [N, H, W]
                f["classes"] = np.arange(40) % 3
                f.attrs["label_names"] = ["cat", "dog, big", "bird"]
            """
        assertSucceeded(try runPython(["-c", make, directory + "/mine.h5"], for: purpose))
        let data = directory + "/data.h5"
        let prepared = try runVAEDist(["prepare", "hdf5", directory + "/mine.h5", "--features", "images", "--labels", "classes",
                                       "--out", data])
        XCTAssertEqual(prepared.status, 0, prepared.standardError)
        XCTAssertTrue(prepared.standardOutput.contains("image_shape [1, 4, 4]"), prepared.standardOutput)
        XCTAssertTrue(prepared.standardOutput.contains("float64 stored as float32"), prepared.standardOutput)
        var configuration = smallConfiguration(epochs: 1)
        configuration.architecture.dataDimension = 16
        let run = directory + "/run"
        XCTAssertEqual(try runVAEDist(trainArguments(configuration, data: data, out: run)).status, 0)
        let embedded = try runVAEDist(["embed", "--checkpoint", run, "--data", data])
        XCTAssertEqual(embedded.status, 0, embedded.standardError)

        let result = try runPython([repositoryRoot + "/scripts/plot_embeddings.py", run + "/embeddings.h5"], for: purpose)
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("wrote \(run)/latent-scatter.png (legend: cat, dog, big, bird)"), result.standardOutput)
        XCTAssertGreaterThan(try decodePNG(run + "/latent-scatter.png", pixels: false).width, 300)
    }

    /// A Python with h5py, NumPy and matplotlib (the scripts' needs), running `arguments`.
    private func runPython(_ arguments: [String], for purpose: String) throws -> ProcessResult {
        try Prerequisites.runPython(arguments, modules: ["h5py", "numpy", "matplotlib"], for: purpose)
    }
}
