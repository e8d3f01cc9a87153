/// One training step cut the data-parallel way that keeps one process's bits: rows, then units.
///
/// The per-row work (forward, the data backward through every layer, the loss terms of each
/// row) depends only on the row, so each rank does it for its rows of the global batch,
/// straight into the `StepRows` regions at those rows' positions. Once every rank's rows
/// are shared, the weight backward of each layer is dY^T X over all rows of the global
/// batch, and each rank computes it for the units it owns, in one GEMM per layer with
/// K = the global rows, exactly as one process does (`Dense.backwardWeights(...weightUnits:)`).
/// The loss sums add the rows' terms in row order. With `ReproducibleGEMM` in force no
/// product depends on how many rows or units a call holds, so N ranks give one process's
/// bits (docs/algorithm.md, "Data-parallel step").
///
/// A ReLU encoder is compacted to its active units as the one-process objective does, by
/// the units active on some row of the GLOBAL batch: `agree` combines the ranks' flags.
/// The MLP only (dense encoder and decoder); buffers are made once.
public final class SplitStep {
    public let architecture: ModelArchitecture
    public let settings: ObjectiveSettings
    public let layout: ParameterLayout
    /// The most rows this rank holds in a step.
    public let maxRows: Int
    public let rows: StepRows

    let encoder: [Dense]
    let head: Dense
    let decoder: [Dense]
    let output: Dense
    let activation: Activation
    /// Each encoder hidden layer's active units over the global batch (ReLU only).
    public let activeUnits: [ActiveUnits]?
    let sample: ReparameterizedSample
    let reconstruction: Reconstruction
    /// [maxRows, h_i]: a ReLU hidden layer's full output before it is compacted.
    private let fullHidden: [FloatBuffer]
    private let headOutput: FloatBuffer      // [maxRows, 2Z]
    private let rowValues: UnsafeMutablePointer<Double>  // [maxRows]: one term per row
    // The regions, by role (looked up once: a step allocates nothing).
    let dataRegion: StepRows.Region
    let encoderActivations: [StepRows.Region]
    let encoderGradients: [StepRows.Region]
    let headGradientRegion: StepRows.Region
    let latentRegion: StepRows.Region
    let decoderActivations: [StepRows.Region]
    let decoderGradients: [StepRows.Region]
    let outputGradientRegion: StepRows.Region
    let rowTermsRegion: StepRows.Region
    let logVarianceTermsRegion: StepRows.Region?
    /// Every dense layer with the regions its weight backward reads, in layout order.
    private(set) lazy var operands: [LayerOperands] = makeLayerOperands()
    let weightScratch: FloatBuffer           // [widest out x in]
    private var base: UnsafeMutablePointer<Float>?

    /// Whether `architecture` is the MLP of dense layers this step knows (not a convolutional model).
    public static func knows(_ architecture: ModelArchitecture) -> Bool { architecture.convolution == nil }

