/// The units half of a split step, over every row of the global batch once they are shared.
extension SplitStep {
    /// One dense layer and where its weight backward reads: X, dY, and their compaction.
    struct LayerOperands {
        let layer: Dense
        let input: StepRows.Region
        let inputUnits: ActiveUnits?
        let outputGradient: StepRows.Region
        let outputUnits: ActiveUnits?
    }

    /// Every dense layer in layout order with its operands' regions (`operands` holds them).
    func makeLayerOperands() -> [LayerOperands] {
        var operands: [LayerOperands] = []
        for (index, layer) in encoder.enumerated() {
            operands.append(LayerOperands(
                layer: layer, input: index == 0 ? dataRegion : encoderActivations[index - 1],
                inputUnits: index == 0 ? nil : activeUnits?[index - 1],
                outputGradient: encoderGradients[index], outputUnits: activeUnits?[index]))
        }
        operands.append(LayerOperands(layer: head, input: encoderActivations.last ?? dataRegion,
                                      inputUnits: activeUnits?.last, outputGradient: headGradientRegion, outputUnits: nil))
        for (index, layer) in decoder.enumerated() {
            operands.append(LayerOperands(layer: layer, input: index == 0 ? latentRegion : decoderActivations[index - 1],
                                          inputUnits: nil, outputGradient: decoderGradients[index], outputUnits: nil))
        }
        operands.append(LayerOperands(layer: output, input: decoderActivations.last ?? latentRegion, inputUnits: nil,
                                      outputGradient: outputGradientRegion, outputUnits: nil))
        return operands
    }

    /// dW and db of every parameter in `owned` (a range of the flat buffer on tensor-row
    /// boundaries), from all `globalRows` rows of the shared regions, into `gradients`.
    ///
    /// Parameters outside `owned` are not written. `operands` is `layerOperands`, made once by
    public func weightBackward(globalRows: Int, owned: Range<Int>, parameters: UnsafePointer<Float>,
                               gradients: UnsafeMutablePointer<Float>) {
        for operand in operands {
            let layer = operand.layer
            let weights = layer.weightOffset..<(layer.weightOffset + layer.outFeatures * layer.inFeatures)
            let bias = layer.biasOffset..<(layer.biasOffset + layer.outFeatures)
            let ownedWeights = weights.clamped(to: owned), ownedBias = bias.clamped(to: owned)
            guard !ownedWeights.isEmpty || !ownedBias.isEmpty else { continue }
            precondition(ownedWeights.isEmpty || (ownedWeights.lowerBound - layer.weightOffset) % layer.inFeatures == 0
                         && (ownedWeights.upperBound - layer.weightOffset) % layer.inFeatures == 0,
                         "owned ranges must fall on tensor rows")
            let weightUnits = ownedWeights.isEmpty ? 0..<0
                : ((ownedWeights.lowerBound - layer.weightOffset) / layer.inFeatures)
                    ..< ((ownedWeights.upperBound - layer.weightOffset) / layer.inFeatures)
            let biasUnits = ownedBias.isEmpty ? 0..<0
                : (ownedBias.lowerBound - layer.biasOffset)..<(ownedBias.upperBound - layer.biasOffset)
            layer.backwardWeights(
                input: pointer(operand.input, row: 0), inputUnits: operand.inputUnits,
                outputGradient: pointer(operand.outputGradient, row: 0), outputUnits: operand.outputUnits,
                rows: globalRows * operand.outputGradient.rowsPerDatapoint,
                weightUnits: weightUnits, biasUnits: biasUnits,
                gradients: gradients, blockScratch: weightScratch.pointer)
        }
        if let region = logVarianceTermsRegion {
            let offset = reconstruction.logVarianceTensorOffset, pixels = architecture.dataDimension
            let ownedPixels = (offset..<(offset + pixels)).clamped(to: owned)
            reconstruction.logVarianceGradient(
                terms: pointer(region, row: 0), rows: globalRows * region.rowsPerDatapoint,
                pixels: ownedPixels.isEmpty ? 0..<0 : (ownedPixels.lowerBound - offset)..<(ownedPixels.upperBound - offset),
                parameters: parameters, gradients: gradients)
        }
    }

    /// The loss terms of the global batch: its rows' terms added in row order.
    public func lossTerms(globalRows: Int, beta: Float) -> LossTerms {
        let terms = UnsafeMutableRawPointer(pointer(rowTermsRegion, row: 0)).assumingMemoryBound(to: Double.self)
        var sums = LossTerms()
        for row in 0..<globalRows {
            sums.reconstruction += terms[2 * row]
            sums.kl += terms[2 * row + 1]
        }
        sums.loss = sums.reconstruction + Double(beta) * sums.kl
        sums.rows = globalRows
        return sums
    }

    /// Ranges of the flat buffer whose weight backward runs over compact (active) units.
    ///
    /// A ReLU encoder's hidden layers and head: about half their units are active on a batch
    /// of Fashion-MNIST after the first epoch, so their rows cost about half a dense row's
    /// FLOPs; an owner balances its ranges by that (`RowSharingExchange.ownedBoundaries`).
    public var compactedWeightRanges: [Range<Int>] {
        operands.filter { $0.inputUnits != nil || $0.outputUnits != nil }.map { operand in
            operand.layer.weightOffset..<(operand.layer.weightOffset + operand.layer.outFeatures * operand.layer.inFeatures)
        }
    }

    /// Boundaries of the flat buffer where an owned range may start or end: every row of
    /// every weight tensor, and both ends of every other tensor.
    public var ownershipBoundaries: [Int] {
        var boundaries: Set<Int> = [0, layout.totalCount]
        for tensor in layout.tensors {
            boundaries.insert(tensor.offset)
            boundaries.insert(tensor.offset + tensor.count)
        }
        for operand in operands {
            let layer = operand.layer
            for unit in 0...layer.outFeatures { boundaries.insert(layer.weightOffset + unit * layer.inFeatures) }
        }
        return boundaries.sorted()
    }
}
