/// A hidden-layer nonlinearity as a layer of the stack, applied elementwise over `width`.
///
/// It runs in place: its output overwrites its input (the layer before reads only its own
/// input in its backward), and its derivative is taken from its output.
public struct ActivationLayer: ParameterFreeLayer {
    public let activation: Activation
    public let width: Int

    public init(_ activation: Activation, width: Int) {
        self.activation = activation
        self.width = width
    }

    public var inputWidth: Int { width }
    public var outputWidth: Int { width }
    public var worksInPlace: Bool { true }

    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        if UnsafePointer(output) != input { output.update(from: input, count: rows * width) }
        activation.forward(output, count: rows * width)
    }

    public func backwardData(outputGradient: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int,
                             parameters: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
                             workspace: UnsafeMutablePointer<Float>) {
        if UnsafePointer(inputGradient) != outputGradient {
            inputGradient.update(from: outputGradient, count: rows * width)
        }
        activation.backward(gradient: inputGradient, output: output, count: rows * width)
    }
}
