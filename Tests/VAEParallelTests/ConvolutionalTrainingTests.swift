import Foundation
import XCTest
@testable import VAECore
import VAEIO
import VAETestSupport
@testable import VAEParallel

/// The convolutional model through the whole program: N ranks train the one-rank model,
/// a resumed run is the uninterrupted one, and the model commands run on its checkpoints.
final class ConvolutionalTrainingTests: XCTestCase {
    private var scratch = ""
    private var data = ""

    override func setUpWithError() throws {
        scratch = try makeScratchDirectory(self)
        data = scratch + "/data.h5"
        // 64 values per row and no image_shape: the model takes 1x8x8 images.
        try writeDataFile(data, features: syntheticFeatures(rows: 37, features: 64, seed: 11), rows: 37)
    }

    func testTwoAndThreeRanksMatchOneRank() throws {
        let configuration = smallConvolutionalConfiguration(epochs: 3)
        _ = try trainInProcess(configuration, data: data, out: scratch + "/one")
        let serial = try finalParameters(scratch + "/one")
        XCTAssertEqual(serial.configuration.architecture.convolution?.imageShape, [1, 8, 8])
        XCTAssertEqual(try XCTUnwrap(serial.configuration.architecture.parameterLayout.tensor(named: "decoder.deconv2.weight")).shape,
                       [3, 1, 3, 3])
        for ranks in [2, 3] {
            let out = scratch + "/ranks-\(ranks)"
            _ = try trainUnderMPI(ranks: ranks, configuration, data: data, out: out)
            let parallel = try finalParameters(out)
            XCTAssertEqual(parallel.step, serial.step)
            // Summation order only (DistributedTrainingTests): 15 steps of lr 0.01 move a parameter
            // by at most 15 * 0.01 * (a few 1e-7) through the ranks' other order; 1e-5 is the margin.
            let worst = zip(parallel.parameters, serial.parameters).map { abs($0 - $1) }.max() ?? .infinity
            XCTAssertLessThanOrEqual(worst, 1e-5, "n = \(ranks): parameters differ by up to \(worst)")
        }
    }

    func testTwoEpochsPlusResumedTwoEqualFourStraight() throws {
        let binary = try vaeDistBinary()
        func train(_ arguments: [String]) throws {
            let result = try runProcess(binary, arguments, environment: childEnvironment(), timeout: 60)
            XCTAssertEqual(result.status, 0, result.standardError)
        }
        try train(trainArguments(smallConvolutionalConfiguration(epochs: 4), data: data, out: scratch + "/straight"))
        try train(trainArguments(smallConvolutionalConfiguration(epochs: 2), data: data, out: scratch + "/resumed"))
        try train(["train", "--data", data, "--out", scratch + "/resumed", "--no-progress", "--resume", "latest",
                   "--epochs", "4"])
        let a = try finalParameters(scratch + "/straight"), b = try finalParameters(scratch + "/resumed")
        XCTAssertEqual(b.epoch, 4)
        XCTAssertEqual(b.parameters.map(\.bitPattern), a.parameters.map(\.bitPattern))
        for (name, values) in a.optimizerState {
            XCTAssertEqual(b.optimizerState[name]?.map(\.bitPattern), values.map(\.bitPattern), name)
        }
    }

