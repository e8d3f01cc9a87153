import XCTest
@testable import VAECore

/// The convolutional VAE: its layout (PyTorch's names and shapes), its whole backward
/// against finite differences, and the one-line refusal of an image its convolutions
/// do not fit.
final class ConvolutionalModelTests: XCTestCase {
    func testDefaultModelHasPyTorchsTensors() {
        var architecture = ModelArchitecture(dataDimension: 784, hiddenSizes: [], latentDimension: 20,
                                             activation: .relu, convolution: ConvolutionalShape())
        architecture.fit(dataDimension: 784, imageShape: nil)
        XCTAssertEqual(architecture.convolution?.imageShape, [1, 28, 28], "a square image when the data has none")
        let tensors = architecture.parameterLayout.tensors.map { "\($0.name) \($0.shape)" }
        XCTAssertEqual(tensors, [
            "encoder.conv1.weight [32, 1, 3, 3]", "encoder.conv1.bias [32]",
            "encoder.conv2.weight [64, 32, 3, 3]", "encoder.conv2.bias [64]",
            "encoder.mu.weight [20, 3136]", "encoder.logvar.weight [20, 3136]",
            "encoder.mu.bias [20]", "encoder.logvar.bias [20]",
            "decoder.fc.weight [3136, 20]", "decoder.fc.bias [3136]",
            "decoder.deconv1.weight [64, 32, 3, 3]", "decoder.deconv1.bias [32]",
            "decoder.deconv2.weight [32, 1, 3, 3]", "decoder.deconv2.bias [1]",
        ])
        XCTAssertEqual(architecture.parameterLayout.totalCount, 228_905)
        let layers = ModelLayers(architecture)
        let deconvolutions = layers.decoder.compactMap { $0 as? ConvTranspose2d }
        XCTAssertEqual(deconvolutions.map { [$0.geometry.gridHeight, $0.geometry.imageHeight, $0.geometry.outputPadding.height] },
                       [[7, 14, 1], [14, 28, 1]], "ConvTranspose(k3, s2, p1, output padding 1) twice: 7 -> 14 -> 28")
        XCTAssertEqual(architecture.summary, "conv 1x28x28 32,64 k3 s2 -> 20 relu")
    }

    /// The memory estimate counts the conv model's parameters exactly, and its workspace as at
    /// least what the objective allocates; absurd channel counts give nil, not a trap.
    func testTheMemoryEstimateCoversTheConvolutionalModel() {
        var architecture = ModelArchitecture(dataDimension: 90, hiddenSizes: [], latentDimension: 3, activation: .relu,
                                             convolution: ConvolutionalShape(channels: [4, 5], kernel: 4, stride: 2))
        architecture.fit(dataDimension: 90, imageShape: [3, 6, 5])
        for floor: Float? in [nil, 1e-4] {
            architecture.learnedVarianceFloor = floor
            XCTAssertEqual(architecture.checkedParameterCount, ModelLayers(architecture).layout.totalCount)
        }
        let layers = ModelLayers(architecture)
        let allocated = LayerStack.floatCount(layers.encoder, rows: 8) + LayerStack.floatCount(layers.decoder, rows: 16)
        XCTAssertGreaterThanOrEqual(ELBOObjective.workspaceFloats(architecture: architecture, samples: 2, maxRows: 8) ?? 0,
                                    allocated)
        architecture.convolution?.channels = [1 << 40, 1 << 40]
        XCTAssertNil(architecture.checkedParameterCount)
    }

    func testPyTorchInitUsesTheKernelsFanIn() {
        var architecture = ModelArchitecture(dataDimension: 784, hiddenSizes: [], latentDimension: 20,
                                             activation: .relu, convolution: ConvolutionalShape())
        architecture.fit(dataDimension: 784, imageShape: [1, 28, 28])
        let layout = architecture.parameterLayout
        let parameters = FloatBuffer(count: layout.totalCount)
        ParameterInitialization.pytorch.initialize(parameters.pointer, layout: layout, seed: 7)
        // Bounds 1/sqrt(fan_in): conv2 32 x 9 in; deconv1's weight [64, 32, 3, 3] takes dimension 1,
        // 32 x 9, and its bias the same.
        for (name, fanIn) in [("encoder.conv2.weight", 288), ("decoder.deconv1.weight", 288),
                              ("decoder.deconv1.bias", 288), ("encoder.conv1.weight", 9)] {
            let spec = layout.tensor(named: name)!
            let largest = (0..<spec.count).map { abs(parameters[spec.offset + $0]) }.max()!
            let bound = 1 / Float(fanIn).squareRoot()
            XCTAssertLessThanOrEqual(largest, bound, name)
            XCTAssertGreaterThan(largest, 0.8 * bound, "\(name): uniform over the whole bound")
        }
    }

