import Foundation

/// What is optimised: the likelihood, the posterior family, the estimator and
/// the number of samples per datapoint. With an architecture that learns the
/// output variance (`learnedVarianceFloor`), the likelihood must be Gaussian and
/// its fixed variance is replaced by the learned per-pixel one.
public struct ObjectiveSettings: Sendable {
    public var likelihood: any Likelihood
    public var posterior: any PosteriorFamily
    public var estimator: Estimator
    public var samples: Int

    public init(likelihood: any Likelihood, posterior: any PosteriorFamily = DiagonalGaussian(),
                estimator: Estimator, samples: Int) {
        precondition(samples >= 1, "samples per datapoint must be at least 1")
        precondition(estimator == .A || posterior.hasAnalyticKL,
                     "estimator B needs an analytic KL; posterior \(posterior.name) has none")
        self.likelihood = likelihood
        self.posterior = posterior
        self.estimator = estimator
        self.samples = samples
    }
}

/// Forward and backward of the negative ELBO for a batch, over buffers made
/// once for at most `maxRows` rows. Reads the flat parameter buffer and writes
/// the flat gradient buffer; allocates nothing per call.
///
/// The gradient written is that of the SUM over the batch rows of the
/// per-datapoint loss: the trainer sums it over ranks and divides by the
/// global row count, which is right even when ranks hold different counts.
public final class ELBOObjective {
    public let architecture: ModelArchitecture
    public let settings: ObjectiveSettings
    public let layout: ParameterLayout
    public let maxRows: Int

    private let encoder: [Dense]
    private let head: Dense
    private let decoder: [Dense]
    private let output: Dense

    // Activations. Encoder rows are datapoints; decoder rows are (datapoint, draw) pairs.
    private let encoderActivations: [FloatBuffer]   // [maxRows, h_i]
    // ReLU encoders only (else nil and empty): each hidden layer's active units on
    // this batch, its output restricted to them [maxRows, active], and the gathered
    // weights and dW blocks of the layer that reads or writes them (ActiveUnits).
    private let activeUnits: [ActiveUnits]?
    private let activeActivations: [FloatBuffer]    // [maxRows, active_i]
    private let activeWeightScratch: FloatBuffer     // [widest out x in of the encoder and head]
    private let headOutput: FloatBuffer              // [maxRows, 2Z]: mu then logvar per row
    private let noise: FloatBuffer                   // [maxRows * L, Z]
    private let latent: FloatBuffer                  // [maxRows * L, Z]
    private let decoderActivations: [FloatBuffer]   // [maxRows * L, h_(k-i)]
    private let decoderOutput: FloatBuffer           // [maxRows * L, D]; becomes its own gradient
    // Gradients w.r.t. activations.
    private let latentGradient: FloatBuffer          // [maxRows * L, Z]
    private let latentGradientTransposed: FloatBuffer // [Z, maxRows * L]: see Dense.inputGradientThroughTranspose
    private let headGradient: FloatBuffer            // [maxRows, 2Z]
    private let gradientScratch: (FloatBuffer, FloatBuffer)  // [maxRows * L, widest hidden]
    // Learned per-pixel variance (nil unless the architecture has decoder.logvar).
    private let learnedVariance: LearnedVarianceGaussianLikelihood?
    private let logVarianceOffset: Int
    private let inverseVariance: FloatBuffer          // [D]
    private let logVarianceAccumulator: FloatBuffer   // [D]

    public convenience init(architecture: ModelArchitecture, settings: ObjectiveSettings, maxRows: Int) {
        self.init(architecture: architecture, settings: settings, maxRows: maxRows, restrictsToActiveUnits: true)
    }

