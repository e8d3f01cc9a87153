/// The reconstruction term: -log p(x|z_l) of every (row, draw), and its gradient.
///
/// The gradient replaces the decoder's output in place. With an architecture that learns
/// the output variance, the likelihood is `LearnedVarianceGaussianLikelihood` over the
/// parameter tensor `decoder.logvar`, and its gradient is accumulated over the batch for
/// `logVarianceGradient`.
final class Reconstruction {
    private let likelihood: any Likelihood
    private let samples: Int
    private let pixels: Int
    private let learnedVariance: LearnedVarianceGaussianLikelihood?
    private let logVarianceOffset: Int
    private let inverseVariance: FloatBuffer          // [D]
    private let logVarianceAccumulator: FloatBuffer   // [D]

    init(architecture: ModelArchitecture, settings: ObjectiveSettings, layout: ParameterLayout) {
        likelihood = settings.likelihood
        samples = settings.samples
        pixels = architecture.dataDimension
        if let floor = architecture.learnedVarianceFloor {
            precondition(settings.likelihood is GaussianLikelihood, "a learned output variance needs the Gaussian likelihood")
            learnedVariance = LearnedVarianceGaussianLikelihood(varianceFloor: floor)
            logVarianceOffset = layout.tensor(named: ModelArchitecture.outputLogVarianceName)!.offset
        } else {
            learnedVariance = nil
            logVarianceOffset = 0
        }
        let learned = learnedVariance == nil ? 0 : pixels
        inverseVariance = FloatBuffer(count: learned)
        logVarianceAccumulator = FloatBuffer(count: learned)
    }

    /// (1/L) sum_l -log p(x|z_l), summed over `rows` rows of `batch` [rows, D].
    ///
    /// The decoder's output [rows x L, D] (row-major by datapoint, then draw) is overwritten
    /// by 1/L times its gradient. With `logWeights` [rows, L], writes log p(x|z_l) into it.
    /// With `perRow` [rows], writes each row's term there too. With `logVarianceTerms`
    /// [rows x L, D], a learned variance's gradient terms go there per (row, draw) instead of
    /// into the batch's sum (a data-parallel step adds them over every rank's rows in order).
    func negativeLogLikelihood(batch: UnsafePointer<Float>, rows: Int, decoderOutput: UnsafeMutablePointer<Float>,
                               parameters: UnsafePointer<Float>, logWeights: UnsafeMutablePointer<Double>?,
                               perRow: UnsafeMutablePointer<Double>? = nil,
                               logVarianceTerms: UnsafeMutablePointer<Float>? = nil) -> Double {
        let d = pixels
        let inverseDraws = 1 / Float(samples)
        var normalizer = 0.0
        if let learnedVariance {
            normalizer = learnedVariance.prepare(logVariance: parameters + logVarianceOffset, count: d,
                                                 inverseVariance: inverseVariance.pointer)
            logVarianceAccumulator.pointer.update(repeating: 0, count: d)
        }
        var total = 0.0
        for row in 0..<rows {
            var rowReconstruction = 0.0
            for draw in 0..<samples {
                let outputRow = decoderOutput + (row * samples + draw) * d
                let terms = logVarianceTerms.map { $0 + (row * samples + draw) * d }
                terms?.update(repeating: 0, count: d)
                let nll = if let learnedVariance {
                    learnedVariance.negativeLogLikelihood(
                        data: batch + row * d, output: outputRow, count: d,
                        inverseVariance: inverseVariance.pointer, normalizer: normalizer,
                        gradientScale: inverseDraws, gradient: outputRow,
                        logVarianceAccumulator: terms ?? logVarianceAccumulator.pointer)
                } else {
                    likelihood.negativeLogLikelihood(data: batch + row * d, output: outputRow, count: d,
                                                     gradientScale: inverseDraws, gradient: outputRow)
                }
                rowReconstruction += nll
                logWeights?[row * samples + draw] = -nll
            }
            total += rowReconstruction / Double(samples)
            perRow?[row] = rowReconstruction / Double(samples)
        }
        return total
    }

    /// d(loss)/d(decoder.logvar) into the flat `gradients`; nothing without a learned variance.
    ///
    /// From the sums of the last `negativeLogLikelihood`.
    func logVarianceGradient(parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        guard let learnedVariance else { return }
        learnedVariance.logVarianceGradient(
            logVariance: parameters + logVarianceOffset, inverseVariance: inverseVariance.pointer,
            accumulator: logVarianceAccumulator.pointer, count: pixels, gradient: gradients + logVarianceOffset)
    }

    /// d(loss)/d(decoder.logvar) of `pixels` into `gradients`, from per-(row, draw) terms.
    ///
    /// `terms` [rows, D] were written by `negativeLogLikelihood(logVarianceTerms:)` on every
    /// rank; they are added in row order, as one process accumulates them. Only the entries
    /// `pixels` (a rank's share of the tensor) are written.
    func logVarianceGradient(terms: UnsafePointer<Float>, rows: Int, pixels range: Range<Int>,
                             parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>) {
        guard let learnedVariance, !range.isEmpty else { return }
        _ = learnedVariance.prepare(logVariance: parameters + logVarianceOffset, count: pixels,
                                    inverseVariance: inverseVariance.pointer)
        let sums = logVarianceAccumulator.pointer
        sums.update(repeating: 0, count: pixels)
        for row in 0..<rows {
            let rowTerms = terms + row * pixels
            for d in range { sums[d] += rowTerms[d] }
        }
        let first = range.lowerBound
        learnedVariance.logVarianceGradient(
            logVariance: parameters + logVarianceOffset + first, inverseVariance: inverseVariance.pointer + first,
            accumulator: sums + first, count: range.count, gradient: gradients + logVarianceOffset + first)
    }

    /// Where the learned log-variance tensor sits in the flat buffers (0 without one).
    var logVarianceTensorOffset: Int { logVarianceOffset }
    var learnsVariance: Bool { learnedVariance != nil }
}