    func testEvalEmbedSampleAndReconstructRunOnAConvolutionalCheckpoint() throws {
        let run = scratch + "/run"
        _ = try trainInProcess(smallConvolutionalConfiguration(), data: data, out: run)
        let binary = try vaeDistBinary()
        let commands: [[String]] = [
            ["eval", "--checkpoint", run, "--data", data, "--importance", "20", "--json"],
            ["embed", "--checkpoint", run, "--data", data],
            ["sample", "--checkpoint", run, "--out", scratch + "/sample.png", "--count", "4"],
            ["reconstruct", "--checkpoint", run, "--data", data, "--out", scratch + "/reconstruct.png", "--count", "4"],
        ]
        for command in commands {
            let result = try runProcess(binary, command, environment: childEnvironment(), timeout: 60)
            XCTAssertEqual(result.status, 0, "\(command[0]): \(result.standardError)")
        }
        for file in ["/sample.png", "/reconstruct.png", "/run/embeddings.h5"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: scratch + file), file)
        }
        // The embeddings are the encoder's: mu of row 5 as ELBOObjective.encode gives it.
        let checkpoint = try finalParameters(run)
        let objective = ELBOObjective(architecture: checkpoint.configuration.architecture,
                                      settings: checkpoint.configuration.objectiveSettings, maxRows: 1)
        let row = syntheticFeatures(rows: 37, features: 64, seed: 11)[(5 * 64)..<(6 * 64)].map { $0 }
        var mu = [Float](repeating: 0, count: 2), logVariance = [Float](repeating: 0, count: 2)
        checkpoint.parameters.withUnsafeBufferPointer {
            objective.encode(batch: row, count: 1, parameters: $0.baseAddress!, mu: &mu, logVariance: &logVariance)
        }
        let embeddings = try HDF5File.open(run + "/embeddings.h5")
        let stored: [Float] = try embeddings.root().openDataset("mu").read()
        let index: [Int64] = try embeddings.root().openDataset("index").read()
        let position = try XCTUnwrap(index.firstIndex(of: 5))
        // embed encodes rows in chunks of its own size: the same sums, whatever the GEMM's blocking.
        for (a, b) in zip(stored[(2 * position)..<(2 * position + 2)], mu) { XCTAssertEqual(a, b, accuracy: 1e-5 * max(1, abs(b))) }
    }

    /// 3-channel 32x32 images from numpy ([N, H, W, 3]): prepared, trained on by three
    /// stride-2 convolutions (32 -> 16 -> 8 -> 4), reconstructed in colour.
    func testThreeChannelImagesFromNPYTrainEndToEnd() throws {
        let npy = scratch + "/rgb.npy"
        var state: UInt64 = 3
        var pixels: [UInt8] = []
        for _ in 0..<24 {
            // Each image a colour gradient with noise, so the model has something to learn.
            for y in 0..<32 {
                for x in 0..<32 {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    let noise = Int(state >> 60)
                    pixels += [UInt8(min(255, x * 8 + noise)), UInt8(min(255, y * 8 + noise)), UInt8(128 + noise)]
                }
            }
        }
        try Data(npyBytes(descr: "|u1", shape: [24, 32, 32, 3], payload: pixels)).write(to: URL(fileURLWithPath: npy))
        let prepared = scratch + "/rgb.h5"
        _ = try DataPreparation.prepareNPY(npy, output: prepared)
        var configuration = smallConvolutionalConfiguration(epochs: 3)
        configuration.architecture.convolution?.channels = [4, 6, 8]
        let run = scratch + "/rgb-run"
        let trained = try runProcess(try vaeDistBinary(), trainArguments(configuration, data: prepared, out: run),
                                     environment: childEnvironment(), timeout: 120)
        XCTAssertEqual(trained.status, 0, trained.standardError)
        XCTAssertTrue(trained.standardOutput.contains("conv 3x32x32 4,6,8 k3 s2 -> 2 relu"), trained.standardOutput)
        let metrics = try readMetrics(run)
        XCTAssertEqual(metrics.count, 3)
        XCTAssertLessThan(metrics[2].trainNegativeELBO, metrics[0].trainNegativeELBO, "it learns")
        let checkpoint = try finalParameters(run)
        let layout = checkpoint.configuration.architecture.parameterLayout
        XCTAssertEqual(checkpoint.configuration.architecture.convolution?.imageShape, [3, 32, 32])
        XCTAssertEqual(layout.tensor(named: "encoder.conv1.weight")?.shape, [4, 3, 3, 3])
        XCTAssertEqual(layout.tensor(named: "encoder.mu.weight")?.shape, [2, 8 * 4 * 4])
        XCTAssertEqual(layout.tensor(named: "decoder.deconv3.weight")?.shape, [4, 3, 3, 3])
        let out = scratch + "/rgb.png"
        let drawn = try runProcess(try vaeDistBinary(), ["reconstruct", "--checkpoint", run, "--data", prepared, "--count", "2",
                                                         "--out", out], environment: childEnvironment(), timeout: 60)
        XCTAssertEqual(drawn.status, 0, drawn.standardError)
        XCTAssertTrue(drawn.standardOutput.contains("32x32 RGB tiles"), drawn.standardOutput)
        let png = try decodePNG(out, pixels: false)
        XCTAssertEqual([png.color_type, png.channels], [2, 3])
    }
}