    /// `restrictsToActiveUnits: false` keeps a ReLU encoder dense: the reference the
    /// restricted path is tested against.
    init(architecture: ModelArchitecture, settings: ObjectiveSettings, maxRows: Int, restrictsToActiveUnits: Bool) {
        precondition(maxRows >= 1, "maxRows must be at least 1")
        self.architecture = architecture
        self.settings = settings
        self.maxRows = maxRows
        let layers = architecture.buildLayers()
        (encoder, head, decoder, output, layout) =
            (layers.encoder, layers.head, layers.decoder, layers.output, layers.layout)

        let draws = maxRows * settings.samples
        let z = architecture.latentDimension
        encoderActivations = encoder.map { FloatBuffer(count: maxRows * $0.outFeatures) }
        if restrictsToActiveUnits && architecture.activation == .relu && !encoder.isEmpty {
            activeUnits = encoder.map { ActiveUnits(capacity: $0.outFeatures) }
            activeActivations = encoder.map { FloatBuffer(count: maxRows * $0.outFeatures) }
            activeWeightScratch = FloatBuffer(count: (encoder + [head]).map { $0.inFeatures * $0.outFeatures }.max()!)
        } else {
            activeUnits = nil
            activeActivations = []
            activeWeightScratch = FloatBuffer(count: 0)
        }
        headOutput = FloatBuffer(count: maxRows * 2 * z)
        noise = FloatBuffer(count: draws * z)
        latent = FloatBuffer(count: draws * z)
        decoderActivations = decoder.map { FloatBuffer(count: draws * $0.outFeatures) }
        decoderOutput = FloatBuffer(count: draws * architecture.dataDimension)
        latentGradient = FloatBuffer(count: draws * z)
        latentGradientTransposed = FloatBuffer(count: draws * z)
        headGradient = FloatBuffer(count: maxRows * 2 * z)
        let widest = architecture.hiddenSizes.max() ?? 0
        gradientScratch = (FloatBuffer(count: draws * widest), FloatBuffer(count: draws * widest))
        if let floor = architecture.learnedVarianceFloor {
            precondition(settings.likelihood is GaussianLikelihood, "a learned output variance needs the Gaussian likelihood")
            learnedVariance = LearnedVarianceGaussianLikelihood(varianceFloor: floor)
            logVarianceOffset = layout.tensor(named: ModelArchitecture.outputLogVarianceName)!.offset
        } else {
            learnedVariance = nil
            logVarianceOffset = 0
        }
        let pixels = learnedVariance == nil ? 0 : architecture.dataDimension
        inverseVariance = FloatBuffer(count: pixels)
        logVarianceAccumulator = FloatBuffer(count: pixels)
    }

    /// Encodes `count` rows of `batch` [count, D] into mu and logvar [count, Z].
    public func encode(batch: UnsafePointer<Float>, count: Int, parameters: UnsafePointer<Float>,
                       mu: UnsafeMutablePointer<Float>, logVariance: UnsafeMutablePointer<Float>) {
        precondition(count <= maxRows, "batch of \(count) rows exceeds the workspace of \(maxRows)")
        runEncoder(batch: batch, count: count, parameters: parameters)
        let z = architecture.latentDimension
        for row in 0..<count {
            let source = headOutput.pointer + row * 2 * z
            (mu + row * z).update(from: source, count: z)
            (logVariance + row * z).update(from: source + z, count: z)
        }
    }

    /// Decodes `count` latent codes `latentCodes` [count, Z] into the decoder's
    /// output [count, D]: Bernoulli logits or Gaussian means (the likelihood's raw
    /// parameter; apply a sigmoid for Bernoulli pixel means). `count` may be up to
    /// maxRows * L (the decoder's workspace holds every draw of a batch).
    public func decode(latentCodes: UnsafePointer<Float>, count: Int, parameters: UnsafePointer<Float>,
                       output destination: UnsafeMutablePointer<Float>) {
        precondition(count <= maxRows * settings.samples, "\(count) codes exceed the decoder workspace")
        var input = latentCodes
        for (layer, activations) in zip(decoder, decoderActivations) {
            layer.forward(input: input, rows: count, parameters: parameters,
                          output: activations.pointer, activation: architecture.activation)
            input = UnsafePointer(activations.pointer)
        }
        output.forward(input: input, rows: count, parameters: parameters, output: destination)
    }

    /// A tracker of the first encoder layer's dormant units for this workspace, for training
    /// steps (`evaluate`'s `dormantUnits`); nil unless the encoder is ReLU and restricted
    /// to active units.
    public func makeDormantUnits() -> DormantUnits? {
        guard activeUnits != nil, let first = encoder.first else { return nil }
        return DormantUnits(layer: first, maxRows: maxRows)
    }

