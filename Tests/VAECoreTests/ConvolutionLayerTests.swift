import XCTest
@testable import VAECore

/// Conv2d and ConvTranspose2d: the forward against a direct sum with PyTorch's layouts,
/// both backwards against finite differences, and a range of units against all of them.
final class ConvolutionLayerTests: XCTestCase {
    private let rows = 2

    /// Conv2d 2 -> 3 channels of a 5 x 6 image, k3 s2 p1 (grid 3 x 3), and k2 s1 p0 (grid 4 x 5).
    private func convolutions() -> [Conv2d] {
        [(3, 2, 1), (2, 1, 0)].map { kernel, stride, padding in
            let geometry = ConvolutionGeometry(imageHeight: 5, imageWidth: 6, kernel: kernel, stride: stride,
                                               padding: padding)!
            return Conv2d(inChannels: 2, outChannels: 3, geometry: geometry, weightOffset: 0,
                          biasOffset: 3 * 2 * kernel * kernel)
        }
    }

    /// ConvTranspose2d 3 -> 2 channels of a 3 x 3 grid, k3 s2 p1 output padding 1 (image 6 x 6),
    /// and k2 s1 p0 (image 4 x 4).
    private func transposedConvolutions() -> [ConvTranspose2d] {
        [(3, 2, 1, 1), (2, 1, 0, 0)].map { kernel, stride, padding, outputPadding in
            let geometry = ConvolutionGeometry(transposingGridHeight: 3, gridWidth: 3, kernel: kernel, stride: stride,
                                               padding: padding, outputPadding: outputPadding)!
            return ConvTranspose2d(inChannels: 3, outChannels: 2, geometry: geometry, weightOffset: 0,
                                   biasOffset: 3 * 2 * kernel * kernel)
        }
    }

    func testTransposedGeometryFollowsPyTorch() {
        let geometry = ConvolutionGeometry(transposingGridHeight: 7, gridWidth: 7, kernel: 3, stride: 2, padding: 1,
                                           outputPadding: 1)!
        XCTAssertEqual([geometry.imageHeight, geometry.imageWidth], [14, 14])  // (7 - 1) 2 - 2 + 3 + 1
        XCTAssertEqual(geometry.outputPadding.height, 1)
        XCTAssertNil(ConvolutionGeometry(transposingGridHeight: 7, gridWidth: 7, kernel: 3, stride: 2, padding: 1,
                                         outputPadding: 2), "output padding must be below the stride")
        XCTAssertNil(ConvolutionGeometry(imageHeight: 2, imageWidth: 2, kernel: 5, stride: 1, padding: 1),
                     "a kernel larger than the padded image")
    }

    func testConvolutionForwardIsTheDirectSum() {
        for layer in convolutions() {
            let g = layer.geometry
            let (parameters, input) = values(layer, seed: 41)
            let output = run(layer, input: input, parameters: parameters)
            for row in 0..<rows {
                for gy in 0..<g.gridHeight {
                    for gx in 0..<g.gridWidth {
                        for o in 0..<3 {
                            var sum = Double(parameters[layer.biasOffset + o])
                            for i in 0..<2 {
                                for ky in 0..<g.kernel {
                                    for kx in 0..<g.kernel {
                                        let (y, x) = (gy * g.stride - g.padding + ky, gx * g.stride - g.padding + kx)
                                        guard y >= 0, y < g.imageHeight, x >= 0, x < g.imageWidth else { continue }
                                        let w = parameters[((o * 2 + i) * g.kernel + ky) * g.kernel + kx]  // [out, in, k, k]
                                        sum += Double(w) * Double(input[((row * g.imageHeight + y) * g.imageWidth + x) * 2 + i])
                                    }
                                }
                            }
                            let got = output[((row * g.gridHeight + gy) * g.gridWidth + gx) * 3 + o]
                            // A sum of at most 19 products of O(1) values in float32.
                            XCTAssertEqual(Double(got), sum, accuracy: 1e-5)
                        }
                    }
                }
            }
        }
    }

