import XCTest
@testable import VAECore

/// Every building block's backward against finite differences of its forward.
final class LayerGradientTests: XCTestCase {
    func testDenseBackwardMatchesFiniteDifferences() {
        var values = TestValues(seed: 1)
        let (rows, inputs, outputs) = (4, 5, 3)
        let layer = Dense(inFeatures: inputs, outFeatures: outputs, weightOffset: 0, biasOffset: inputs * outputs)
        let parameters = FloatBuffer(values.array(inputs * outputs + outputs))
        let input = FloatBuffer(values.array(rows * inputs))
        let weights = values.array(rows * outputs)  // L = sum_ij c_ij y_ij
        let output = FloatBuffer(count: rows * outputs)

        func loss() -> Double {
            layer.forward(input: input.pointer, rows: rows, parameters: parameters.pointer, output: output.pointer)
            return (0..<rows * outputs).reduce(0.0) { $0 + Double(weights[$1] * output[$1]) }
        }
        let gradients = FloatBuffer(count: parameters.count)
        let inputGradient = FloatBuffer(count: rows * inputs)
        let outputGradient = FloatBuffer(weights)
        layer.backward(input: input.pointer, outputGradient: outputGradient.pointer, rows: rows,
                       parameters: parameters.pointer, gradients: gradients.pointer,
                       inputGradient: inputGradient.pointer)

        FiniteDifferences.check("dense parameters", values: parameters.pointer,
                                indices: Array(0..<parameters.count), analytic: gradients.array, loss: loss)
        FiniteDifferences.check("dense input", values: input.pointer,
                                indices: Array(0..<input.count), analytic: inputGradient.array, loss: loss)
    }

    /// Ranges of output units that cover the layer give the whole weight backward, each
    /// range writing only its own units' dW rows and db entries.
    func testDenseWeightBackwardOverUnitRangesCoversTheWholeGradient() {
        var values = TestValues(seed: 2)
        let (rows, inputs, outputs) = (5, 3, 4)
        let layer = Dense(inFeatures: inputs, outFeatures: outputs, weightOffset: 0, biasOffset: inputs * outputs)
        let count = inputs * outputs + outputs
        let input = FloatBuffer(values.array(rows * inputs))
        let outputGradient = FloatBuffer(values.array(rows * outputs))
        let whole = FloatBuffer(count: count)
        layer.backwardWeights(input: input.pointer, outputGradient: outputGradient.pointer, rows: rows,
                              outputUnits: 0..<outputs, gradients: whole.pointer)
        let pieces = FloatBuffer(count: count)
        pieces.pointer.update(repeating: .nan, count: count)
        layer.backwardWeights(input: input.pointer, outputGradient: outputGradient.pointer, rows: rows,
                              outputUnits: 1..<3, gradients: pieces.pointer)
        let written = (0..<count).filter { !pieces[$0].isNaN }
        XCTAssertEqual(written, Array(3..<9) + [13, 14], "units 1 and 2: their dW rows and db entries only")
        layer.backwardWeights(input: input.pointer, outputGradient: outputGradient.pointer, rows: rows,
                              outputUnits: 0..<1, gradients: pieces.pointer)
        layer.backwardWeights(input: input.pointer, outputGradient: outputGradient.pointer, rows: rows,
                              outputUnits: 3..<4, gradients: pieces.pointer)
        // Sums of 5 products of O(1) values; the GEMM may block a smaller call differently.
        for i in 0..<count { XCTAssertEqual(pieces[i], whole[i], accuracy: 1e-6, "element \(i)") }
    }

    func testEachActivationBackwardMatchesFiniteDifferences() {
        for activation in Activation.allCases {
            var values = TestValues(seed: 3)
            // Keep ReLU inputs away from its kink, where no derivative exists.
            let inputs = FloatBuffer(values.array(16, -3, 3).map { activation == .relu && abs($0) < 0.05 ? 0.5 : $0 })
            let weights = values.array(16)
            let scratch = FloatBuffer(count: 16)
            func loss() -> Double {
                scratch.copy(from: inputs)
                activation.forward(scratch.pointer, count: 16)
                return (0..<16).reduce(0.0) { $0 + Double(weights[$1] * scratch[$1]) }
            }
            _ = loss()
            let gradient = FloatBuffer(weights)
            activation.backward(gradient: gradient.pointer, output: scratch.pointer, count: 16)
            FiniteDifferences.check("\(activation)", values: inputs.pointer, indices: Array(0..<16),
                                    analytic: gradient.array, step: 1e-3, loss: loss)
        }
    }

