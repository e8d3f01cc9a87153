import Foundation

/// Forward and backward of the negative ELBO for a batch, over buffers made once for at most `maxRows` rows.
///
///
/// Reads the flat parameter buffer and writes the flat gradient buffer; allocates
/// nothing per call. The gradient written is that of the SUM over the batch rows of the
/// per-datapoint loss: the trainer sums it over ranks and divides by the global row
/// count, which is right even when ranks hold different counts.
public final class ELBOObjective {
    public let architecture: ModelArchitecture
    public let settings: ObjectiveSettings
    public let layout: ParameterLayout
    public let maxRows: Int

    /// Data rows [rows, D] to [loc | rawScale] [rows, 2Z].
    ///
    /// The reference stack, or the active-units runner of the same layers for a ReLU MLP.
    private let encoder: any LayerStackRunner
    private let activeUnitsEncoder: ActiveUnitsEncoder?
    /// z [rows x L, Z] to the likelihood's parameter [rows x L, D]; rows are (datapoint, draw) pairs.
    private let decoder: LayerStack
    private let sample: ReparameterizedSample
    private let reconstruction: Reconstruction

    public convenience init(architecture: ModelArchitecture, settings: ObjectiveSettings, maxRows: Int) {
        self.init(architecture: architecture, settings: settings, maxRows: maxRows, restrictsToActiveUnits: true)
    }

    /// `restrictsToActiveUnits: false` keeps a ReLU encoder dense.
    ///
    /// That is the reference the restricted path is tested against.
    init(architecture: ModelArchitecture, settings: ObjectiveSettings, maxRows: Int, restrictsToActiveUnits: Bool) {
        precondition(maxRows >= 1, "maxRows must be at least 1")
        self.architecture = architecture
        self.settings = settings
        self.maxRows = maxRows
        let layers = ModelLayers(architecture)
        layout = layers.layout
        activeUnitsEncoder = restrictsToActiveUnits ? ActiveUnitsEncoder(layers: layers.encoder, maxRows: maxRows) : nil
        encoder = activeUnitsEncoder ?? LayerStack(layers: layers.encoder, maxRows: maxRows)
        decoder = LayerStack(layers: layers.decoder, maxRows: maxRows * settings.samples)
        sample = ReparameterizedSample(settings: settings, latentDimension: architecture.latentDimension,
                                       maxRows: maxRows)
        reconstruction = Reconstruction(architecture: architecture, settings: settings, layout: layout)
    }

    /// Encodes `count` rows of `batch` [count, D] into mu and logvar [count, Z].
    public func encode(batch: UnsafePointer<Float>, count: Int, parameters: UnsafePointer<Float>,
                       mu: UnsafeMutablePointer<Float>, logVariance: UnsafeMutablePointer<Float>) {
        precondition(count <= maxRows, "batch of \(count) rows exceeds the workspace of \(maxRows)")
        encoder.forward(input: batch, rows: count, parameters: parameters)
        let z = architecture.latentDimension
        for row in 0..<count {
            let source = encoder.output + row * 2 * z
            (mu + row * z).update(from: source, count: z)
            (logVariance + row * z).update(from: source + z, count: z)
        }
    }

    /// Decodes `count` latent codes [count, Z] into the decoder's output [count, D].
    ///
    /// The output is the likelihood's raw parameter: Bernoulli logits (apply a sigmoid for
    /// pixel means) or Gaussian means. `count` may be up to maxRows * L (the decoder's
    /// workspace holds every draw of a batch).
    public func decode(latentCodes: UnsafePointer<Float>, count: Int, parameters: UnsafePointer<Float>,
                       output destination: UnsafeMutablePointer<Float>) {
        precondition(count <= decoder.maxRows, "\(count) codes exceed the decoder workspace")
        decoder.forward(input: latentCodes, rows: count, parameters: parameters)
        destination.update(from: decoder.output, count: count * architecture.dataDimension)
    }

