import Foundation
import XCTest
import VAETestSupport
import VAECore
import VAEIO

/// `vae-dist sample`, `reconstruct` and `manifold` end to end: a model trained
/// here, the binary run as a user runs it, the PNG decoded independently and
/// its pixels compared with the model's numbers.
final class PictureCommandTests: XCTestCase {
    func testSampleDrawsTheDecoderMeansOfPriorDrawsInAGrid() throws {
        let directory = try makeScratchDirectory(self)
        let (run, _) = try trainPictureModel(in: directory)
        let out = directory + "/samples.png"
        let result = try runVAEDist(["sample", "--checkpoint", run, "--out", out, "--count", "10", "--seed", "7", "--temperature", "0.5"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("10 prior draws"), result.standardOutput)

        // 10 draws: 4 columns x 3 rows of 4x4 tiles, 2-pixel separators, no outer border.
        let png = try decodePNG(out)
        XCTAssertEqual([png.width, png.height, png.color_type], [4 * 4 + 3 * 2, 3 * 4 + 2 * 2, 0])
        let model = PictureModel(checkpoint: try finalParameters(run))
        let draws = Pictures.priorDraws(count: 10, latentDimension: 2, seed: 7, temperature: 0.5)
        let means = model.pixelMeans(latentCodes: draws)
        for tile in 0..<10 {
            let (top, left) = ((tile / 4) * 6, (tile % 4) * 6)
            for y in 0..<4 {
                for x in 0..<4 {
                    XCTAssertEqual(png.gray(top + y, left + x), expectedByte(means[tile * 16 + y * 4 + x]), "tile \(tile) (\(y), \(x))")
                }
            }
        }
        XCTAssertEqual(png.gray(4, 0), 128, "separators are mid-gray")
        XCTAssertEqual(png.gray(13, 20), 128, "the two unused cells of the last row are mid-gray")
    }

    func testPriorDrawsAreStandardNormalScaledByTemperatureAndApartFromEvaluationNoise() {
        let draws = Pictures.priorDraws(count: 4000, latentDimension: 5, seed: 1, temperature: 1)
        let mean = draws.reduce(0, +) / Float(draws.count)
        let variance = draws.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Float(draws.count)
        // 20000 N(0, 1) values: the mean's standard error is 0.007 and the variance's 0.01; 5 of them each.
        XCTAssertEqual(mean, 0, accuracy: 0.035)
        XCTAssertEqual(variance, 1, accuracy: 0.05)
        let cooler = Pictures.priorDraws(count: 4000, latentDimension: 5, seed: 1, temperature: 0.25)
        XCTAssertEqual(cooler, draws.map { $0 * 0.25 })
        // Evaluation noise of data row 0 is a different draw.
        var rowZero = [Float](repeating: 0, count: 5)
        RandomStreams(seed: 1).normals(purpose: .evaluationNoise, epoch: 0, row: 0, draw: 0, count: 5, into: &rowZero)
        XCTAssertNotEqual(Array(draws.prefix(5)), rowZero)
    }

    func testSampleIsAFunctionOfTheSeed() throws {
        let directory = try makeScratchDirectory(self)
        let (run, _) = try trainPictureModel(in: directory)
        for (name, seed) in [("a", "1"), ("b", "1"), ("c", "2")] {
            let result = try runVAEDist(["sample", "--checkpoint", run, "--out", "\(directory)/\(name).png", "--seed", seed])
            XCTAssertEqual(result.status, 0, result.standardError)
        }
        let bytes = try ["a", "b", "c"].map { try Data(contentsOf: URL(fileURLWithPath: "\(directory)/\($0).png")) }
        XCTAssertEqual(bytes[0], bytes[1])
        XCTAssertNotEqual(bytes[0], bytes[2])
    }

    func testFileSaysTheSampleGridIsAnEightBitGrayscalePNGOfTheRightSize() throws {
        let fileTool = try Prerequisites.tool("file", package: "file", for: "file's view of the sample grid")
        let directory = try makeScratchDirectory(self)
        let (run, _) = try trainPictureModel(in: directory)
        XCTAssertEqual(try runVAEDist(["sample", "--checkpoint", run, "--out", directory + "/s.png"]).status, 0)
        let result = try runProcess(fileTool, ["-b", directory + "/s.png"])
        // 64 draws: 8 x 8 tiles of 4x4 with 2-pixel separators.
        XCTAssertTrue(result.standardOutput.hasPrefix("PNG image data, 46 x 46, 8-bit grayscale"), result.standardOutput)
    }

    func testReconstructShowsInputsAboveTheirReconstructions() throws {
        let directory = try makeScratchDirectory(self)
        let (run, data) = try trainPictureModel(in: directory)
        let out = directory + "/reconstructions.png"
        let result = try runVAEDist(["reconstruct", "--checkpoint", run, "--data", data, "--rows", "0,3,5", "--columns", "2", "--out", out])
        XCTAssertEqual(result.status, 0, result.standardError)

        // Two bands (inputs row over reconstructions row) of 2 columns: gaps 2, 8, 2.
        let png = try decodePNG(out)
        XCTAssertEqual([png.width, png.height], [2 * 4 + 2, 4 * 4 + 2 + 8 + 2])
        let checkpoint = try finalParameters(run)
        let objective = ELBOObjective(architecture: checkpoint.configuration.architecture,
                                      settings: checkpoint.configuration.objectiveSettings, maxRows: 3)
        let rows = [0, 3, 5]
        let features = syntheticFeatures(rows: 40, features: 16, seed: 5)
        let inputs = rows.flatMap { features[($0 * 16)..<($0 * 16 + 16)] }
        var mu = [Float](repeating: 0, count: 6)
        var logVariance = [Float](repeating: 0, count: 6)
        var logits = [Float](repeating: 0, count: 48)
        checkpoint.parameters.withUnsafeBufferPointer { parameters in
            objective.encode(batch: inputs, count: 3, parameters: parameters.baseAddress!, mu: &mu, logVariance: &logVariance)
            objective.decode(latentCodes: mu, count: 3, parameters: parameters.baseAddress!, output: &logits)
        }
        let bandTop = [0, 4 + 2 + 4 + 8]
        for (position, _) in rows.enumerated() {
            let top = bandTop[position / 2]
            let left = (position % 2) * 6
            for y in 0..<4 {
                for x in 0..<4 {
                    let index = position * 16 + y * 4 + x
                    XCTAssertEqual(png.gray(top + y, left + x), expectedByte(inputs[index]), "input \(position) (\(y), \(x))")
                    XCTAssertEqual(png.gray(top + 6 + y, left + x), expectedByte(Activation.sigmoid(logits[index])),
                                   "reconstruction \(position) (\(y), \(x))")
                }
            }
        }
    }

    func testManifoldDecodesAGridAtNormalQuantiles() throws {
        let directory = try makeScratchDirectory(self)
        let (run, _) = try trainPictureModel(in: directory)
        let out = directory + "/manifold.png"
        let result = try runVAEDist(["manifold", "--checkpoint", run, "--steps", "5", "--out", out])
        XCTAssertEqual(result.status, 0, result.standardError)
        let png = try decodePNG(out)
        XCTAssertEqual([png.width, png.height], [20, 20], "5 x 5 tiles of 4x4, no separators")
        // Quantiles 0.1 ... 0.9; Phi^-1(0.9) = 1.2815515655446004. z1 grows to the right, z2 upwards.
        let edge: Float = 1.2815515655446004
        let model = PictureModel(checkpoint: try finalParameters(run))
        let corners: [(top: Int, left: Int, z: [Float])] = [(0, 0, [-edge, edge]), (0, 16, [edge, edge]),
                                                            (16, 0, [-edge, -edge]), (16, 16, [edge, -edge]), (8, 8, [0, 0])]
        for corner in corners {
            let means = model.pixelMeans(latentCodes: corner.z)
            for y in 0..<4 {
                for x in 0..<4 {
                    XCTAssertEqual(png.gray(corner.top + y, corner.left + x), expectedByte(means[y * 4 + x]), "z \(corner.z) (\(y), \(x))")
                }
            }
        }
    }

    func testManifoldRefusesALatentSpaceThatIsNotTwoDimensional() throws {
        let directory = try makeScratchDirectory(self)
        let (run, _) = try trainPictureModel(in: directory, features: 10, latent: 3)
        let result = try runVAEDist(["manifold", "--checkpoint", run, "--out", directory + "/m.png"])
        XCTAssertEqual(result.status, 1, result.standardError)
        XCTAssertEqual(result.errorLines(containing: "vae-dist: error:").count, 1, result.standardError)
        XCTAssertTrue(result.standardError.contains("only for a 2-dimensional latent space"), result.standardError)
        XCTAssertTrue(result.standardError.contains("latent dimension 3"), result.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/m.png"))
    }

    func testBadOptionsAreRefusedBeforeAnyWork() throws {
        let cases: [([String], String)] = [
            (["sample", "--count", "0"], "--count must be 1...4096"),
            (["sample", "--temperature", "0"], "--temperature must be a positive number"),
            (["sample", "--columns", "0"], "--columns must be at least 1"),
            (["sample", "--image-shape", "3y3"], "--image-shape must be HxW"),
            (["manifold", "--steps", "0"], "--steps must be 1...100"),
            (["manifold", "--range", "0.9:0.1"], "--range must be LO:HI"),
            (["manifold", "--range", "0:0.5"], "--range must be LO:HI"),
            (["reconstruct", "--data", "d.h5", "--count", "0"], "--count must be 1...1024"),
            (["reconstruct", "--data", "d.h5", "--rows", "4:4"], "--rows must be"),
            (["reconstruct", "--data", "d.h5", "--rows", "1,x"], "--rows must be"),
            (["reconstruct", "--data", "d.h5", "--rows", "1", "--count", "3"], "without --count or --first"),
        ]
        for (arguments, message) in cases {
            // The checkpoint does not exist: validation must refuse the options before anything is read.
            let result = try runVAEDist(arguments + ["--checkpoint", "/nonexistent/run", "--out", "/tmp/never.png"])
            XCTAssertEqual(result.status, 64, "\(arguments)")
            XCTAssertTrue(result.standardError.contains(message), "\(arguments): \(result.standardError)")
        }
    }

    func testRowsThatNeedAnImageShapeAskForOne() throws {
        let directory = try makeScratchDirectory(self)
        let (run, _) = try trainPictureModel(in: directory, features: 10)
        let refused = try runVAEDist(["sample", "--checkpoint", run, "--out", directory + "/s.png"])
        XCTAssertEqual(refused.status, 1, refused.standardError)
        XCTAssertTrue(refused.standardError.contains("rows of 10 values: pass --image-shape"), refused.standardError)
        let wrong = try runVAEDist(["sample", "--checkpoint", run, "--out", directory + "/s.png", "--image-shape", "3x3"])
        XCTAssertTrue(wrong.standardError.contains("--image-shape 3x3 has 9 values per image, but the model's rows have 10"), wrong.standardError)

        let result = try runVAEDist(["sample", "--checkpoint", run, "--out", directory + "/s.png", "--image-shape", "2x5", "--count", "4"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let png = try decodePNG(directory + "/s.png")
        XCTAssertEqual([png.width, png.height], [2 * 5 + 2, 2 * 2 + 2])
    }

    /// Trained on images [rows, 2, 5] (prepared from NPY: image_shape [2, 5]), the checkpoint
    /// keeps the shape, and `sample` draws 2x5 tiles with neither --image-shape nor the data.
    func testTheCheckpointKeepsItsTrainingDataImageShape() throws {
        let directory = try makeScratchDirectory(self)
        let npy = directory + "/images.npy"
        let pixels = syntheticFeatures(rows: 37, features: 10, seed: 71).map { UInt8($0 * 255) }
        try Data(npyBytes(descr: "|u1", shape: [37, 2, 5], payload: pixels)).write(to: URL(fileURLWithPath: npy))
        let data = directory + "/images.h5"
        _ = try DataPreparation.prepareNPY(npy, output: data)
        let run = directory + "/run"
        let trained = try runVAEDist(trainArguments(smallConfiguration(epochs: 1), data: data, out: run))
        XCTAssertEqual(trained.status, 0, trained.standardError)
        XCTAssertEqual(try finalParameters(run).imageShape, ImageShape(height: 2, width: 5))

        let result = try runVAEDist(["sample", "--checkpoint", run, "--out", directory + "/s.png", "--count", "4"])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("2x5 tiles"), result.standardOutput)
        let png = try decodePNG(directory + "/s.png")
        XCTAssertEqual([png.width, png.height], [2 * 5 + 2, 2 * 2 + 2])
    }

    func testAnRGBImageShapeWritesAnRGBPNG() throws {
        let directory = try makeScratchDirectory(self)
        let (run, _) = try trainPictureModel(in: directory, features: 12)
        let out = directory + "/rgb.png"
        let result = try runVAEDist(["sample", "--checkpoint", run, "--out", out, "--image-shape", "3x2x2", "--count", "2"])
        XCTAssertEqual(result.status, 0, result.standardError)
        let png = try decodePNG(out)
        XCTAssertEqual([png.width, png.height, png.color_type, png.channels], [2 * 2 + 2, 2, 2, 3])
        let means = PictureModel(checkpoint: try finalParameters(run))
            .pixelMeans(latentCodes: Pictures.priorDraws(count: 2, latentDimension: 2, seed: 0, temperature: 1))
        // Second tile, pixel (y 1, x 0): values 2, 6 and 10 of the row (channels first: c * 4 + y * 2 + x), at x = 2 + 2.
        let offset = (1 * png.width + 4) * 3
        XCTAssertEqual(Array(png.pixels![offset..<(offset + 3)]), [means[12 + 2], means[12 + 6], means[12 + 10]].map(expectedByte))
    }

    func testScaleDrawsEveryPixelAsABlock() throws {
        let directory = try makeScratchDirectory(self)
        let (run, _) = try trainPictureModel(in: directory)
        let plain = try runVAEDist(["sample", "--checkpoint", run, "--out", directory + "/1.png", "--count", "4"])
        let large = try runVAEDist(["sample", "--checkpoint", run, "--out", directory + "/3.png", "--count", "4", "--scale", "3"])
        XCTAssertEqual(plain.status, 0, plain.standardError)
        XCTAssertEqual(large.status, 0, large.standardError)
        XCTAssertTrue(large.standardOutput.contains("30x30 pixels"), large.standardOutput)
        let small = try decodePNG(directory + "/1.png"), big = try decodePNG(directory + "/3.png")
        XCTAssertEqual([big.width, big.height], [3 * small.width, 3 * small.height])
        for y in 0..<big.height {
            for x in 0..<big.width { XCTAssertEqual(big.gray(y, x), small.gray(y / 3, x / 3), "(\(y), \(x))") }
        }
        let refused = try runVAEDist(["sample", "--checkpoint", run, "--out", directory + "/0.png", "--scale", "0"])
        XCTAssertTrue(refused.standardError.contains("--scale must be 1...64, got 0"), refused.standardError)
    }

    /// RGB images from numpy ([N, H, W, 3]): prepared, trained on, and drawn in colour
    /// with no --image-shape, the channels where the picture had them.
    func testRGBImagesFromNPYAreDrawnInColour() throws {
        let directory = try makeScratchDirectory(self)
        let npy = directory + "/rgb.npy"
        // Every image: red ramps left to right, green is 0, blue 255.
        var pixels: [UInt8] = []
        for _ in 0..<40 { for _ in 0..<4 { for x in 0..<4 { pixels += [UInt8(x * 85), 0, 255] } } }
        try Data(npyBytes(descr: "|u1", shape: [40, 4, 4, 3], payload: pixels)).write(to: URL(fileURLWithPath: npy))
        let data = directory + "/rgb.h5"
        _ = try DataPreparation.prepareNPY(npy, output: data)
        var configuration = smallConfiguration(epochs: 1)
        configuration.architecture.dataDimension = 48
        let run = directory + "/run"
        XCTAssertEqual(try runVAEDist(trainArguments(configuration, data: data, out: run)).status, 0)
        let out = directory + "/r.png"
        let result = try runVAEDist(["reconstruct", "--checkpoint", run, "--data", data, "--count", "1", "--out", out])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("4x4 RGB tiles"), result.standardOutput)
        let png = try decodePNG(out)
        XCTAssertEqual([png.width, png.color_type, png.channels], [4, 2, 3])
        // The input tile (top row of the band) is the image as numpy held it.
        for x in 0..<4 {
            XCTAssertEqual(Array(png.pixels![(x * 3)..<(x * 3 + 3)]), [UInt8(x * 85), 0, 255], "pixel (0, \(x))")
        }
    }

    func testGaussianMeansOfUnboundedDataAreScaledMinMaxAndSaySo() throws {
        let directory = try makeScratchDirectory(self)
        let unbounded = syntheticFeatures(rows: 40, features: 16, seed: 9).map { $0 * 6 - 3 }
        let (run, data) = try trainPictureModel(in: directory, likelihood: .gaussian, data: unbounded)
        let out = directory + "/r.png"
        let result = try runVAEDist(["reconstruct", "--checkpoint", run, "--data", data, "--count", "8", "--out", out])
        XCTAssertEqual(result.status, 0, result.standardError)
        XCTAssertTrue(result.standardOutput.contains("scaled min-max to [0, 1]"), result.standardOutput)
        let png = try decodePNG(out)
        // Inputs span [-3, 3): the smallest shown value is black, the largest white.
        XCTAssertEqual(png.pixels!.min(), 0)
        XCTAssertEqual(png.pixels!.max(), 255)
    }

    func testUnderALauncherOnlyRankZeroWrites() throws {
        let directory = try makeScratchDirectory(self)
        let (run, _) = try trainPictureModel(in: directory)
        let other = try runVAEDist(["sample", "--checkpoint", run, "--out", directory + "/r1.png"],
                                   environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "1"])
        XCTAssertEqual(other.status, 0, other.standardError)
        XCTAssertFalse(FileManager.default.fileExists(atPath: directory + "/r1.png"))
        let root = try runVAEDist(["sample", "--checkpoint", run, "--out", directory + "/r0.png"],
                                  environment: ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0"])
        XCTAssertEqual(root.status, 0, root.standardError)
        XCTAssertTrue(FileManager.default.fileExists(atPath: directory + "/r0.png"))
    }
}
