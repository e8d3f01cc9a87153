import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// Training with the first layer's dormant units skipped (`--dormant-units skip`, the
/// default) is training with every unit computed, bit for bit, on one rank and on two.
final class DormantUnitsTrainingTests: XCTestCase {
    private var scratch = ""
    private var data = ""

    /// Rows close to one point: about half of the first layer's units are off on all of
    /// them from the start, so they never get a gradient and become dormant after epoch 1.
    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        let noise = syntheticFeatures(rows: 48, features: 16, seed: 3)
        let features = noise.enumerated().map { index, value in 0.3 + 0.4 * Float(index % 16) / 16 + 0.05 * value }
        try writeDataFile(data, features: features, rows: 48)
    }

    private func configuration() -> TrainingConfiguration {
        var configuration = TrainingConfiguration(architecture: ModelArchitecture(
            dataDimension: 16, hiddenSizes: [32], latentDimension: 2, activation: .relu))
        configuration.globalBatch = 16
        configuration.epochs = 4
        configuration.learningRate = 0.01
        configuration.seed = 5
        return configuration
    }

    private func trainInProcess(_ choice: DormantUnitsChoice, out: String) throws -> [EpochMetrics] {
        var options = TrainingOptions(configuration: configuration(), runDirectory: out)
        options.dataPath = data
        options.progress = .off
        options.dormantUnits = choice
        return try TrainingRun(options: options, communicator: SingleProcessCommunicator(), log: { _ in }).run()
    }

    private func skipUnlessTheKernelSumsIndependentlyOfWidth() throws {
        let first = Dense(inFeatures: 16, outFeatures: 32, weightOffset: 0, biasOffset: 16 * 32)
        guard DormantUnits.compactProductMatchesDense(layer: first, rowCounts: [16, 8]) else {
            throw XCTSkip("this BLAS kernel (\(BLASLibrary.coreName)) sums differently by width: training computes every unit")
        }
    }

    func testSkippingDormantUnitsTrainsBitwiseLikeComputingThemInOneProcess() throws {
        try skipUnlessTheKernelSumsIndependentlyOfWidth()
        let skipped = try trainInProcess(.skip, out: scratch + "/skip")
        let computed = try trainInProcess(.compute, out: scratch + "/compute")
        let dormant = skipped.map { $0.dormantUnits ?? -1 }
        // Counted at each epoch's end: skipped from the next epoch on.
        XCTAssertGreaterThan(dormant.first ?? 0, 4, "units off on every row become dormant after epoch 1: \(dormant)")
        XCTAssertEqual(computed.map(\.dormantUnits), [nil, nil, nil, nil])
        XCTAssertEqual(skipped.map(\.trainNegativeELBO), computed.map(\.trainNegativeELBO))
        let (a, b) = (try finalParameters(scratch + "/skip"), try finalParameters(scratch + "/compute"))
        XCTAssertEqual(a.parameters.map(\.bitPattern), b.parameters.map(\.bitPattern))
        for (name, state) in b.optimizerState {
            XCTAssertEqual(a.optimizerState[name]?.map(\.bitPattern), state.map(\.bitPattern), name)
        }
    }

    func testSkippingDormantUnitsTrainsBitwiseLikeComputingThemOnTwoRanks() throws {
        try skipUnlessTheKernelSumsIndependentlyOfWidth()
        let first = try trainUnderMPI(ranks: 2, configuration(), data: data, out: scratch + "/skip")
        XCTAssertTrue(first.standardOutput.contains("dormant  first-layer ReLU units skipped"), first.standardOutput)
        let second = try trainUnderMPI(ranks: 2, configuration(), data: data, out: scratch + "/compute",
                                       extraArguments: ["--dormant-units", "compute"])
        XCTAssertTrue(second.standardOutput.contains("computed (--dormant-units compute)"), second.standardOutput)
        let dormant = try readMetrics(scratch + "/skip").map { $0.dormantUnits ?? -1 }
        XCTAssertGreaterThan(dormant.last ?? 0, 4, "\(dormant)")
        let (a, b) = (try finalParameters(scratch + "/skip"), try finalParameters(scratch + "/compute"))
        XCTAssertEqual(a.parameters.map(\.bitPattern), b.parameters.map(\.bitPattern))
    }

    /// OpenBLAS's AVX2 kernels sum the 784-400 layer's elements in an order that depends
    /// on the matrix width: skipping would change bits (and resuming would no longer be
    /// bitwise), so the check at start turns it off and the banner says why. (`--gemm
    /// openblas`: `auto` would take oneDNN over that slower kernel.)
    func testAKernelWhoseSumsDependOnWidthComputesEveryUnit() throws {
        let wide = scratch + "/wide.h5"
        try writeDataFile(wide, features: syntheticFeatures(rows: 40, features: 784, seed: 9), rows: 40, chunkRows: 40)
        let result = try runVAEDist(["train", "--data", wide, "--out", scratch + "/haswell", "--no-progress",
                                     "--epochs", "1", "--batch", "32", "--gemm", "openblas"],
                                    environment: ["VAE_DIST_BLAS_CORETYPE": "Haswell", "OPENBLAS_NUM_THREADS": "1"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("BLAS kernel Haswell"), result.standardOutput)
        XCTAssertTrue(result.standardOutput.contains("computed: this BLAS kernel's sums depend on the matrix width"),
                      result.standardOutput)
    }
}