    func testTransposedConvolutionForwardIsTheDirectSum() {
        for layer in transposedConvolutions() {
            let g = layer.geometry
            let (parameters, input) = values(layer, seed: 42)
            let output = run(layer, input: input, parameters: parameters)
            var expected = [Double](repeating: 0, count: rows * g.imagePixels * 2)
            for row in 0..<rows {
                for pixel in 0..<g.imagePixels { for o in 0..<2 { expected[(row * g.imagePixels + pixel) * 2 + o] = Double(parameters[layer.biasOffset + o]) } }
                for gy in 0..<g.gridHeight {
                    for gx in 0..<g.gridWidth {
                        for ky in 0..<g.kernel {
                            for kx in 0..<g.kernel {
                                let (y, x) = (gy * g.stride - g.padding + ky, gx * g.stride - g.padding + kx)
                                guard y >= 0, y < g.imageHeight, x >= 0, x < g.imageWidth else { continue }
                                for i in 0..<3 {
                                    for o in 0..<2 {
                                        let w = parameters[((i * 2 + o) * g.kernel + ky) * g.kernel + kx]  // [in, out, k, k]
                                        expected[((row * g.imageHeight + y) * g.imageWidth + x) * 2 + o] +=
                                            Double(w) * Double(input[((row * g.gridHeight + gy) * g.gridWidth + gx) * 3 + i])
                                    }
                                }
                            }
                        }
                    }
                }
            }
            // Sums of at most 13 products of O(1) values in float32.
            for (got, want) in zip(output, expected) { XCTAssertEqual(Double(got), want, accuracy: 1e-5) }
        }
    }

    func testConvolutionBackwardMatchesFiniteDifferences() {
        for layer in convolutions() { checkBackward(layer, seed: 43) }
    }

    func testTransposedConvolutionBackwardMatchesFiniteDifferences() {
        for layer in transposedConvolutions() { checkBackward(layer, seed: 44) }
    }

    func testWeightBackwardOverChannelRangesCoversTheWholeGradient() {
        for layer in convolutions() as [any Layer] + transposedConvolutions() {
            var generator = TestValues(seed: 45)
            let (parameters, input) = values(layer, seed: 46)
            let outputGradient = FloatBuffer(generator.array(rows * layer.outputWidth))
            let count = parameters.count
            let workspace = FloatBuffer(count: layer.workspaceCount(rows: rows))
            let whole = FloatBuffer(count: count)
            layer.backwardWeights(input: input.pointer, outputGradient: outputGradient.pointer, rows: rows,
                                  outputUnits: 0..<layer.outputUnits, gradients: whole.pointer,
                                  workspace: workspace.pointer)
            let pieces = FloatBuffer(count: count)
            pieces.pointer.update(repeating: .nan, count: count)
            layer.backwardWeights(input: input.pointer, outputGradient: outputGradient.pointer, rows: rows,
                                  outputUnits: 1..<2, gradients: pieces.pointer, workspace: workspace.pointer)
            let written = (0..<count).filter { !pieces[$0].isNaN }.count
            XCTAssertEqual(written, count / layer.outputUnits, "\(type(of: layer)): one channel's weights and bias")
            for units in [0..<1, 2..<3] where units.upperBound <= layer.outputUnits {
                layer.backwardWeights(input: input.pointer, outputGradient: outputGradient.pointer, rows: rows,
                                      outputUnits: units, gradients: pieces.pointer, workspace: workspace.pointer)
            }
            // Sums of up to 60 products of O(1) values; a GEMM over fewer rows may block differently.
            for i in 0..<count { XCTAssertEqual(pieces[i], whole[i], accuracy: 1e-5, "\(type(of: layer)) \(i)") }
        }
    }

