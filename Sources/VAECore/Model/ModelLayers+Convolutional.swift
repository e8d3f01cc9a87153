extension ModelLayers {
    /// The convolutional model of `shape` (`ConvolutionalShape`), its tensors named like
    /// PyTorch's: encoder.conv1 .. convN, encoder.mu and encoder.logvar; decoder.fc,
    /// decoder.deconv1 .. deconvN.
    ///
    /// Convolutions work channels last; `ChannelOrder` turns a multi-channel data row
    /// (channels first) around before the first one and after the last, and is the
    /// flatten before the head and the reshape after the decoder's dense layer, so those
    /// dense weights index [C, H, W] as PyTorch's `view` does.
    static func convolutional(_ shape: ConvolutionalShape, architecture: ModelArchitecture,
                              layout: inout ParameterLayout) -> (encoder: [any Layer], decoder: [any Layer]) {
        guard let stages = shape.stages, let image = shape.imageShape else {
            preconditionFailure("a convolutional model needs an image its convolutions fit (ConvolutionalShape.problems)")
        }
        let activation = architecture.activation
        let (kernel, channels, height, width) = (shape.kernel, image[0], image[1], image[2])
        var encoder: [any Layer] = []
        if channels > 1 {
            encoder.append(ChannelOrder(channels: channels, height: height, width: width, toChannelsLast: true))
        }
        for (index, stage) in stages.enumerated() {
            let name = "encoder.conv\(index + 1)"
            let weight = layout.append("\(name).weight", shape: [stage.outChannels, stage.inChannels, kernel, kernel])
            let bias = layout.append("\(name).bias", shape: [stage.outChannels])
            let convolution = Conv2d(inChannels: stage.inChannels, outChannels: stage.outChannels,
                                     geometry: stage.geometry, weightOffset: weight, biasOffset: bias)
            encoder += [convolution, ActivationLayer(activation, width: convolution.outputWidth)]
        }
        let last = stages[stages.count - 1]
        let (lastChannels, lastHeight, lastWidth) = (last.outChannels, last.geometry.gridHeight, last.geometry.gridWidth)
        let flat = lastChannels * lastHeight * lastWidth
        encoder.append(ChannelOrder(channels: lastChannels, height: lastHeight, width: lastWidth, toChannelsLast: false))
        encoder.append(layout.appendLatentHead(inFeatures: flat, latentDimension: architecture.latentDimension))

        var decoder: [any Layer] = [
            layout.appendDense("decoder.fc", inFeatures: architecture.latentDimension, outFeatures: flat),
            ActivationLayer(activation, width: flat),
            ChannelOrder(channels: lastChannels, height: lastHeight, width: lastWidth, toChannelsLast: true),
        ]
        for (index, stage) in stages.reversed().enumerated() {
            // The transpose of encoder stage (in -> out) maps out -> in over the same geometry.
            let name = "decoder.deconv\(index + 1)"
            let weight = layout.append("\(name).weight", shape: [stage.outChannels, stage.inChannels, kernel, kernel])
            let bias = layout.append("\(name).bias", shape: [stage.inChannels])
            let transposed = ConvTranspose2d(inChannels: stage.outChannels, outChannels: stage.inChannels,
                                             geometry: stage.geometry, weightOffset: weight, biasOffset: bias)
            decoder.append(transposed)
            if index + 1 < stages.count { decoder.append(ActivationLayer(activation, width: transposed.outputWidth)) }
        }
        if channels > 1 {
            decoder.append(ChannelOrder(channels: channels, height: height, width: width, toChannelsLast: false))
        }
        return (encoder, decoder)
    }
}
