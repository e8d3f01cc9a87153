import Foundation
import VAECore

/// A checkpoint's model, run forward for pictures: the encoder's posterior
/// means and the decoder's pixel means. Works in blocks of `blockRows` rows, so
/// memory does not grow with the number of images.
public final class PictureModel {
    public let checkpoint: Checkpoint
    public var architecture: ModelArchitecture { checkpoint.configuration.architecture }
    public var likelihood: LikelihoodKind { checkpoint.configuration.likelihood }
    private let objective: ELBOObjective
    private static let blockRows = 256

    public init(checkpoint: Checkpoint) {
        self.checkpoint = checkpoint
        objective = ELBOObjective(architecture: checkpoint.configuration.architecture,
                                  settings: checkpoint.configuration.objectiveSettings, maxRows: Self.blockRows)
    }

    /// The means of p(x|z) for latent codes [count, Z], as [count, D]: the sigmoid
    /// of the logits (Bernoulli: pixel probabilities in [0, 1]) or the Gaussian means.
    public func pixelMeans(latentCodes: [Float]) -> [Float] {
        let z = architecture.latentDimension
        let d = architecture.dataDimension
        precondition(latentCodes.count % z == 0, "latent codes must be rows of \(z) values")
        let count = latentCodes.count / z
        var means = [Float](repeating: 0, count: count * d)
        checkpoint.parameters.withUnsafeBufferPointer { parameters in
            latentCodes.withUnsafeBufferPointer { codes in
                means.withUnsafeMutableBufferPointer { output in
                    for start in stride(from: 0, to: count, by: Self.blockRows) {
                        let rows = min(Self.blockRows, count - start)
                        objective.decode(latentCodes: codes.baseAddress! + start * z, count: rows,
                                         parameters: parameters.baseAddress!, output: output.baseAddress! + start * d)
                    }
                    if likelihood == .bernoulli { Activation.sigmoid.forward(output.baseAddress!, count: output.count) }
                }
            }
        }
        return means
    }

    /// The posterior means (mu) of data rows [count, D], as [count, Z].
    public func posteriorMeans(rows data: [Float]) -> [Float] {
        let z = architecture.latentDimension
        let d = architecture.dataDimension
        precondition(data.count % d == 0, "data must be rows of \(d) values")
        let count = data.count / d
        var mu = [Float](repeating: 0, count: count * z)
        var logVariance = [Float](repeating: 0, count: Self.blockRows * z)  // not drawn; the encoder writes it
        checkpoint.parameters.withUnsafeBufferPointer { parameters in
            data.withUnsafeBufferPointer { rows in
                mu.withUnsafeMutableBufferPointer { means in
                    logVariance.withUnsafeMutableBufferPointer { variances in
                        for start in stride(from: 0, to: count, by: Self.blockRows) {
                            let block = min(Self.blockRows, count - start)
                            objective.encode(batch: rows.baseAddress! + start * d, count: block, parameters: parameters.baseAddress!,
                                             mu: means.baseAddress! + start * z, logVariance: variances.baseAddress!)
                        }
                    }
                }
            }
        }
        return mu
    }
}

/// How decoded values become intensities in [0, 1] for display.
public enum DisplayScaling: String, CaseIterable, Sendable {
    /// Clamp Gaussian means to [0, 1] when the data is in [0, 1] (or the means look like it), else min-max.
    case auto
    /// Values outside [0, 1] become 0 or 1.
    case clamp
    /// One affine map of the picture's smallest value to 0 and largest to 1 (every tile alike).
    case minmax
}

/// The display mapping actually applied to one picture, and what to tell the user about it.
struct DisplayMapping {
    var low: Float = 0
    var high: Float = 1
    var note: String?

    /// - Parameters:
    ///   - values: every value the picture shows (inputs and reconstructions together).
    ///   - dataInUnitInterval: whether the data lies in [0, 1]; nil when no data is at hand.
    static func choose(_ scaling: DisplayScaling, likelihood: LikelihoodKind, values: [Float], dataInUnitInterval: Bool?) -> DisplayMapping {
        let finite = values.filter(\.isFinite)
        let low = finite.min() ?? 0
        let high = finite.max() ?? 1
        let range = "[\(String(format: "%.3g", low)), \(String(format: "%.3g", high))]"
        let minMax = DisplayMapping(low: low, high: high > low ? high : low + 1,
                                    note: "values span \(range): scaled min-max to [0, 1] for display (one scale for every tile)")
        switch scaling {
        case .clamp:
            return DisplayMapping(note: low < 0 || high > 1 ? "values span \(range): clamped to [0, 1] for display" : nil)
        case .minmax:
            return minMax
        case .auto:
            // Bernoulli means are probabilities already; [0, 1] data shows its Gaussian means clamped.
            if likelihood == .bernoulli { return DisplayMapping() }
            let unitData = dataInUnitInterval ?? (low >= -0.5 && high <= 1.5)
            if unitData {
                let reason = dataInUnitInterval == nil ? " (they look like [0, 1] data; --scaling minmax to override)" : " (the data is in [0, 1])"
                return DisplayMapping(note: low < 0 || high > 1 ? "gaussian means span \(range): clamped to [0, 1] for display\(reason)" : nil)
            }
            return minMax
        }
    }

    func apply(_ values: [Float]) -> [Float] {
        if low == 0 && high == 1 { return values }  // the grid clamps
        let scale = 1 / (high - low)
        return values.map { ($0 - low) * scale }
    }
}