    /// nil when the architecture is not the MLP of dense layers this step knows.
    public init?(architecture: ModelArchitecture, settings: ObjectiveSettings, globalBatch: Int, maxRows: Int) {
        precondition(maxRows >= 1 && globalBatch >= maxRows, "rows per rank must be 1...global batch")
        guard Self.knows(architecture) else { return nil }
        let layers = ModelLayers(architecture)
        func dense(_ layer: any Layer) -> Dense? { (layer as? Dense) ?? (layer as? NarrowInputDense)?.dense }
        let encoderDense = layers.encoder.compactMap(dense), decoderDense = layers.decoder.compactMap(dense)
        let hidden = architecture.hiddenSizes.count
        guard encoderDense.count == hidden + 1, decoderDense.count == hidden + 1,
              layers.encoder.count == 2 * hidden + 1, layers.decoder.count == 2 * hidden + 1 else { return nil }
        self.architecture = architecture
        self.settings = settings
        layout = layers.layout
        self.maxRows = maxRows
        encoder = Array(encoderDense.dropLast())
        head = encoderDense.last!
        decoder = Array(decoderDense.dropLast())
        output = decoderDense.last!
        activation = architecture.activation
        let relu = activation == .relu && hidden > 0
        activeUnits = relu ? encoder.map { ActiveUnits(capacity: $0.outFeatures) } : nil
        sample = ReparameterizedSample(settings: settings, latentDimension: architecture.latentDimension, maxRows: maxRows)
        reconstruction = Reconstruction(architecture: architecture, settings: settings, layout: layout)
        fullHidden = relu ? encoder.map { FloatBuffer(count: maxRows * $0.outFeatures) } : []
        headOutput = FloatBuffer(count: maxRows * head.outFeatures)
        weightScratch = FloatBuffer(count: (encoderDense + decoderDense).map { $0.inFeatures * $0.outFeatures }.max()!)

        let draws = settings.samples
        var tensors: [(String, Int, Int, Int?)] = [("data", 1, architecture.dataDimension, nil)]
        for (index, layer) in encoder.enumerated() {
            tensors.append(("encoder.activation\(index)", 1, layer.outFeatures, relu ? index : nil))
            tensors.append(("encoder.gradient\(index)", 1, layer.outFeatures, relu ? index : nil))
        }
        tensors.append(("encoder.headGradient", 1, head.outFeatures, nil))
        tensors.append(("latent", draws, architecture.latentDimension, nil))
        for (index, layer) in decoder.enumerated() {
            tensors.append(("decoder.activation\(index)", draws, layer.outFeatures, nil))
            tensors.append(("decoder.gradient\(index)", draws, layer.outFeatures, nil))
        }
        tensors.append(("decoder.outputGradient", draws, architecture.dataDimension, nil))
        tensors.append(("rowTerms", 1, 4, nil))  // two doubles: reconstruction, KL
        if architecture.learnedVarianceFloor != nil {
            tensors.append(("decoder.logvarTerms", draws, architecture.dataDimension, nil))
        }
        let rows = StepRows(globalBatch: globalBatch, tensors: tensors.map { ($0.0, $0.1, $0.2, $0.3) })
        self.rows = rows
        rowValues = .allocate(capacity: maxRows)
        rowValues.initialize(repeating: 0, count: maxRows)
        dataRegion = rows.region(named: "data")
        encoderActivations = encoder.indices.map { rows.region(named: "encoder.activation\($0)") }
        encoderGradients = encoder.indices.map { rows.region(named: "encoder.gradient\($0)") }
        headGradientRegion = rows.region(named: "encoder.headGradient")
        latentRegion = rows.region(named: "latent")
        decoderActivations = decoder.indices.map { rows.region(named: "decoder.activation\($0)") }
        decoderGradients = decoder.indices.map { rows.region(named: "decoder.gradient\($0)") }
        outputGradientRegion = rows.region(named: "decoder.outputGradient")
        rowTermsRegion = rows.region(named: "rowTerms")
        logVarianceTermsRegion = architecture.learnedVarianceFloor == nil ? nil : rows.region(named: "decoder.logvarTerms")
    }

    deinit { rowValues.deallocate() }

    /// Places the regions at `base` (`rows.floatCount` floats): shared memory, or a rank's own.
    public func bind(_ base: UnsafeMutablePointer<Float>) { self.base = base }

    /// The first float of `region`'s row `row` (a datapoint's first draw), at this step's width.
    public func pointer(_ region: StepRows.Region, row: Int) -> UnsafeMutablePointer<Float> {
        guard let base else { preconditionFailure("SplitStep used before bind") }
        return base + region.offset + row * region.rowsPerDatapoint * width(of: region)
    }

    /// A region's row width this step: the active count of its compacting layer, else its width.
    public func width(of region: StepRows.Region) -> Int {
        region.activeUnitsOfLayer.map { activeUnits![$0].count } ?? region.width
    }

    /// The data rows go here: [rows, D] at the rows' positions in the global batch.
    public func dataRows(from row: Int) -> UnsafeMutablePointer<Float> { pointer(dataRegion, row: row) }

