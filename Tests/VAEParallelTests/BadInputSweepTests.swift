import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// The bad-input sweep: every case runs the real binary and must end with ONE line
/// `vae-dist: error: ...` naming the problem, a non-zero exit, within a deadline, and
/// with every file under the scratch directory (data, an existing run) byte for byte
/// as before: a failed start leaves no trace and damages nothing.
final class BadInputSweepTests: XCTestCase {
    private var scratch = ""
    private var data = ""
    private var run = ""

    private struct BadInput {
        let name: String
        let arguments: [String]
        /// Substrings the error line must contain: what names the problem.
        let expected: [String]
        var ranks: Int? = nil
        /// 1 for a bad input, 64 for a bad command line (docs/faults.md).
        var status: Int32 = 1
        /// Found only while training (streaming reads rows on demand): the new run's
        /// directory exists by then, holding config.json. Nothing else may appear.
        var startsTheRun = false
    }

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 41), rows: 37)
        run = scratch + "/run"
        XCTAssertEqual(try runProcess(try vaeDistBinary(), trainArguments(smallConfiguration(epochs: 2), data: data, out: run),
                                      environment: childEnvironment(), timeout: 60).status, 0)
    }

    /// A new run's options, with `extra` appended.
    private func train(_ extra: [String], data: String? = nil, out: String? = nil) -> [String] {
        trainArguments(smallConfiguration(epochs: 2), data: data ?? self.data, out: out ?? scratch + "/new") + extra
    }

    private func resume(_ extra: [String], data: String? = nil) -> [String] {
        ["train", "--data", data ?? self.data, "--out", run, "--no-progress", "--resume", "latest", "--epochs", "4"] + extra
    }

    private func check(_ cases: [BadInput], file: StaticString = #filePath, line: UInt = #line) throws {
        for input in cases {
            let before = snapshot(scratch)
            let result: ProcessResult
            if let ranks = input.ranks {
                result = try runProcess(try mpirunExecutable(), try mpirunArguments(ranks: ranks, input.arguments),
                                        environment: childEnvironment(), timeout: 30, file: file, line: line)
            } else {
                result = try runProcess(try vaeDistBinary(), input.arguments, environment: childEnvironment(), timeout: 20,
                                        file: file, line: line)
            }
            let context = "[\(input.name)] \(input.arguments.joined(separator: " "))\nstderr:\n\(result.standardError)"
            XCTAssertNil(result.signal, context, file: file, line: line)
            XCTAssertEqual(result.status, input.status, context, file: file, line: line)
            let errors = result.errorLines(containing: "vae-dist: error: ")
            if input.ranks == nil {
                // The whole of standard error is the one line.
                let lines = result.standardError.split(separator: "\n")
                XCTAssertEqual(lines.count, 1, context, file: file, line: line)
                XCTAssertEqual(errors.count, 1, context, file: file, line: line)
            } else {
                // An agreed error is the job's: rank 0 prints it once, however many ranks there are.
                XCTAssertEqual(errors.count, 1, "one line for the job: \(context)", file: file, line: line)
            }
            for error in errors {
                for expected in input.expected where !error.contains(expected) {
                    XCTFail("missing '\(expected)': \(context)", file: file, line: line)
                }
            }
            var after = snapshot(scratch)
            if input.startsTheRun {
                XCTAssertEqual(after.keys.filter { $0.hasPrefix("new") }.sorted(), ["new", "new/.vae-dist.lock", "new/config.json"], context, file: file, line: line)
                after = after.filter { !$0.key.hasPrefix("new") }
                try? FileManager.default.removeItem(atPath: scratch + "/new")
            }
            XCTAssertEqual(after.keys.sorted(), before.keys.sorted(), "files appeared or vanished: \(context)", file: file, line: line)
            for (name, bytes) in before where after[name] != bytes {
                XCTFail("\(name) changed: \(context)", file: file, line: line)
            }
        }
    }

    func testBadCommandLines() throws {
        try check([
            BadInput(name: "zero batch", arguments: train(["--batch", "0"]), expected: ["--batch must be at least 1"], status: 64),
            BadInput(name: "negative batch", arguments: train(["--batch=-4"]), expected: ["--batch must be at least 1 (got -4)"], status: 64),
            BadInput(name: "zero epochs", arguments: train(["--epochs", "0"]), expected: ["--epochs must be at least 1"], status: 64),
            BadInput(name: "zero latent", arguments: train(["--latent", "0"]), expected: ["--latent must be at least 1"], status: 64),
            BadInput(name: "hidden with a hole", arguments: train(["--hidden", "400,,20"]), expected: ["--hidden", "400,,20"], status: 64),
            BadInput(name: "hidden negative", arguments: train(["--hidden=-3"]), expected: ["--hidden"], status: 64),
            BadInput(name: "unknown activation", arguments: train(["--activation", "swish"]), expected: ["swish", "--activation"], status: 64),
            BadInput(name: "unknown likelihood", arguments: train(["--likelihood", "poisson"]), expected: ["poisson", "--likelihood"], status: 64),
            BadInput(name: "unknown estimator", arguments: train(["--estimator", "C"]), expected: ["'C'", "--estimator"], status: 64),
            BadInput(name: "unknown optimizer", arguments: train(["--optimizer", "lbfgs"]), expected: ["lbfgs", "--optimizer"], status: 64),
            BadInput(name: "unknown non-finite policy", arguments: train(["--on-nonfinite", "ignore"]), expected: ["ignore", "--on-nonfinite"], status: 64),
            BadInput(name: "NaN learning rate", arguments: train(["--lr", "nan"]), expected: ["--lr must be a positive number"], status: 64),
            BadInput(name: "zero samples", arguments: train(["--samples", "0"]), expected: ["--samples must be at least 1"], status: 64),
            BadInput(name: "momentum of 1", arguments: train(["--momentum", "1"]), expected: ["--momentum must be in [0, 1)"], status: 64),
            BadInput(name: "unreadable memory budget", arguments: train(["--memory-budget", "lots"]), expected: ["--memory-budget", "lots"], status: 64),
            BadInput(name: "zero checkpoint interval", arguments: train(["--checkpoint-every", "0"]), expected: ["--checkpoint-every must be at least 1"], status: 64),
            BadInput(name: "resume latest without a run directory", arguments: ["train", "--resume", "latest"], expected: ["--resume latest needs --out"], status: 64),
            BadInput(name: "unknown option", arguments: train(["--learning-rate", "0.1"]), expected: ["--learning-rate"], status: 64),
            BadInput(name: "unknown gradient exchange", arguments: train(["--gradient-exchange", "carrier-pigeon"]),
                     expected: ["carrier-pigeon", "--gradient-exchange"], status: 64),
            BadInput(name: "overlap with the shared-memory exchange",
                     arguments: train(["--gradient-exchange", "shared-memory", "--overlap-allreduce"]),
                     expected: ["--overlap-allreduce", "shared-memory"], ranks: 2, status: 64),
            BadInput(name: "batch smaller than the ranks", arguments: train(["--batch", "1"]),
                     expected: ["--batch 1 is smaller than the 2 ranks"], ranks: 2),
        ])
    }

    func testBadConvolutionalModels() throws {
        try writeDataFile(scratch + "/images.h5", features: syntheticFeatures(rows: 9, features: 64, seed: 44), rows: 9)
        let images = ["train", "--data", scratch + "/images.h5", "--out", scratch + "/new", "--no-progress"]
        try check([
            BadInput(name: "conv on rows that are no image", arguments: ["train", "--data", data, "--out", scratch + "/new",
                                                                         "--architecture", "conv"],
                     expected: ["--architecture conv needs images", "10 values per row"]),
            BadInput(name: "an image too small for the convolutions",
                     arguments: images + ["--architecture", "conv", "--channels", "8,8,8,8", "--kernel", "4"],
                     expected: ["1x8x8 image is too small for 4 convolutions", "8x8 -> 4x4 -> 2x2 -> 1x1 -> nothing"]),
            BadInput(name: "channels for the MLP", arguments: images + ["--channels", "16"], expected: ["--channels", "--architecture conv"],
                     status: 64),
            BadInput(name: "hidden sizes for conv", arguments: images + ["--architecture", "conv", "--hidden", "5"],
                     expected: ["--hidden", "--architecture mlp"], status: 64),
            BadInput(name: "channels with a hole", arguments: images + ["--architecture", "conv", "--channels", "8,,4"],
                     expected: ["--channels", "8,,4"], status: 64),
            BadInput(name: "zero stride", arguments: images + ["--architecture", "conv", "--stride", "0"],
                     expected: ["--stride must be 1...1048576 (got 0)"], status: 64),
            BadInput(name: "unknown architecture", arguments: images + ["--architecture", "transformer"],
                     expected: ["transformer", "--architecture"], status: 64),
        ])
    }

    func testBadDataFiles() throws {
        func dataFile(_ name: String, _ body: (HDF5Group) throws -> Void) throws -> String {
            let path = scratch + "/" + name
            try writeHDF5FileAtomically(to: path) { try body(try $0.root()) }
            return path
        }
        let rankOne = try dataFile("rank1.h5") { try $0.writeDataset("features", [Float](repeating: 0.5, count: 10), shape: [10]) }
        let integers = try dataFile("int32.h5") { try $0.writeDataset("features", [Int32](repeating: 1, count: 40), shape: [4, 10]) }
        let doubles = try dataFile("float64.h5") { try $0.writeDataset("features", [Double](repeating: 0.5, count: 40), shape: [4, 10]) }
        let unscaled = try dataFile("uint8.h5") { try $0.writeDataset("features", [UInt8](repeating: 7, count: 40), shape: [4, 10]) }
        let noFeatures = try dataFile("nofeatures.h5") { try $0.writeDataset("images", [Float](repeating: 0.5, count: 40), shape: [4, 10]) }
        let badLabels = try dataFile("labels.h5") { root in
            try root.writeDataset("features", [Float](repeating: 0.5, count: 40), shape: [4, 10])
            try root.writeDataset("labels", [Int64](repeating: 1, count: 3), shape: [3])
        }
        var features = syntheticFeatures(rows: 37, features: 10, seed: 42)
        features[17 * 10 + 2] = .nan
        try writeDataFile(scratch + "/nan.h5", features: features, rows: 37)
        features[17 * 10 + 2] = 2
        try writeDataFile(scratch + "/above-one.h5", features: features, rows: 37)
        try writeDataFile(scratch + "/twelve.h5", features: syntheticFeatures(rows: 5, features: 12, seed: 43), rows: 5)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: data))
        try bytes.prefix(bytes.count / 2).write(to: URL(fileURLWithPath: scratch + "/truncated.h5"))
        try "x,y\n1,2\n".write(toFile: scratch + "/table.csv", atomically: true, encoding: .utf8)
        try FileManager.default.createDirectory(atPath: scratch + "/folder.h5", withIntermediateDirectories: true)

        try check([
            BadInput(name: "missing file", arguments: train([], data: scratch + "/absent.h5"), expected: ["absent.h5", "no such file"]),
            BadInput(name: "directory", arguments: train([], data: scratch + "/folder.h5"), expected: ["folder.h5", "is a directory"]),
            BadInput(name: "not HDF5", arguments: train([], data: scratch + "/table.csv"), expected: ["table.csv", "not an HDF5 file"]),
            BadInput(name: "truncated HDF5", arguments: train([], data: scratch + "/truncated.h5"), expected: ["truncated.h5"]),
            BadInput(name: "no /features", arguments: train([], data: noFeatures), expected: ["nofeatures.h5", "/features", "missing"]),
            BadInput(name: "rank-1 features", arguments: train([], data: rankOne), expected: ["rank1.h5", "/features", "rank 1"]),
            BadInput(name: "int32 features", arguments: train([], data: integers), expected: ["int32.h5", "dtype", "int32"]),
            BadInput(name: "float64 features", arguments: train([], data: doubles), expected: ["float64.h5", "dtype"]),
            BadInput(name: "uint8 without scale", arguments: train([], data: unscaled), expected: ["uint8.h5", "scale"]),
            BadInput(name: "labels of the wrong length", arguments: train([], data: badLabels), expected: ["labels.h5", "/labels", "3 labels"]),
            BadInput(name: "NaN in the data", arguments: train([], data: scratch + "/nan.h5"), expected: ["nan.h5", "row 17", "nan"]),
            BadInput(name: "value above 1 for Bernoulli", arguments: train([], data: scratch + "/above-one.h5"), expected: ["above-one.h5", "row 17"]),
            BadInput(name: "test data of another width", arguments: train(["--test-data", scratch + "/twelve.h5"]),
                     expected: ["twelve.h5", "12 features"]),
            BadInput(name: "drop leaves no step", arguments: train(["--batch", "64", "--last-batch", "drop"]),
                     expected: ["37 rows", "--last-batch drop"]),
            BadInput(name: "NaN data on one of two ranks' shares", arguments: train(["--reading", "streaming"], data: scratch + "/nan.h5"),
                     expected: ["nan.h5", "row 17", "nan"], ranks: 2, startsTheRun: true),
            BadInput(name: "check on a truncated file", arguments: ["check", scratch + "/truncated.h5"], expected: ["truncated.h5"]),
            BadInput(name: "inspect of a missing file", arguments: ["inspect", scratch + "/absent.h5"], expected: ["absent.h5"]),
        ])
    }

    func testBadCheckpointsAndOutputPaths() throws {
        let checkpoint = run + "/checkpoint-epoch-0002.h5"
        /// A copy changed through HDF5 and sealed again, as if vae-dist had written it so:
        /// the checksum holds, and reading reaches the check each case is about.
        func copy(_ name: String, _ change: (HDF5Group) throws -> Void) throws -> String {
            let path = scratch + "/" + name
            try FileManager.default.copyItem(atPath: checkpoint, toPath: path)
            let file = try HDF5File.open(path, writable: true)
            try change(try file.root())
            try file.close()
            try FileChecksum.seal(path)
            return path
        }
        let nanParameters = try copy("nan.ckpt.h5") { root in
            let dataset = try root.openDataset("model/encoder.fc1.weight")
            var values: [Float] = try dataset.read()
            values[3] = .nan
            try dataset.write(values)
        }
        let foreign = try copy("foreign.ckpt.h5") { try $0.setAttribute("format", "something-else") }
        let badConfig = try copy("config.ckpt.h5") { try $0.setAttribute("config", "{\"architecture\": 7") }
        let pastEpochEnd = try copy("steps.ckpt.h5") { root in
            try root.setAttribute("step_in_epoch", 99)
            for name in ["epoch_loss_sum", "epoch_reconstruction_sum", "epoch_kl_sum"] { try root.setAttribute(name, 1.0) }
            try root.setAttribute("epoch_rows", 8)
            try root.setAttribute("epoch_skipped_steps", 0)
        }
        let halfStopped = try copy("partial.ckpt.h5") { try $0.setAttribute("step_in_epoch", 2) }
        let noWorld = try copy("world.ckpt.h5") { try $0.setAttribute("world_size", 0) }
        let bytes = try Data(contentsOf: URL(fileURLWithPath: checkpoint))
        try bytes.prefix(bytes.count * 2 / 3).write(to: URL(fileURLWithPath: scratch + "/truncated.ckpt.h5"))
        try writeDataFile(scratch + "/twelve.h5", features: syntheticFeatures(rows: 37, features: 12, seed: 44), rows: 37)
        try writeDataFile(scratch + "/other.h5", features: syntheticFeatures(rows: 37, features: 10, seed: 45), rows: 37)
        try FileManager.default.createDirectory(atPath: scratch + "/empty-run", withIntermediateDirectories: true)
        try "not a directory".write(toFile: scratch + "/plain-file", atomically: true, encoding: .utf8)

        func resumeFrom(_ path: String) -> [String] {
            ["train", "--data", data, "--out", run, "--no-progress", "--resume", path, "--epochs", "4"]
        }
        try check([
            BadInput(name: "missing checkpoint", arguments: resumeFrom(scratch + "/absent.h5"), expected: ["absent.h5", "no such checkpoint"]),
            BadInput(name: "truncated checkpoint", arguments: resumeFrom(scratch + "/truncated.ckpt.h5"),
                     expected: ["truncated.ckpt.h5", "checkpoint is corrupt: truncated", "checksum header"]),
            BadInput(name: "data file as checkpoint", arguments: resumeFrom(data), expected: ["data.h5", "not a vae-dist checkpoint"]),
            BadInput(name: "foreign format", arguments: resumeFrom(foreign), expected: ["foreign.ckpt.h5", "not a vae-dist checkpoint"]),
            BadInput(name: "NaN parameters", arguments: resumeFrom(nanParameters), expected: ["nan.ckpt.h5", "/model", "NaN"]),
            BadInput(name: "corrupt config JSON", arguments: resumeFrom(badConfig), expected: ["config.ckpt.h5", "config"]),
            BadInput(name: "step beyond the epoch", arguments: resumeFrom(pastEpochEnd), expected: ["steps.ckpt.h5", "99 steps into epoch 3"]),
            BadInput(name: "mid-epoch checkpoint without its sums", arguments: resumeFrom(halfStopped),
                     expected: ["partial.ckpt.h5", "lacks the root attribute 'epoch_loss_sum'"]),
            BadInput(name: "zero world size", arguments: resumeFrom(noWorld), expected: ["world.ckpt.h5", "world size"]),
            BadInput(name: "checkpoint of other data width", arguments: resume([], data: scratch + "/twelve.h5"),
                     expected: ["checkpoint-epoch-0002.h5", "10 features", "twelve.h5"]),
            BadInput(name: "other data without --force", arguments: resume([], data: scratch + "/other.h5"), expected: ["fingerprint", "--force"]),
            BadInput(name: "contradicting model option", arguments: resume(["--latent", "3"]), expected: ["latentDimension", "contradict"]),
            BadInput(name: "nothing left to train", arguments: resume(["--epochs", "2"]), expected: ["already completed 2 of 2 epochs"]),
            BadInput(name: "latest in an empty directory",
                     arguments: ["train", "--data", data, "--out", scratch + "/empty-run", "--resume", "latest"],
                     expected: ["no checkpoint", "empty-run"]),
            BadInput(name: "new run over an existing one", arguments: train([], out: run), expected: ["already holds a run", "--resume latest"]),
            BadInput(name: "run directory is a file", arguments: train([], out: scratch + "/plain-file"), expected: ["plain-file", "not a directory"]),
            BadInput(name: "run directory under a file", arguments: train([], out: scratch + "/plain-file/run"),
                     expected: ["cannot create run directory", "plain-file/run"]),
            BadInput(name: "run directory in /proc", arguments: train([], out: "/proc/vae-dist-run"),
                     expected: ["cannot create run directory", "/proc/vae-dist-run"]),
            BadInput(name: "mismatched checkpoint on two ranks", arguments: resume(["--latent", "3"]), expected: ["contradict"], ranks: 2),
        ])
    }
}