    private func runEncoder(batch: UnsafePointer<Float>, count: Int, parameters: UnsafePointer<Float>,
                            dormantUnits: DormantUnits? = nil) {
        var input = batch
        var inputUnits: ActiveUnits? = nil
        for (index, layer) in encoder.enumerated() {
            let activations = encoderActivations[index].pointer
            if index == 0, let dormantUnits {
                precondition(dormantUnits.layer == layer && activeUnits != nil, "dormant units of another model")
                dormantUnits.forward(input: input, rows: count, parameters: parameters, output: activations)
            } else {
                layer.forward(input: input, inputUnits: inputUnits, rows: count, parameters: parameters,
                              weightScratch: activeWeightScratch.pointer, output: activations,
                              activation: architecture.activation)
            }
            if let units = activeUnits?[index] {
                units.find(in: activations, rows: count)
                units.gatherColumns(of: activations, rows: count, into: activeActivations[index].pointer)
            }
            (input, inputUnits) = encoderOutput(index)
        }
        head.forward(input: input, inputUnits: inputUnits, rows: count, parameters: parameters,
                     weightScratch: activeWeightScratch.pointer, output: headOutput.pointer)
    }

    /// How many units of each ReLU hidden layer were active on the last batch encoded
    /// (nil when the encoder is not restricted to active units).
    var activeUnitCounts: [Int]? { activeUnits?.map(\.count) }

    /// Encoder hidden layer `index`'s output as the next layer reads it: [rows, h_i],
    /// or [rows, active] over its active units when the encoder is restricted to them.
    private func encoderOutput(_ index: Int) -> (UnsafePointer<Float>, ActiveUnits?) {
        if let units = activeUnits?[index] { return (UnsafePointer(activeActivations[index].pointer), units) }
        return (UnsafePointer(encoderActivations[index].pointer), nil)
    }

    /// The loss terms of `count` rows of `batch` [count, D] whose data-file rows
    /// are `rowIndices` (they key the noise), with noise from `epoch` of
    /// `noisePurpose`, KL weight `beta`. When `gradients` is non-nil, writes
    /// d(sum of row losses)/d(parameters) into it (every element is overwritten).
    /// When `logWeights` is non-nil, writes log p(x, z_l) - log q(z_l|x) for each
    /// row and draw, [count, L] (importance weights for evaluation). `dormantUnits`, for
    /// training rows only, leaves the first layer's dormant units out of its forward.
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
        let z = architecture.latentDimension
        let d = architecture.dataDimension
        let draws = settings.samples
        let drawRows = count * draws
        let posterior = settings.posterior
        let estimatorA = settings.estimator == .A

        // Encoder, then z = loc + s * eps, s = exp(rawScale / 2), for every (row, draw).
        runEncoder(batch: batch, count: count, parameters: parameters, dormantUnits: dormantUnits)
        if let gaussian = posterior as? DiagonalGaussian {
            drawLatents(gaussian, rowIndices: rowIndices, count: count, streams: streams, purpose: noisePurpose,
                        epoch: epoch)
        } else {
            drawLatents(posterior, rowIndices: rowIndices, count: count, streams: streams, purpose: noisePurpose,
                        epoch: epoch)
        }

        // Decoder.
        var input = UnsafePointer(latent.pointer)
        for (layer, activations) in zip(decoder, decoderActivations) {
            layer.forward(input: input, rows: drawRows, parameters: parameters,
                          output: activations.pointer, activation: architecture.activation)
            input = UnsafePointer(activations.pointer)
        }
        output.forward(input: input, rows: drawRows, parameters: parameters, output: decoderOutput.pointer)

        // Reconstruction: -log p(x|z_l); its gradient (times 1/L) replaces the output in place.
        let inverseDraws = 1 / Float(draws)
        var normalizer = 0.0
        if let learnedVariance {
            normalizer = learnedVariance.prepare(logVariance: parameters + logVarianceOffset, count: d,
                                                 inverseVariance: inverseVariance.pointer)
            logVarianceAccumulator.pointer.update(repeating: 0, count: d)
        }
        for row in 0..<count {
            var rowReconstruction = 0.0
            for draw in 0..<draws {
                let outputRow = decoderOutput.pointer + (row * draws + draw) * d
                let nll = if let learnedVariance {
                    learnedVariance.negativeLogLikelihood(
                        data: batch + row * d, output: outputRow, count: d,
                        inverseVariance: inverseVariance.pointer, normalizer: normalizer,
                        gradientScale: inverseDraws, gradient: outputRow,
                        logVarianceAccumulator: logVarianceAccumulator.pointer)
                } else {
                    settings.likelihood.negativeLogLikelihood(
                        data: batch + row * d, output: outputRow, count: d,
                        gradientScale: inverseDraws, gradient: outputRow)
                }
                rowReconstruction += nll
                logWeights?[row * draws + draw] = -nll
            }
            terms.reconstruction += rowReconstruction / Double(draws)
        }