    func testActivationsAreStableAtExtremes() {
        let extremes: [Float] = [-200, -50, 0, 50, 200]
        for activation in Activation.allCases {
            let buffer = FloatBuffer(extremes)
            activation.forward(buffer.pointer, count: extremes.count)
            XCTAssertTrue(buffer.array.allSatisfy(\.isFinite), "\(activation) overflowed: \(buffer.array)")
        }
        XCTAssertEqual(Activation.softplus(200), 200, accuracy: 1e-3)
        XCTAssertEqual(Activation.sigmoid(-200), 0, accuracy: 1e-30)
    }

    func testBernoulliLikelihoodGradientMatchesFiniteDifferences() {
        var values = TestValues(seed: 4)
        let data = FloatBuffer(values.array(10, 0, 1).enumerated().map { $0.offset < 2 ? Float($0.offset) : $0.element })
        checkLikelihood(BernoulliLikelihood(), data: data, logits: FloatBuffer(values.array(10, -6, 6)))
    }

    func testBernoulliLikelihoodIsStableForLargeLogits() {
        let data = FloatBuffer([1, 0, 1, 0])
        let logits = FloatBuffer([100, -100, -100, 100])
        let gradient = FloatBuffer(count: 4)
        let nll = BernoulliLikelihood().negativeLogLikelihood(
            data: data.pointer, output: logits.pointer, count: 4, gradientScale: 1, gradient: gradient.pointer)
        XCTAssertEqual(nll, 200, accuracy: 1e-3)  // the two wrong-sided logits cost 100 nats each
        // sigmoid(-100) = 3.8e-44 is subnormal; the kernel's exp saturates at e^-87.3 = 1.2e-38
        // (and flush-to-zero would make either 0): all that matters is that it is 0 to float32.
        let expected: [Float] = [0, 0, -1, 1]
        for (actual, wanted) in zip(gradient.array, expected) { XCTAssertEqual(actual, wanted, accuracy: 1e-37) }
    }

    func testGaussianLikelihoodGradientMatchesFiniteDifferences() {
        var values = TestValues(seed: 5)
        checkLikelihood(GaussianLikelihood(variance: 0.3), data: FloatBuffer(values.array(10, -3, 3)),
                        logits: FloatBuffer(values.array(10, -3, 3)))
    }

    func testGaussianLikelihoodValue() {
        // One pixel, x = 1, mean 0, variance 1: 0.5 log(2 pi) + 0.5.
        let (gradient, data, mean) = (FloatBuffer(count: 1), FloatBuffer([1]), FloatBuffer([0]))
        let nll = withExtendedLifetime((data, mean)) {
            GaussianLikelihood(variance: 1).negativeLogLikelihood(
                data: data.pointer, output: mean.pointer, count: 1, gradientScale: 1, gradient: gradient.pointer)
        }
        XCTAssertEqual(nll, 0.5 * log(2 * Double.pi) + 0.5, accuracy: 1e-6)
    }

    private func checkLikelihood(_ likelihood: some Likelihood, data: FloatBuffer, logits: FloatBuffer,
                                 file: StaticString = #filePath, line: UInt = #line) {
        let gradient = FloatBuffer(count: data.count)
        let scratch = FloatBuffer(count: data.count)
        func loss() -> Double {
            likelihood.negativeLogLikelihood(data: data.pointer, output: logits.pointer, count: data.count,
                                             gradientScale: 1, gradient: scratch.pointer)
        }
        _ = likelihood.negativeLogLikelihood(data: data.pointer, output: logits.pointer, count: data.count,
                                             gradientScale: 1, gradient: gradient.pointer)
        FiniteDifferences.check(likelihood.name, values: logits.pointer, indices: Array(0..<data.count),
                                analytic: gradient.array, step: 1e-2, file: file, line: line, loss: loss)
    }

    func testGaussianKLMatchesFiniteDifferences() {
        let posterior = DiagonalGaussian()
        var values = TestValues(seed: 6)
        for _ in 0..<10 {
            var point = [values.uniform(-2, 2), values.uniform(-3, 1)]  // (loc, rawScale)
            let kl = posterior.klToStandardNormal(loc: point[0], rawScale: point[1])
            point.withUnsafeMutableBufferPointer { buffer in
                FiniteDifferences.check("gaussian KL", values: buffer.baseAddress!, indices: [0, 1],
                                        analytic: [kl.dLoc, kl.dRawScale], step: 1e-3) {
                    Double(posterior.klToStandardNormal(loc: buffer[0], rawScale: buffer[1]).value)
                }
            }
        }
        XCTAssertEqual(posterior.klToStandardNormal(loc: 0, rawScale: 0).value, 0)  // q = p
    }
}