    /// The loss terms of `count` rows of `batch` [count, D], and their gradient.
    ///
    /// `rowIndices` are the rows' indices in the data file (they key the noise); the noise is
    /// `epoch`'s of `noisePurpose`, the KL weight `beta`.
    ///
    /// When `gradients` is non-nil, writes d(sum of row losses)/d(parameters) into it
    /// (every element is overwritten). When `logWeights` is non-nil, writes
    /// log p(x, z_l) - log q(z_l|x) for each row and draw, [count, L] (importance weights
    /// for evaluation). `dormantUnits`, for training rows only, leaves the first layer's
    /// dormant units out of its forward.
    @discardableResult
    public func evaluate(
        batch: UnsafePointer<Float>, rowIndices: UnsafeBufferPointer<Int>, count: Int,
        streams: RandomStreams, noisePurpose: RandomPurpose = .trainingNoise, epoch: Int, beta: Float,
        parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>?,
        logWeights: UnsafeMutablePointer<Double>? = nil, dormantUnits: DormantUnits? = nil,
        // Non-optional (an optional closure would escape and allocate on every call).
        decoderGradientsReady: (LossTerms) -> Void = { _ in }
    ) -> LossTerms {
        precondition(count <= maxRows, "batch of \(count) rows exceeds the workspace of \(maxRows)")
        precondition(rowIndices.count >= count, "fewer row indices than rows")
        var terms = LossTerms()
        terms.rows = count
        guard count > 0 else {
            gradients?.update(repeating: 0, count: layout.totalCount)
            return terms
        }
        let drawRows = count * settings.samples

        // Encoder, sample z = loc + s * eps for every (row, draw), decoder.
        if let dormantUnits, let activeUnitsEncoder {
            activeUnitsEncoder.forward(input: batch, rows: count, parameters: parameters, dormantUnits: dormantUnits)
        } else {
            encoder.forward(input: batch, rows: count, parameters: parameters)
        }
        let head = UnsafePointer(encoder.output)
        sample.draw(head: head, rowIndices: rowIndices, rows: count, streams: streams, purpose: noisePurpose,
                    epoch: epoch)
        decoder.forward(input: sample.latent.pointer, rows: drawRows, parameters: parameters)

        // -log p(x|z_l), whose gradient (times 1/L) replaces the decoder's output; then the KL.
        terms.reconstruction = reconstruction.negativeLogLikelihood(
            batch: batch, rows: count, decoderOutput: decoder.output, parameters: parameters, logWeights: logWeights)
        terms.kl = sample.kl(head: head, rows: count, logWeights: logWeights)
        terms.loss = terms.reconstruction + Double(beta) * terms.kl

        if let gradients {
            backward(batch: batch, count: count, beta: beta, parameters: parameters, gradients: gradients) {
                decoderGradientsReady(terms)
            }
        }
        return terms
    }

    /// Bytes the objective holds for `draws` decoder rows (the draws of a datapoint): the
    /// decoder's buffers, the sample's z, noise and dL/dz, and the importance weights.
    public static func decoderBytes(_ architecture: ModelArchitecture, draws: Int) -> Int {
        let floats = LayerStack.floatCount(ModelLayers(architecture).decoder, rows: draws)
            + 3 * architecture.latentDimension * draws
        return floats * MemoryLayout<Float>.size + draws * MemoryLayout<Double>.size
    }

    /// Where the decoder's gradients live in the flat buffer: the tail of the layout.
    ///
    /// They are final once `decoderGradientsReady` is called (the encoder's come after).
    public var decoderGradientRange: Range<Int> {
        let first = layout.tensors.first { $0.name.hasPrefix("decoder.") }!
        return first.offset..<layout.totalCount
    }

    /// The backward, from the likelihood gradient in the decoder's output to the first layer.
    ///
    /// `decoderGradientsReady` runs as soon as every decoder gradient is final, before the
    /// encoder's backward: a data-parallel caller can start reducing them meanwhile.
    private func backward(batch: UnsafePointer<Float>, count: Int, beta: Float,
                          parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                          decoderGradientsReady: () -> Void) {
        decoder.backward(input: sample.latent.pointer, outputGradient: decoder.output, rows: count * settings.samples,
                         parameters: parameters, gradients: gradients, inputGradient: sample.latentGradient.pointer)
        sample.backward(head: encoder.output, rows: count, beta: beta)
        reconstruction.logVarianceGradient(parameters: parameters, gradients: gradients)
        decoderGradientsReady()
        encoder.backward(input: batch, outputGradient: sample.headGradient.pointer, rows: count,
                         parameters: parameters, gradients: gradients, inputGradient: nil)
    }

    // MARK: Speed paths for ReLU MLP encoders (Sparsity/)

    /// A tracker of the first encoder layer's dormant units, for training steps.
    ///
    /// It is `evaluate`'s `dormantUnits`; nil unless the encoder is a ReLU MLP run over its
    /// active units.
    public func makeDormantUnits() -> DormantUnits? {
        activeUnitsEncoder.map { DormantUnits(layer: $0.firstLayer, maxRows: maxRows) }
    }

    /// How many units of each ReLU hidden layer were active on the last batch encoded.
    ///
    /// nil when the encoder is not restricted to active units.
    var activeUnitCounts: [Int]? { activeUnitsEncoder?.activeUnitCounts }
}
