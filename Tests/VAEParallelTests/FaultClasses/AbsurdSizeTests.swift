import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO

/// Class 2: sizes a user can type (a huge model, L, batch, Int.max) are estimated with
/// overflow-checked arithmetic before anything is allocated: one line "needs X, this
/// node has Y", or, for a batch beyond the rows, the run the rows allow.
final class AbsurdSizeTests: FaultCase {
    private func train(_ extra: [String], out: String = "new") -> [String] {
        ["train", "--data", run.dataPath, "--out", scratch + "/" + out, "--no-progress", "--epochs", "1"] + extra
    }

    func testAModelOrSampleCountBeyondTheNodeIsRefusedInOneLine() throws {
        let node = formatByteCount(NodeMemory.bytes)
        try assertRefused(train(["--hidden", "40000000"]),
                          message: ["training the 10-40000000-20 model (3280000050 parameters, adam) on 37 rows per rank",
                                    "needs ", ", this node has \(node)"])
        try assertRefused(train(["--samples", "16000000", "--batch", "37"]),
                          message: ["on 37 rows per rank x --samples 16000000 needs", "this node has \(node)"])
        try assertRefused(train(["--latent", "1000000000"]), message: ["10-400-1000000000 model", "this node has"])
        try assertRefused(train(["--hidden", "4000000000000000000,4000000000000000000"]),
                          message: ["more parameters than an Int counts", "needs more bytes than a 64-bit count holds"])
    }

    func testEveryRankRefusesTheSameModelUnderMPI() throws {
        try assertRefused(train(["--hidden", "40000000"]), ranks: 2, message: ["10-40000000-20 model", "this node has"])
    }

    /// A batch beyond the 37 rows trains exactly as a batch of all the rows: buffers are
    /// sized by min(batch, rows), and Int.max overflows nothing.
    func testABatchBeyondTheRowsTrainsLikeABatchOfEveryRow() throws {
        assertSucceeded(try runVAEDist(train(["--batch", "37", "--seed", "4"], out: "rows")))
        let reference = try finalParameters(scratch + "/rows")
        for batch in ["1000000000000", "9223372036854775807"] {
            assertSucceeded(try runVAEDist(train(["--batch", batch, "--seed", "4"], out: batch)))
            let huge = try finalParameters(scratch + "/" + batch)
            XCTAssertEqual(huge.step, 1, batch)
            XCTAssertEqual(huge.parameters.map(\.bitPattern), reference.parameters.map(\.bitPattern), batch)
        }
        let twoRanks = try runUnderMPI(ranks: 2, train(["--batch", "9223372036854775807", "--seed", "4"], out: "mpi"))
        assertSucceeded(twoRanks)
        XCTAssertTrue(twoRanks.standardOutput.contains("vae-dist train: 2 ranks"), twoRanks.standardOutput)
        XCTAssertEqual(try finalParameters(scratch + "/mpi").step, 1)
    }

    func testOtherCommandsClampOrRefuseHugeCounts() throws {
        let reference = scratch + "/reference.h5"
        assertSucceeded(try runVAEDist(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", reference]))
        for option in ["--batch", "--block-rows"] {
            let out = scratch + "/embed\(option).h5"
            assertSucceeded(try runVAEDist(["embed", "--checkpoint", run.runDirectory, "--data", run.dataPath, "--out", out,
                                            option, "9223372036854775807"]))
            XCTAssertEqual(try readDataset(out, "mu", as: Float.self).map(\.bitPattern),
                           try readDataset(reference, "mu", as: Float.self).map(\.bitPattern), option)
        }
        let checked = try runVAEDist(["check", run.dataPath, "--batch-size", "9223372036854775807"])
        assertSucceeded(checked)
        XCTAssertTrue(checked.standardOutput.contains("read 37 rows in 1 steps of 37"), checked.standardOutput)
        let picture = scratch + "/samples.png"
        assertSucceeded(try runVAEDist(["sample", "--checkpoint", run.runDirectory, "--out", picture, "--image-shape", "2x5",
                                        "--count", "4", "--columns", "9223372036854775807"]))
        let png = try decodePNG(picture, pixels: false)
        XCTAssertEqual(png.height, 2, "one row of four tiles")
        try assertRefused(["mpi-check", "--floats", "9223372036854775807"],
                          message: ["--floats 9223372036854775807 needs more bytes than a 64-bit count holds"])
        try assertRefused(["mpi-check", "--repetitions", "9223372036854775807"], status: 64,
                          message: ["--repetitions must be 1...1000000"])
        try assertRefused(["bench", "--rows", "9223372036854775807", "--epochs", "1", "--ceiling-seconds", "0"],
                          message: ["--rows 9223372036854775807 synthetic rows", "this node has"])
        try assertRefused(["train", "--data", run.dataPath, "--memory-budget", "1e30G"], status: 64,
                          message: ["--memory-budget must be a byte count"])
    }

    func testTheEstimateCountsWhatTheObjectiveAllocates() {
        for hidden in [[], [6], [7, 5, 3]] {
            for floor: Float? in [nil, 1e-4] {
                var architecture = ModelArchitecture(dataDimension: 10, hiddenSizes: hidden, latentDimension: 2, activation: .relu)
                architecture.learnedVarianceFloor = floor
                XCTAssertEqual(architecture.checkedParameterCount, ModelLayers(architecture).layout.totalCount, "\(hidden)")
            }
        }
        var configuration = smallConfiguration()
        configuration.samples = 3
        let bytes = configuration.trainingBytes(rowsPerRank: 8)
        XCTAssertNotNil(bytes)
        XCTAssertNil(MemoryEstimate.product(Int.max, 2))
        XCTAssertNil(MemoryEstimate.sum([Int.max, 1]))
        configuration.architecture.hiddenSizes = [Int.max / 4]
        XCTAssertNil(configuration.architecture.checkedParameterCount)
        XCTAssertNil(configuration.trainingBytes(rowsPerRank: 8))
    }
}
