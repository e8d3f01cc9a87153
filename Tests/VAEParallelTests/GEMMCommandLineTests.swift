import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
@testable import VAEParallel

/// `--gemm` and `--precision` through the real binary: bf16 refused where oneDNN has no
/// bf16 instructions (capped with ONEDNN_MAX_CPU_ISA) or on OpenBLAS, bf16 training
/// repeatable and resumable bit for bit, and the backend a run chose kept on resume.
final class GEMMCommandLineTests: XCTestCase {
    private var scratch = ""
    private var data = ""

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 10, seed: 42), rows: 37)
    }

    private func train(epochs: Int, out: String, _ extra: [String], environment: [String: String] = [:]) throws -> ProcessResult {
        try runProcess(try vaeDistBinary(), trainArguments(smallConfiguration(epochs: epochs), data: data, out: scratch + "/" + out)
                       + extra, environment: childEnvironment(environment), timeout: 60)
    }

    /// Exit status 1, the one line naming the option and the instructions, and no file
    /// touched: the data and an earlier run stay byte for byte, no run directory appears.
    func testBFloat16IsRefusedWhereOneDNNHasNoBFloat16Instructions() throws {
        XCTAssertEqual(try train(epochs: 1, out: "earlier", []).status, 0)
        let before = snapshot(scratch)
        let result = try train(epochs: 1, out: "new", ["--precision", "bf16"], environment: ["ONEDNN_MAX_CPU_ISA": "AVX512_CORE"])
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertEqual(result.standardError,
                       "vae-dist: error: rank 0: --precision bf16 needs a CPU with AVX512_BF16 instructions; oneDNN runs "
                       + "avx512_core here: use --precision fp32\n")
        XCTAssertEqual(snapshot(scratch), before)
    }

    func testOpenBLASWithBFloat16IsAnOptionError() throws {
        let result = try train(epochs: 1, out: "new", ["--gemm", "openblas", "--precision", "bf16"])
        XCTAssertEqual(result.status, 64, result.standardError)
        XCTAssertEqual(result.errorLines(containing: "vae-dist: error: ").count, 1, result.standardError)
        XCTAssertTrue(result.standardError.contains("--precision bf16 needs --gemm onednn or auto"), result.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: scratch + "/new"))
    }

    /// Two bf16 runs give the same bits, and so does one stopped after an epoch and resumed
    /// (with no --precision: the checkpoint's). The run records its precision and backend.
    func testBFloat16TrainingRepeatsAndResumesBitForBit() throws {
        guard OneDNNGEMM.hasBFloat16Instructions else { throw XCTSkip("no AVX512_BF16 here") }
        let first = try train(epochs: 2, out: "a", ["--precision", "bf16"])
        XCTAssertEqual(first.status, 0, first.standardError)
        XCTAssertTrue(first.standardOutput.contains("gemm     oneDNN bf16 (auto: bf16 runs on oneDNN)"), first.standardOutput)
        XCTAssertEqual(try train(epochs: 2, out: "b", ["--precision", "bf16"]).status, 0)
        XCTAssertEqual(try train(epochs: 1, out: "c", ["--precision", "bf16"]).status, 0)
        let resumed = try runProcess(try vaeDistBinary(), ["train", "--data", data, "--out", scratch + "/c", "--no-progress",
                                                           "--resume", "latest", "--epochs", "2"],
                                     environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardOutput.contains("gemm     oneDNN bf16 (auto: as the checkpoint was trained)"),
                      resumed.standardOutput)
        let reference = try finalParameters(scratch + "/a")
        for run in ["b", "c"] {
            let other = try finalParameters(scratch + "/" + run)
            XCTAssertEqual(other.step, reference.step, run)
            XCTAssertEqual(other.parameters.map(\.bitPattern), reference.parameters.map(\.bitPattern), run)
        }
        XCTAssertEqual(reference.configuration.precision, .bf16)
        XCTAssertEqual(reference.configuration.gemm, .onednn)
        // And bf16 changed the numbers: an fp32 run on oneDNN ends elsewhere.
        XCTAssertEqual(try train(epochs: 2, out: "fp32", ["--gemm", "onednn"]).status, 0)
        XCTAssertNotEqual(try finalParameters(scratch + "/fp32").parameters.map(\.bitPattern),
                          reference.parameters.map(\.bitPattern))
    }

    /// A run on oneDNN fp32 resumed with the default `--gemm auto` continues on oneDNN (the
    /// backend is in the checkpoint's configuration; the banner says so): the same bits as
    /// the run uninterrupted. (On a model this small the two backends happen to agree to
    /// the bit, so the banner is what shows the backend kept.)
    func testResumeKeepsTheBackendTheRunChose() throws {
        XCTAssertEqual(try train(epochs: 2, out: "whole", ["--gemm", "onednn"]).status, 0)
        XCTAssertEqual(try train(epochs: 1, out: "split", ["--gemm", "onednn"]).status, 0)
        let resumed = try runProcess(try vaeDistBinary(), ["train", "--data", data, "--out", scratch + "/split", "--no-progress",
                                                           "--resume", "latest", "--epochs", "2"],
                                     environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(resumed.status, 0, resumed.standardError)
        XCTAssertTrue(resumed.standardOutput.contains("gemm     oneDNN fp32 (auto: as the checkpoint was trained)"),
                      resumed.standardOutput)
        XCTAssertEqual(try finalParameters(scratch + "/split").parameters.map(\.bitPattern),
                       try finalParameters(scratch + "/whole").parameters.map(\.bitPattern))
    }

    /// A bf16 run's checkpoint evaluates in either precision (its parameters are float32):
    /// both give a finite -ELBO, a little apart.
    func testABFloat16CheckpointEvaluatesInEitherPrecision() throws {
        guard OneDNNGEMM.hasBFloat16Instructions else { throw XCTSkip("no AVX512_BF16 here") }
        XCTAssertEqual(try train(epochs: 2, out: "bf16", ["--precision", "bf16"]).status, 0)
        func evaluate(_ precision: String) throws -> Double {
            let result = try runProcess(try vaeDistBinary(), ["eval", "--checkpoint", scratch + "/bf16", "--data", data,
                                                              "--json", "--importance", "0", "--precision", precision],
                                        environment: childEnvironment(), timeout: 60)
            XCTAssertEqual(result.status, 0, result.standardError)
            let report = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
            return try XCTUnwrap((report["negative_elbo_B"] as? [String: Any])?["mean"] as? Double, result.standardOutput)
        }
        let (fp32, bf16) = (try evaluate("fp32"), try evaluate("bf16"))
        XCTAssertTrue(fp32.isFinite && bf16.isFinite)
        XCTAssertNotEqual(fp32, bf16)
        XCTAssertEqual(fp32, bf16, accuracy: 1e-2 * abs(fp32), "bf16 moves the loss by far less than 1%")
    }
}