    func testChannelOrderRoundTripsAndItsBackwardIsTheInverse() {
        var generator = TestValues(seed: 47)
        let toLast = ChannelOrder(channels: 3, height: 2, width: 4, toChannelsLast: true)
        let toFirst = ChannelOrder(channels: 3, height: 2, width: 4, toChannelsLast: false)
        let image = FloatBuffer(generator.array(rows * 24))
        let last = run(toLast, input: image, parameters: FloatBuffer(count: 0))
        XCTAssertEqual(last[((1 * 2 + 1) * 4 + 2) * 3 + 2], image[1 * 24 + (2 * 2 + 1) * 4 + 2], "row 1, c 2, y 1, x 2")
        XCTAssertEqual(run(toFirst, input: FloatBuffer(last), parameters: FloatBuffer(count: 0)), image.array)
        let back = FloatBuffer(count: rows * 24)
        let lastGradient = FloatBuffer(last)
        toLast.backwardData(outputGradient: lastGradient.pointer, output: image.pointer, rows: rows,
                            parameters: image.pointer, inputGradient: back.pointer, workspace: image.pointer)
        XCTAssertEqual(back.array, image.array)
    }

    // MARK: Helpers

    private func values(_ layer: any Layer, seed: UInt64) -> (parameters: FloatBuffer, input: FloatBuffer) {
        var generator = TestValues(seed: seed)
        let parameterCount: Int
        switch layer {
        case let conv as Conv2d: parameterCount = conv.biasOffset + conv.outChannels
        case let conv as ConvTranspose2d: parameterCount = conv.biasOffset + conv.outChannels
        default: parameterCount = 0
        }
        return (FloatBuffer(generator.array(parameterCount)), FloatBuffer(generator.array(rows * layer.inputWidth)))
    }

    private func run(_ layer: any Layer, input: FloatBuffer, parameters: FloatBuffer) -> [Float] {
        let output = FloatBuffer(count: rows * layer.outputWidth)
        let workspace = FloatBuffer(count: layer.workspaceCount(rows: rows))
        layer.forward(input: input.pointer, rows: rows, parameters: parameters.pointer, output: output.pointer,
                      workspace: workspace.pointer)
        return output.array
    }

    private func checkBackward(_ layer: any Layer, seed: UInt64, file: StaticString = #filePath, line: UInt = #line) {
        var generator = TestValues(seed: seed)
        let (parameters, input) = values(layer, seed: seed + 100)
        let weights = generator.array(rows * layer.outputWidth)  // L = sum_ij c_ij y_ij
        let output = FloatBuffer(count: rows * layer.outputWidth)
        let workspace = FloatBuffer(count: layer.workspaceCount(rows: rows))
        func loss() -> Double {
            layer.forward(input: input.pointer, rows: rows, parameters: parameters.pointer, output: output.pointer,
                          workspace: workspace.pointer)
            return (0..<output.count).reduce(0.0) { $0 + Double(weights[$1] * output[$1]) }
        }
        _ = loss()
        let outputGradient = FloatBuffer(weights)
        let gradients = FloatBuffer(count: parameters.count)
        let inputGradient = FloatBuffer(count: rows * layer.inputWidth)
        layer.backwardWeights(input: input.pointer, outputGradient: outputGradient.pointer, rows: rows,
                              outputUnits: 0..<layer.outputUnits, gradients: gradients.pointer,
                              workspace: workspace.pointer)
        layer.backwardData(outputGradient: outputGradient.pointer, output: output.pointer, rows: rows,
                           parameters: parameters.pointer, inputGradient: inputGradient.pointer,
                           workspace: workspace.pointer)
        let name = "\(type(of: layer)) k\((layer as? Conv2d)?.geometry.kernel ?? (layer as? ConvTranspose2d)!.geometry.kernel)"
        FiniteDifferences.check("\(name) parameters", values: parameters.pointer, indices: Array(0..<parameters.count),
                                analytic: gradients.array, file: file, line: line, loss: loss)
        FiniteDifferences.check("\(name) input", values: input.pointer, indices: Array(0..<input.count),
                                analytic: inputGradient.array, file: file, line: line, loss: loss)
    }
}