        // KL: analytic (B) or log q - log p at the samples (A, and for the importance weights).
        let needSampleDensities = estimatorA || logWeights != nil
        for row in 0..<count {
            let loc = headOutput.pointer + row * 2 * z
            if estimatorA {
                var sum = 0.0
                for draw in 0..<draws {
                    sum += sampleLogRatio(row: row, draw: draw, loc: loc)
                }
                terms.kl += sum / Double(draws)
            } else {
                let kl = if let gaussian = posterior as? DiagonalGaussian { analyticKL(gaussian, loc: loc) }
                         else { analyticKL(posterior, loc: loc) }
                terms.kl += Double(kl)
            }
            if needSampleDensities, let logWeights {
                for draw in 0..<draws {
                    logWeights[row * draws + draw] -= sampleLogRatio(row: row, draw: draw, loc: loc)
                }
            }
        }
        terms.loss = terms.reconstruction + Double(beta) * terms.kl

        if let gradients {
            backward(batch: batch, count: count, beta: beta, parameters: parameters, gradients: gradients) {
                decoderGradientsReady(terms)
            }
        }
        return terms
    }

    /// Where the decoder's gradients live in the flat buffer: the tail of the layout,
    /// final once `decoderGradientsReady` is called (the encoder's come after).
    public var decoderGradientRange: Range<Int> {
        let first = layout.tensors.first { $0.name.hasPrefix("decoder.") }!
        return first.offset..<layout.totalCount
    }

    // The per-coordinate loops around the sample are generic over the family, and called
    // with the default family's concrete type, so that its loops are specialised and inlined;
    // through `any PosteriorFamily` they cost a dynamic call per coordinate and function
    // (~2% of a default step in `perf`). The other families take the unspecialised path.

    /// noise and z = loc + s * eps, s = exp(rawScale / 2), for every (row, draw).
    private func drawLatents<Family: PosteriorFamily>(
        _ posterior: Family, rowIndices: UnsafeBufferPointer<Int>, count: Int, streams: RandomStreams,
        purpose: RandomPurpose, epoch: Int
    ) {
        let z = architecture.latentDimension
        let draws = settings.samples
        for row in 0..<count {
            let loc = headOutput.pointer + row * 2 * z
            for draw in 0..<draws {
                let offset = (row * draws + draw) * z
                let (rowNoise, rowLatent) = (noise.pointer + offset, latent.pointer + offset)
                posterior.noise(streams: streams, purpose: purpose, epoch: epoch,
                                row: rowIndices[row], draw: draw, count: z, into: rowNoise)
                for j in 0..<z {
                    rowLatent[j] = posterior.sample(loc: loc[j], rawScale: loc[z + j], eps: rowNoise[j]).z
                }
            }
        }
    }

    /// KL(q || N(0, I)) of one row, `loc` [2Z]: loc then rawScale.
    private func analyticKL<Family: PosteriorFamily>(_ posterior: Family, loc: UnsafePointer<Float>) -> Float {
        let z = architecture.latentDimension
        var kl: Float = 0
        for j in 0..<z { kl += posterior.klToStandardNormal(loc: loc[j], rawScale: loc[z + j]).value }
        return kl
    }

    /// log q(z|x) - log p(z) of one (row, draw), summed over the latent coordinates.
    private func sampleLogRatio(row: Int, draw: Int, loc: UnsafePointer<Float>) -> Double {
        let z = architecture.latentDimension
        let offset = (row * settings.samples + draw) * z
        var sum: Float = 0
        for j in 0..<z {
            let eps = noise[offset + j]
            let sample = latent[offset + j]
            let logQ = settings.posterior.standardLogDensity(eps).value - 0.5 * loc[z + j]
            let logP = -0.5 * sample * sample - LatentConstants.halfLogTwoPi
            sum += logQ - logP
        }
        return Double(sum)
    }

    /// dL/d(loc, rawScale) [rows, 2Z] into headGradient, from dL/dz in latentGradient: through the
    /// sample z = loc + scale * eps, plus the KL terms.
    private func backpropagateThroughSample<Family: PosteriorFamily>(_ posterior: Family, count: Int, beta: Float) {
        let z = architecture.latentDimension
        let draws = settings.samples
        let estimatorA = settings.estimator == .A
        let drawWeight = beta / Float(draws)
        for row in 0..<count {
            let loc = headOutput.pointer + row * 2 * z
            let locGradient = headGradient.pointer + row * 2 * z
            for j in 0..<z {
                var dLoc: Float = 0
                var dRawScale: Float = 0
                let scale = Foundation.exp(0.5 * loc[z + j])
                for draw in 0..<draws {
                    let offset = (row * draws + draw) * z + j
                    let eps = noise[offset]
                    var dSample = latentGradient[offset]
                    if estimatorA {
                        // beta/L * (log q(z) - log p(z)); log q through z and through (loc, rawScale).
                        let logDensitySlope = posterior.standardLogDensity(eps).derivative
                        dSample += drawWeight * (logDensitySlope / scale + latent[offset])
                        dLoc -= drawWeight * logDensitySlope / scale
                        dRawScale -= drawWeight * 0.5 * (logDensitySlope * eps + 1)
                    }
                    // The sampler's partials (PosteriorFamily.sample): dz/dloc = 1, dz/drawScale = s eps / 2.
                    dLoc += dSample
                    dRawScale += dSample * 0.5 * scale * eps
                }
                if !estimatorA {
                    let kl = posterior.klToStandardNormal(loc: loc[j], rawScale: loc[z + j])
                    dLoc += beta * kl.dLoc
                    dRawScale += beta * kl.dRawScale
                }
                locGradient[j] = dLoc
                locGradient[z + j] = dRawScale
            }
        }
    }

    /// `decoderGradientsReady` runs as soon as every decoder gradient is final, before the
    /// encoder's backward: a data-parallel caller can start reducing them meanwhile.
    private func backward(batch: UnsafePointer<Float>, count: Int, beta: Float,
                          parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                          decoderGradientsReady: () -> Void) {
        let drawRows = count * settings.samples

        // Decoder, from the likelihood gradient already in decoderOutput down to dL/dz.
        var upstream = UnsafeMutablePointer(decoderOutput.pointer)
        var scratch = gradientScratch
        for index in stride(from: decoder.count, through: 0, by: -1) {
            let layer = index == decoder.count ? output : decoder[index]
            let layerInput = index == 0 ? UnsafePointer(latent.pointer)
                                        : UnsafePointer(decoderActivations[index - 1].pointer)
            let inputGradient = index == 0 ? latentGradient.pointer : scratch.0.pointer
            layer.backward(input: layerInput, outputGradient: upstream, rows: drawRows, parameters: parameters,
                           gradients: gradients, inputGradient: index == 0 ? nil : inputGradient)
            if index == 0 {
                layer.inputGradientThroughTranspose(outputGradient: upstream, rows: drawRows, parameters: parameters,
                                                    scratch: latentGradientTransposed.pointer,
                                                    inputGradient: latentGradient.pointer)
            } else {
                architecture.activation.backward(
                    gradient: inputGradient, output: decoderActivations[index - 1].pointer,
                    count: drawRows * layer.inFeatures)
                upstream = inputGradient
                swap(&scratch.0, &scratch.1)
            }
        }

        if let gaussian = settings.posterior as? DiagonalGaussian {
            backpropagateThroughSample(gaussian, count: count, beta: beta)
        } else {
            backpropagateThroughSample(settings.posterior, count: count, beta: beta)
        }

        if let learnedVariance {
            learnedVariance.logVarianceGradient(
                logVariance: parameters + logVarianceOffset, inverseVariance: inverseVariance.pointer,
                accumulator: logVarianceAccumulator.pointer, count: architecture.dataDimension,
                gradient: gradients + logVarianceOffset)
        }
        decoderGradientsReady()

        // Encoder: the heads, then the hidden layers; the data needs no gradient.
        // With a ReLU encoder, gradients w.r.t. hidden outputs are [rows, active] too.
        upstream = headGradient.pointer
        var outputUnits: ActiveUnits? = nil
        for index in stride(from: encoder.count, through: 0, by: -1) {
            let layer = index == encoder.count ? head : encoder[index]
            let (layerInput, inputUnits) = index == 0 ? (batch, nil) : encoderOutput(index - 1)
            let inputGradient = index == 0 ? nil : scratch.0.pointer
            layer.backward(input: layerInput, inputUnits: inputUnits, outputGradient: upstream,
                           outputUnits: outputUnits, rows: count, parameters: parameters, gradients: gradients,
                           weightScratch: activeWeightScratch.pointer, inputGradient: inputGradient)
            if let inputGradient {
                architecture.activation.backward(
                    gradient: inputGradient, output: layerInput,
                    count: count * (inputUnits?.count ?? layer.inFeatures))
                upstream = inputGradient
                outputUnits = inputUnits
                swap(&scratch.0, &scratch.1)
            }
        }
    }
}
