import Foundation
import VAECore
import VAEIO

/// The per-row numbers of an evaluation, in nats.
struct RowValues {
    static let count = 5
    var negativeELBOA = 0.0
    var negativeELBOB = 0.0
    var reconstruction = 0.0
    var kl = 0.0
    /// 0 when K = 0.
    var negativeLogLikelihood = 0.0

    var array: [Double] { [negativeELBOA, negativeELBOB, reconstruction, kl, negativeLogLikelihood] }
}

/// Evaluates one row at a time: an -ELBO pass with L draws and an IWAE pass with K.
final class RowEvaluator {
    private let elbo: ELBOObjective
    private let importance: ELBOObjective?
    private let parameters: FloatBuffer
    private let streams: RandomStreams
    private let elboWeights: UnsafeMutableBufferPointer<Double>        // [L]
    private let importanceWeights: UnsafeMutableBufferPointer<Double>  // [K]

    init(model: CheckpointedModel, samples: Int, importanceSamples: Int, streams: RandomStreams) {
        let architecture = model.configuration.architecture
        // Estimator B: its terms carry the reconstruction and the analytic KL; the log
        // weights give estimator A: -ELBO_A = -(1/L) sum_l log w_l.
        elbo = ELBOObjective(architecture: architecture, settings: model.objectiveSettings(samples: samples), maxRows: 1)
        importance = importanceSamples > 0
            ? ELBOObjective(architecture: architecture, settings: model.objectiveSettings(samples: importanceSamples), maxRows: 1)
            : nil
        parameters = FloatBuffer(model.checkpoint.parameters)
        self.streams = streams
        elboWeights = .allocate(capacity: samples)
        importanceWeights = .allocate(capacity: max(importanceSamples, 1))
    }

    deinit {
        elboWeights.deallocate()
        importanceWeights.deallocate()
    }

    /// The -ELBO numbers of data-file row `row`, whose scaled features are `features` [D];
    /// its -log p(x) is left 0 (`evaluateImportance`).
    func evaluateELBO(row: Int, features: UnsafePointer<Float>) -> RowValues {
        var values = RowValues()
        var rowIndex = row
        withUnsafePointer(to: &rowIndex) { index in
            let indices = UnsafeBufferPointer(start: index, count: 1)
            let terms = elbo.evaluate(batch: features, rowIndices: indices, count: 1, streams: streams,
                                      noisePurpose: .evaluationNoise, epoch: 0, beta: 1, parameters: parameters.pointer,
                                      gradients: nil, logWeights: elboWeights.baseAddress!)
            values.reconstruction = terms.reconstruction
            values.kl = terms.kl
            values.negativeELBOB = terms.reconstruction + terms.kl
            values.negativeELBOA = -elboWeights.reduce(0, +) / Double(elboWeights.count)
        }
        return values
    }

    /// The importance-weighted -log p(x) of row `row`; the other numbers are left 0.
    ///
    /// Draw k is keyed by (seed, row, k), as draw l of the -ELBO pass: with K = L = 1 the
    /// two passes use the same draw.
    func evaluateImportance(row: Int, features: UnsafePointer<Float>) -> RowValues {
        guard let importance else { return RowValues() }
        var values = RowValues()
        var rowIndex = row
        withUnsafePointer(to: &rowIndex) { index in
            importance.evaluate(batch: features, rowIndices: UnsafeBufferPointer(start: index, count: 1), count: 1,
                                streams: streams, noisePurpose: .evaluationNoise, epoch: 0, beta: 1,
                                parameters: parameters.pointer, gradients: nil, logWeights: importanceWeights.baseAddress!)
            values.negativeLogLikelihood = -logMeanExp(UnsafeBufferPointer(importanceWeights))
        }
        return values
    }
}
