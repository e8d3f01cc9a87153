import XCTest
@testable import VAECore

/// The layer stack's backward against finite differences, and its split form against the whole.
final class LayerStackTests: XCTestCase {
    private let rows = 3
    // Dense 4 -> 5, tanh, Dense 5 -> 3 (narrow input route), sigmoid, Dense 3 -> 2.
    private let first = Dense(inFeatures: 4, outFeatures: 5, weightOffset: 0, biasOffset: 20)
    private let second = Dense(inFeatures: 5, outFeatures: 3, weightOffset: 25, biasOffset: 40)
    private let third = Dense(inFeatures: 3, outFeatures: 2, weightOffset: 43, biasOffset: 49)
    private let parameterCount = 51

    private func makeStack() -> LayerStack {
        LayerStack(layers: [first, ActivationLayer(.tanh, width: 5), NarrowInputDense(second),
                            ActivationLayer(.sigmoid, width: 3), third], maxRows: rows)
    }

    func testStackBackwardMatchesFiniteDifferences() {
        var values = TestValues(seed: 31)
        let stack = makeStack()
        let parameters = FloatBuffer(values.array(parameterCount))
        let input = FloatBuffer(values.array(rows * 4))
        let weights = values.array(rows * 2)  // L = sum_ij c_ij y_ij
        func loss() -> Double {
            stack.forward(input: input.pointer, rows: rows, parameters: parameters.pointer)
            return (0..<rows * 2).reduce(0.0) { $0 + Double(weights[$1] * stack.output[$1]) }
        }
        _ = loss()
        let gradients = FloatBuffer(count: parameterCount)
        let inputGradient = FloatBuffer(count: rows * 4)
        let outputGradient = FloatBuffer(weights)
        stack.backward(input: input.pointer, outputGradient: outputGradient.pointer, rows: rows,
                       parameters: parameters.pointer, gradients: gradients.pointer,
                       inputGradient: inputGradient.pointer)
        FiniteDifferences.check("stack parameters", values: parameters.pointer, indices: Array(0..<parameterCount),
                                analytic: gradients.array, step: 1e-3, loss: loss)
        FiniteDifferences.check("stack input", values: input.pointer, indices: Array(0..<input.count),
                                analytic: inputGradient.array, step: 1e-3, loss: loss)
    }

    /// The data backward through the stack, then each layer's weight backward over two
    /// ranges of its units, gives the reference backward's numbers.
    func testSplitBackwardGivesTheWholeBackward() {
        var values = TestValues(seed: 32)
        let stack = makeStack()
        let parameters = FloatBuffer(values.array(parameterCount))
        let input = FloatBuffer(values.array(rows * 4))
        let top = values.array(rows * 2)
        stack.forward(input: input.pointer, rows: rows, parameters: parameters.pointer)
        let whole = FloatBuffer(count: parameterCount)
        let wholeInputGradient = FloatBuffer(count: rows * 4)
        let wholeOutputGradient = FloatBuffer(top)
        stack.backward(input: input.pointer, outputGradient: wholeOutputGradient.pointer, rows: rows,
                       parameters: parameters.pointer, gradients: whole.pointer,
                       inputGradient: wholeInputGradient.pointer)

        let split = FloatBuffer(count: parameterCount)
        split.pointer.update(repeating: .nan, count: parameterCount)
        let splitInputGradient = FloatBuffer(count: rows * 4)
        let outputGradient = FloatBuffer(top)
        stack.backwardData(outputGradient: outputGradient.pointer, rows: rows, parameters: parameters.pointer,
                           inputGradient: splitInputGradient.pointer)
        for (index, layer) in stack.layers.enumerated() {
            XCTAssertEqual(layer.weightBackwardReads == nil, layer.outputUnits == 0, "layer \(index)")
            guard let reads = layer.weightBackwardReads else { continue }
            XCTAssertEqual(reads, WeightBackwardReads(inputWidth: layer.inputWidth,
                                                      outputGradientWidth: layer.outputWidth))
            let operands = stack.weightBackwardOperands(layer: index, input: input.pointer,
                                                        outputGradient: outputGradient.pointer)
            let middle = layer.outputUnits / 2
            for units in [0..<middle, middle..<layer.outputUnits] {
                layer.backwardWeights(input: operands.input, outputGradient: operands.outputGradient, rows: rows,
                                      outputUnits: units, gradients: split.pointer, workspace: stack.workspace.pointer)
            }
        }
        // The data backward makes the same calls: the same bits.
        XCTAssertEqual(splitInputGradient.array.map(\.bitPattern), wholeInputGradient.array.map(\.bitPattern))
        // Sums of 3 products of O(1) values; a GEMM over fewer units may block differently.
        for i in 0..<parameterCount { XCTAssertEqual(split[i], whole[i], accuracy: 1e-6, "parameter \(i)") }
    }

    /// The narrow input's transposed route gives dY W, as the Dense data backward does.
    func testNarrowInputGradientIsTheDenseOne() {
        var values = TestValues(seed: 33)
        let parameters = FloatBuffer(values.array(parameterCount))
        let outputGradient = FloatBuffer(values.array(rows * 3))
        let dense = FloatBuffer(count: rows * 5)
        second.backwardData(outputGradient: outputGradient.pointer, rows: rows, parameters: parameters.pointer,
                            inputGradient: dense.pointer)
        let narrow = NarrowInputDense(second)
        let workspace = FloatBuffer(count: narrow.workspaceCount(rows: rows))
        let transposed = FloatBuffer(count: rows * 5)
        narrow.backwardData(outputGradient: outputGradient.pointer, output: outputGradient.pointer, rows: rows,
                            parameters: parameters.pointer, inputGradient: transposed.pointer,
                            workspace: workspace.pointer)
        // Sums of 3 products of O(1) values, maybe in another order.
        for i in 0..<rows * 5 { XCTAssertEqual(transposed[i], dense[i], accuracy: 1e-6, "element \(i)") }
    }
}
