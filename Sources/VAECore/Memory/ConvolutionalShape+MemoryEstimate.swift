extension ConvolutionalShape {
    /// The parameters of the convolutional model (`ModelLayers.convolutional`), nil when
    /// the count overflows an Int or the image does not fit the convolutions.
    func checkedParameterCount(latentDimension z: Int) -> Int? {
        guard let stages else { return nil }
        let taps = kernel * kernel
        var terms: [Int?] = []
        for stage in stages {
            // The convolution [out, in, k, k] + [out] and its transpose [out, in, k, k] + [in].
            let weights = MemoryEstimate.product(stage.outChannels, stage.inChannels, taps)
            terms += [weights, stage.outChannels, weights, stage.inChannels]
        }
        let flat = flatWidth
        terms += [flat.flatMap { MemoryEstimate.product($0, 2 * z) }, 2 * z,      // the heads
                  flat.flatMap { MemoryEstimate.product($0, z) }, flat]           // decoder.fc
        return MemoryEstimate.sum(terms)
    }

    /// An upper estimate of the floats the encoder's stack holds for `rows` rows and the
    /// decoder's for `draws` rows (`LayerStack`: each layer's output and output gradient,
    /// and the largest workspace, a layer's patches and packed weights); nil on overflow.
    func checkedWorkspaceFloats(rows: Int, draws: Int, latentDimension z: Int) -> Int? {
        guard let stages, let image = imageShape, let flat = flatWidth else { return nil }
        let imageWidth = MemoryEstimate.product(image)
        let convolutionOutputs = stages.map { MemoryEstimate.product($0.outChannels, $0.geometry.gridPixels) }
        let transposeOutputs = stages.map { MemoryEstimate.product($0.inChannels, $0.geometry.imagePixels) }
        func workspace(_ rowCount: Int) -> Int? {
            let each = stages.map { stage -> Int? in
                let pixels = MemoryEstimate.product(rowCount, stage.geometry.gridPixels)
                return MemoryEstimate.sum([pixels, stage.outChannels])
                    .flatMap { MemoryEstimate.product($0, stage.geometry.taps, stage.inChannels) }
            }
            return each.contains { $0 == nil } ? nil : each.map { $0! }.max()
        }
        let encoderWidths = MemoryEstimate.sum([imageWidth, flat, 2 * z] + convolutionOutputs)
        let decoderWidths = MemoryEstimate.sum([imageWidth, flat, flat] + transposeOutputs)
        return MemoryEstimate.sum([
            encoderWidths.flatMap { MemoryEstimate.product(rows, $0, 2) }, workspace(rows),
            decoderWidths.flatMap { MemoryEstimate.product(draws, $0, 2) }, workspace(draws),
        ])
    }

    /// Floats of the last grid, the dense head's input; nil on overflow.
    private var flatWidth: Int? {
        guard let last = stages?.last else { return nil }
        return MemoryEstimate.product(last.outChannels, last.geometry.gridPixels)
    }
}
