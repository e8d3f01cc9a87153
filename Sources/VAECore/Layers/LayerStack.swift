/// An encoder or decoder as the objective runs it.
///
/// A forward over rows into `output`, and the backward from dL/d(output). `LayerStack` is
/// the reference; `ActiveUnitsEncoder` runs a ReLU MLP encoder's layers faster with the
/// same results.
public protocol LayerStackRunner: AnyObject {
    /// The most rows a call may hold.
    var maxRows: Int { get }
    /// The last layer's output [maxRows, width], written by `forward`.
    var output: UnsafeMutablePointer<Float> { get }

    func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>)

    /// Every layer's dW and db into the flat `gradients`, from dL/d(output).
    ///
    /// dL/d(output) [rows, width] may be overwritten; dL/d(input) is written when
    /// `inputGradient` is non-nil. `input` is the forward's.
    func backward(input: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>, rows: Int,
                  parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                  inputGradient: UnsafeMutablePointer<Float>?)
}

/// A sequence of layers run forward and backward over buffers made once for `maxRows` rows.
///
/// Each layer writes its output into a buffer of its own, except one that works in place
/// (an activation), which writes over its input's; the backward mirrors that for the
/// gradients. The buffers stay valid between calls, so a data-parallel caller can run
/// `backwardData` through the stack, share each layer's `weightBackwardOperands` between
/// ranks and run the layers' `backwardWeights` on ranges of units.
public final class LayerStack: LayerStackRunner {
    public let layers: [any Layer]
    public let maxRows: Int
    /// Scratch for every layer's calls (`Layer.workspaceCount`).
    public let workspace: FloatBuffer
    /// Layer i's output [maxRows, outputWidth_i]; an in-place layer's is its input's.
    private let outputs: [FloatBuffer]
    /// dL/d(output of layer i), written by layer i + 1's data backward.
    ///
    /// nil where that layer works in place (then it is the buffer above), and for the last
    /// layer (the caller's).
    private let outputGradients: [FloatBuffer?]

    public init(layers: [any Layer], maxRows: Int) {
        precondition(!layers.isEmpty, "a stack needs a layer")
        precondition(maxRows >= 1, "maxRows must be at least 1")
        for (below, above) in zip(layers, layers.dropFirst()) {
            precondition(below.outputWidth == above.inputWidth, "layer widths do not chain")
        }
        self.layers = layers
        self.maxRows = maxRows
        var outputs: [FloatBuffer] = []
        for (index, layer) in layers.enumerated() {
            outputs.append(index > 0 && layer.worksInPlace ? outputs[index - 1]
                                                           : FloatBuffer(count: maxRows * layer.outputWidth))
        }
        self.outputs = outputs
        outputGradients = layers.indices.map { index in
            index + 1 < layers.count && !layers[index + 1].worksInPlace
                ? FloatBuffer(count: maxRows * layers[index].outputWidth) : nil
        }
        workspace = FloatBuffer(count: layers.map { $0.workspaceCount(rows: maxRows) }.max()!)
    }

    /// Floats a stack of `layers` allocates for `rows` rows: outputs, gradients, workspace.
    public static func floatCount(_ layers: [any Layer], rows: Int) -> Int {
        var floats = layers.map { $0.workspaceCount(rows: rows) }.max() ?? 0
        for (index, layer) in layers.enumerated() {
            if index == 0 || !layer.worksInPlace { floats += rows * layer.outputWidth }
            if index + 1 < layers.count && !layers[index + 1].worksInPlace { floats += rows * layer.outputWidth }
        }
        return floats
    }

    public var inputWidth: Int { layers[0].inputWidth }
    public var outputWidth: Int { layers[layers.count - 1].outputWidth }
    public var output: UnsafeMutablePointer<Float> { outputs[outputs.count - 1].pointer }

    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>) {
        precondition(rows <= maxRows, "\(rows) rows exceed the workspace of \(maxRows)")
        var layerInput = input
        for (layer, output) in zip(layers, outputs) {
            layer.forward(input: layerInput, rows: rows, parameters: parameters, output: output.pointer,
                          workspace: workspace.pointer)
            layerInput = UnsafePointer(output.pointer)
        }
    }

    /// The reference order: each layer's weight backward, then its data backward, from the top.
    public func backward(input: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>, rows: Int,
                         parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?) {
        precondition(rows <= maxRows, "\(rows) rows exceed the workspace of \(maxRows)")
        for index in layers.indices.reversed() {
            let layer = layers[index]
            let (layerInput, layerOutputGradient) = weightBackwardOperands(
                layer: index, input: input, outputGradient: outputGradient)
            if layer.outputUnits > 0 {
                layer.backwardWeights(input: layerInput, outputGradient: layerOutputGradient, rows: rows,
                                      outputUnits: 0..<layer.outputUnits, gradients: gradients,
                                      workspace: workspace.pointer)
            }
            backwardData(layer: index, outputGradient: outputGradient, rows: rows, parameters: parameters,
                         inputGradient: inputGradient)
        }
    }

    /// The data backward of every layer from the top, without the weight backward.
    ///
    /// Afterwards `weightBackwardOperands` holds what each layer's `backwardWeights` reads.
    public func backwardData(outputGradient: UnsafeMutablePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                             inputGradient: UnsafeMutablePointer<Float>?) {
        precondition(rows <= maxRows, "\(rows) rows exceed the workspace of \(maxRows)")
        for index in layers.indices.reversed() {
            backwardData(layer: index, outputGradient: outputGradient, rows: rows, parameters: parameters,
                         inputGradient: inputGradient)
        }
    }

    /// Layer `index`'s input and dL/d(its output), as its weight backward reads them.
    ///
    /// Both are [maxRows, width]; `input` and `outputGradient` are the stack's (the top's).
    public func weightBackwardOperands(layer index: Int, input: UnsafePointer<Float>,
                                       outputGradient: UnsafeMutablePointer<Float>)
        -> (input: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>) {
        (index == 0 ? input : UnsafePointer(outputs[index - 1].pointer),
         gradient(ofOutput: index, top: outputGradient))
    }

    /// One layer's data backward; the first layer's only when the caller wants dL/d(input).
    private func backwardData(layer index: Int, outputGradient: UnsafeMutablePointer<Float>, rows: Int,
                              parameters: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>?) {
        let destination: UnsafeMutablePointer<Float>
        if index > 0 {
            destination = gradient(ofOutput: index - 1, top: outputGradient)
        } else if let inputGradient {
            destination = inputGradient
        } else {
            return
        }
        layers[index].backwardData(outputGradient: gradient(ofOutput: index, top: outputGradient),
                                   output: outputs[index].pointer, rows: rows, parameters: parameters,
                                   inputGradient: destination, workspace: workspace.pointer)
    }

    /// Where dL/d(output of layer `index`) lives: its own buffer, or the one above it.
    private func gradient(ofOutput index: Int, top: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        var index = index
        while index < layers.count - 1 {
            if let buffer = outputGradients[index] { return buffer.pointer }
            index += 1
        }
        return top
    }
}
