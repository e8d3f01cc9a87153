/// A ReLU MLP encoder run over the active units of its hidden layers (`ActiveUnits`).
///
/// The same layers as the `LayerStack`, the same results to float32 rounding, and about
/// 10% fewer FLOPs per step once units die (docs/performance.md). After each hidden
/// layer's forward its active units are found and its output gathered to [rows, active];
/// every later pass works at that compact width: the next layer's forward and input
/// gradient, and each layer's dW as a block scattered into the flat gradient with zeros
/// around it. On training rows the first layer can also leave out its dormant units
/// (`DormantUnits`).
public final class ActiveUnitsEncoder: LayerStackRunner {
    public let maxRows: Int
    private let hidden: [Dense]
    private let head: Dense
    private let activations: [FloatBuffer]        // [maxRows, h_i]: each hidden layer's ReLU output
    private let activeUnits: [ActiveUnits]
    private let activeActivations: [FloatBuffer]  // [maxRows, active_i]: the same, over its active units
    private let weightScratch: FloatBuffer         // [widest out x in of the layers]
    private let headOutput: FloatBuffer            // [maxRows, head width]
    private let gradientScratch: (FloatBuffer, FloatBuffer)  // [maxRows, widest hidden]

    /// nil unless `layers` are (Dense, ReLU) pairs, at least one, then a Dense.
    public init?(layers: [any Layer], maxRows: Int) {
        precondition(maxRows >= 1, "maxRows must be at least 1")
        guard layers.count >= 3, layers.count % 2 == 1, let head = layers.last as? Dense else { return nil }
        var hidden: [Dense] = []
        for pair in stride(from: 0, to: layers.count - 1, by: 2) {
            guard let dense = layers[pair] as? Dense,
                  let activation = layers[pair + 1] as? ActivationLayer, activation.activation == .relu
            else { return nil }
            hidden.append(dense)
        }
        self.maxRows = maxRows
        self.hidden = hidden
        self.head = head
        activations = hidden.map { FloatBuffer(count: maxRows * $0.outFeatures) }
        activeUnits = hidden.map { ActiveUnits(capacity: $0.outFeatures) }
        activeActivations = hidden.map { FloatBuffer(count: maxRows * $0.outFeatures) }
        weightScratch = FloatBuffer(count: (hidden + [head]).map { $0.inFeatures * $0.outFeatures }.max()!)
        headOutput = FloatBuffer(count: maxRows * head.outFeatures)
        let widest = hidden.map(\.outFeatures).max()!
        gradientScratch = (FloatBuffer(count: maxRows * widest), FloatBuffer(count: maxRows * widest))
    }

    public var output: UnsafeMutablePointer<Float> { headOutput.pointer }

    /// The first hidden layer: what `DormantUnits` tracks.
    public var firstLayer: Dense { hidden[0] }

    /// How many units of each hidden layer were active on the last batch.
    public var activeUnitCounts: [Int] { activeUnits.map(\.count) }

    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>) {
        forward(input: input, rows: rows, parameters: parameters, dormantUnits: nil)
    }

    /// The forward; with `dormantUnits` the first layer leaves its dormant units out.
    ///
    /// Only for training rows: those are the rows the tracker observed.
    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                        dormantUnits: DormantUnits?) {
        precondition(rows <= maxRows, "\(rows) rows exceed the workspace of \(maxRows)")
        var layerInput = input
        var inputUnits: ActiveUnits? = nil
        for (index, layer) in hidden.enumerated() {
            let output = activations[index].pointer
            if index == 0, let dormantUnits {
                precondition(dormantUnits.layer == layer, "dormant units of another model")
                dormantUnits.forward(input: layerInput, rows: rows, parameters: parameters, output: output)
            } else {
                layer.forward(input: layerInput, inputUnits: inputUnits, rows: rows, parameters: parameters,
                              weightScratch: weightScratch.pointer, output: output)
                Activation.relu.forward(output, count: rows * layer.outFeatures)
            }
            activeUnits[index].find(in: output, rows: rows)
            activeUnits[index].gatherColumns(of: output, rows: rows, into: activeActivations[index].pointer)
            (layerInput, inputUnits) = (UnsafePointer(activeActivations[index].pointer), activeUnits[index])
        }
        head.forward(input: layerInput, inputUnits: inputUnits, rows: rows, parameters: parameters,
                     weightScratch: weightScratch.pointer, output: headOutput.pointer)
    }

    /// The encoder feeds on data: `inputGradient` must be nil.
    public func backward(input: UnsafePointer<Float>, outputGradient: UnsafeMutablePointer<Float>, rows: Int,
                         parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?) {
        precondition(inputGradient == nil, "the active-units encoder computes no gradient for its input")
        // Gradients w.r.t. hidden outputs are [rows, active] too.
        var upstream = outputGradient
        var outputUnits: ActiveUnits? = nil
        var scratch = gradientScratch
        for index in stride(from: hidden.count, through: 0, by: -1) {
            let layer = index == hidden.count ? head : hidden[index]
            let (layerInput, inputUnits) = index == 0
                ? (input, nil) : (UnsafePointer(activeActivations[index - 1].pointer), activeUnits[index - 1])
            let layerInputGradient = index == 0 ? nil : scratch.0.pointer
            layer.backward(input: layerInput, inputUnits: inputUnits, outputGradient: upstream,
                           outputUnits: outputUnits, rows: rows, parameters: parameters, gradients: gradients,
                           weightScratch: weightScratch.pointer, inputGradient: layerInputGradient)
            if let layerInputGradient {
                Activation.relu.backward(gradient: layerInputGradient, output: layerInput,
                                         count: rows * (inputUnits?.count ?? layer.inFeatures))
                upstream = layerInputGradient
                outputUnits = inputUnits
                swap(&scratch.0, &scratch.1)
            }
        }
    }
}