    func testThreeChannelModelMatchesFiniteDifferences() {
        check(image: [3, 5, 6], channels: [3, 2], activation: .tanh, estimator: .A, samples: 2)
    }

    func testOneChannelModelMatchesFiniteDifferences() {
        // Smooth: ReLU's kinks, met by many units of so small an image, blur a difference
        // quotient (the reference fixtures check the ReLU model's gradient instead).
        check(image: [1, 6, 6], channels: [2, 3], activation: .softplus, estimator: .B, samples: 1)
    }

    func testAnImageTooSmallForTheConvolutionsIsOneLine() {
        var configuration = TrainingConfiguration.defaults()
        configuration.architecture.hiddenSizes = []
        configuration.architecture.convolution = ConvolutionalShape(channels: [8, 8, 8], kernel: 4, stride: 2)
        configuration.architecture.fit(dataDimension: 64, imageShape: [1, 8, 8])
        XCTAssertEqual(configuration.problems, [], "8x8 -> 4x4 -> 2x2 -> 1x1")
        configuration.architecture.convolution?.channels = [8, 8, 8, 8]
        XCTAssertEqual(configuration.problems, ["--architecture conv: the 1x8x8 image is too small for 4 convolutions "
                                                + "with kernel 4, stride 2 and padding 1 (8x8 -> 4x4 -> 2x2 -> 1x1 -> nothing)"])
        configuration.architecture.fit(dataDimension: 1000, imageShape: nil)
        XCTAssertEqual(configuration.problems, ["--architecture conv needs images: the data has no image_shape attribute "
                                                + "and its 1000 values per row are not a square image"])
        configuration.architecture.fit(dataDimension: 1000, imageShape: [3, 10, 10])
        XCTAssertEqual(configuration.problems, ["--architecture conv: the image 3x10x10 does not hold the data's "
                                                + "1000 values per row"])
    }

    private func check(image: [Int], channels: [Int], activation: Activation, estimator: Estimator, samples: Int,
                       step: Float = 1e-2, file: StaticString = #filePath, line: UInt = #line) {
        let dimension = image.reduce(1, *)
        var architecture = ModelArchitecture(dataDimension: dimension, hiddenSizes: [], latentDimension: 3,
                                             activation: activation,
                                             convolution: ConvolutionalShape(channels: channels, kernel: 3, stride: 2))
        architecture.fit(dataDimension: dimension, imageShape: image)
        let settings = ObjectiveSettings(likelihood: BernoulliLikelihood(), estimator: estimator, samples: samples)
        let rows = 3
        let objective = ELBOObjective(architecture: architecture, settings: settings, maxRows: rows)
        let parameters = FloatBuffer(count: objective.layout.totalCount)
        ParameterInitialization.pytorch.initialize(parameters.pointer, layout: objective.layout, seed: 13)
        var values = TestValues(seed: 14)
        let batch = FloatBuffer(values.array(rows * dimension, 0, 1))
        let rowIndices = [2, 7, 30]
        let streams = RandomStreams(seed: 15)
        func loss(_ gradients: UnsafeMutablePointer<Float>?) -> Double {
            rowIndices.withUnsafeBufferPointer { indices in
                objective.evaluate(batch: batch.pointer, rowIndices: indices, count: rows, streams: streams, epoch: 1,
                                   beta: 1, parameters: parameters.pointer, gradients: gradients).loss
            }
        }
        let gradients = FloatBuffer(count: parameters.count)
        _ = loss(gradients.pointer)
        FiniteDifferences.check("conv \(image) \(activation) \(estimator) L=\(samples)", values: parameters.pointer,
                                indices: Array(0..<parameters.count), analytic: gradients.array, step: step,
                                file: file, line: line) { loss(nil) }
    }
}