    /// The rows half for `count` rows at global positions `first`..., their data already in place.
    ///
    /// `rowIndices` are their data-file rows (the noise's keys). Writes every per-row tensor
    /// of `rows` for those rows, and their loss terms. `agree(units, layer)` must combine
    /// `units.localFlags` of every rank (OR) and `adopt` the result; it is called for each
    /// ReLU hidden layer in order, on every rank, also for `count` 0.
    public func computeRows(count: Int, first: Int, rowIndices: UnsafeBufferPointer<Int>, streams: RandomStreams,
                            epoch: Int, beta: Float, parameters: UnsafePointer<Float>, dormantUnits: DormantUnits?,
                            agree: (ActiveUnits, Int) throws -> Void) rethrows {
        precondition(count <= maxRows, "\(count) rows exceed the workspace of \(maxRows)")
        let draws = settings.samples
        // Encoder.
        var input = UnsafePointer(dataRows(from: first))
        var inputUnits: ActiveUnits? = nil
        for (index, layer) in encoder.enumerated() {
            if let units = activeUnits?[index] {
                let full = fullHidden[index].pointer
                if count == 0 {
                    // No rows here: flags all 0 (nothing runs, nothing is observed).
                } else if index == 0, let dormantUnits {
                    dormantUnits.forward(input: input, rows: count, parameters: parameters, output: full)
                } else {
                    layer.forward(input: input, inputUnits: inputUnits, rows: count, parameters: parameters,
                                  weightScratch: weightScratch.pointer, output: full)
                    Activation.relu.forward(full, count: count * layer.outFeatures)
                }
                units.findFlags(in: full, rows: count)
                try agree(units, index)
                let compact = pointer(encoderActivations[index], row: first)  // at the agreed width
                units.gatherColumns(of: full, rows: count, into: compact)
                (input, inputUnits) = (UnsafePointer(compact), units)
            } else {
                let activations = pointer(encoderActivations[index], row: first)
                layer.forward(input: input, rows: count, parameters: parameters, output: activations)
                activation.forward(activations, count: count * layer.outFeatures)
                (input, inputUnits) = (UnsafePointer(activations), nil)
            }
        }
        guard count > 0 else { return }
        head.forward(input: input, inputUnits: inputUnits, rows: count, parameters: parameters,
                     weightScratch: weightScratch.pointer, output: headOutput.pointer)

        // z = loc + s * eps for every (row, draw), the KL of each row.
        let headValues = UnsafePointer(headOutput.pointer)
        let terms = UnsafeMutableRawPointer(pointer(rowTermsRegion, row: first)).assumingMemoryBound(to: Double.self)
        sample.draw(head: headValues, rowIndices: rowIndices, rows: count, streams: streams, purpose: .trainingNoise,
                    epoch: epoch)
        let z = architecture.latentDimension
        pointer(latentRegion, row: first).update(from: sample.latent.pointer, count: count * draws * z)
        _ = sample.kl(head: headValues, rows: count, logWeights: nil, perRow: rowValues)
        for row in 0..<count { terms[2 * row + 1] = rowValues[row] }

        // Decoder forward; the likelihood's gradient replaces its output.
        let drawRows = count * draws
        var decoderInput = UnsafePointer(pointer(latentRegion, row: first))
        for (index, layer) in decoder.enumerated() {
            let activations = pointer(decoderActivations[index], row: first)
            layer.forward(input: decoderInput, rows: drawRows, parameters: parameters, output: activations)
            activation.forward(activations, count: drawRows * layer.outFeatures)
            decoderInput = UnsafePointer(activations)
        }
        let outputGradient = pointer(outputGradientRegion, row: first)
        output.forward(input: decoderInput, rows: drawRows, parameters: parameters, output: outputGradient)
        _ = reconstruction.negativeLogLikelihood(
            batch: dataRows(from: first), rows: count, decoderOutput: outputGradient, parameters: parameters,
            logWeights: nil, perRow: rowValues, logVarianceTerms: logVarianceTermsRegion.map { pointer($0, row: first) })
        for row in 0..<count { terms[2 * row] = rowValues[row] }

        // The data backward: decoder, sample, encoder; each layer's dY lands in its region.
        var upstream = UnsafePointer(outputGradient)
        for index in stride(from: decoder.count - 1, through: 0, by: -1) {
            let above = index == decoder.count - 1 ? output : decoder[index + 1]
            let gradient = pointer(decoderGradients[index], row: first)
            above.backwardData(outputGradient: upstream, rows: drawRows, parameters: parameters, inputGradient: gradient)
            activation.backward(gradient: gradient, output: pointer(decoderActivations[index], row: first),
                                count: drawRows * above.inFeatures)
            upstream = UnsafePointer(gradient)
        }
        (decoder.first ?? output).backwardData(outputGradient: upstream, rows: drawRows, parameters: parameters,
                                               inputGradient: sample.latentGradient.pointer)
        sample.backward(head: headValues, rows: count, beta: beta)
        let headGradient = pointer(headGradientRegion, row: first)
        headGradient.update(from: sample.headGradient.pointer, count: count * head.outFeatures)
        var encoderUpstream = UnsafePointer(headGradient)
        var upstreamUnits: ActiveUnits? = nil
        for index in stride(from: encoder.count - 1, through: 0, by: -1) {
            let above = index == encoder.count - 1 ? head : encoder[index + 1]
            let units = activeUnits?[index]
            let gradient = pointer(encoderGradients[index], row: first)
            above.backwardData(outputGradient: encoderUpstream, outputUnits: upstreamUnits, rows: count,
                               parameters: parameters, inputUnits: units, weightScratch: weightScratch.pointer,
                               inputGradient: gradient)
            activation.backward(gradient: gradient, output: pointer(encoderActivations[index], row: first),
                                count: count * (units?.count ?? above.inFeatures))
            (encoderUpstream, upstreamUnits) = (UnsafePointer(gradient), units)
        }
    }
}
