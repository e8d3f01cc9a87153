/// A model's encoder and decoder as stacks of layers, and the flat layout they index.
///
/// The encoder maps a data row [D] to [loc | rawScale] [2Z]; the decoder maps a latent
/// code [Z] to the likelihood's parameter per pixel [D] (Bernoulli logits or Gaussian
/// means). Tensor order in the layout is the init stream's tensor index, and names follow
/// a PyTorch state_dict (docs/algorithm.md, "Parameters").
public struct ModelLayers: Sendable {
    public let encoder: [any Layer]
    public let decoder: [any Layer]
    public let layout: ParameterLayout

    /// The layers of `architecture`: its MLP, or its convolutions when it has them.
    public init(_ architecture: ModelArchitecture) {
        var layout = ParameterLayout()
        let (encoder, decoder) = if let convolution = architecture.convolution {
            Self.convolutional(convolution, architecture: architecture, layout: &layout)
        } else {
            Self.perceptron(architecture, layout: &layout)
        }
        if architecture.learnedVarianceFloor != nil {
            layout.append(ModelArchitecture.outputLogVarianceName, shape: [architecture.dataDimension])
        }
        self.encoder = encoder
        self.decoder = Self.narrowingFirst(decoder)
        self.layout = layout
    }

    /// The MLP: D -> h_1 .. h_k -> 2Z, then Z -> h_k .. h_1 -> D.
    private static func perceptron(_ architecture: ModelArchitecture, layout: inout ParameterLayout)
        -> (encoder: [any Layer], decoder: [any Layer]) {
        let activation = architecture.activation
        var encoder: [any Layer] = []
        var width = architecture.dataDimension
        for (i, hidden) in architecture.hiddenSizes.enumerated() {
            let layer = layout.appendDense("encoder.fc\(i + 1)", inFeatures: width, outFeatures: hidden)
            encoder += [layer, ActivationLayer(activation, width: hidden)]
            width = hidden
        }
        encoder.append(layout.appendLatentHead(inFeatures: width, latentDimension: architecture.latentDimension))

        var decoder: [any Layer] = []
        width = architecture.latentDimension
        for (i, hidden) in architecture.hiddenSizes.reversed().enumerated() {
            let layer = layout.appendDense("decoder.fc\(i + 1)", inFeatures: width, outFeatures: hidden)
            decoder += [layer, ActivationLayer(activation, width: hidden)]
            width = hidden
        }
        decoder.append(layout.appendDense("decoder.out", inFeatures: width, outFeatures: architecture.dataDimension))
        return (encoder, decoder)
    }

    /// The decoder with its first layer as a `NarrowInputDense`.
    ///
    /// That layer reads the latent code, a narrow input: its input gradient goes through the
    /// transpose.
    private static func narrowingFirst(_ decoder: [any Layer]) -> [any Layer] {
        guard let first = decoder.first as? Dense else { return decoder }
        return [NarrowInputDense(first)] + decoder.dropFirst()
    }
}

extension ParameterLayout {
    /// Appends `name.weight` [out, in] and `name.bias` [out]; returns their layer.
    mutating func appendDense(_ name: String, inFeatures: Int, outFeatures: Int) -> Dense {
        let weight = append("\(name).weight", shape: [outFeatures, inFeatures])
        let bias = append("\(name).bias", shape: [outFeatures])
        return Dense(inFeatures: inFeatures, outFeatures: outFeatures, weightOffset: weight, biasOffset: bias)
    }

    /// The encoder's two heads, mu and logvar [Z, in] each, as one Dense layer.
    ///
    /// Their weights are laid out as one [2Z, in] block, then their biases as one [2Z], so one
    /// GEMM computes both.
    mutating func appendLatentHead(inFeatures: Int, latentDimension z: Int) -> Dense {
        let weight = append("encoder.mu.weight", shape: [z, inFeatures])
        append("encoder.logvar.weight", shape: [z, inFeatures])
        let bias = append("encoder.mu.bias", shape: [z])
        append("encoder.logvar.bias", shape: [z])
        return Dense(inFeatures: inFeatures, outFeatures: 2 * z, weightOffset: weight, biasOffset: bias)
    }
}
