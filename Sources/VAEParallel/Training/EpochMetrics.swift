import Foundation

/// One epoch's numbers, nats per datapoint.
///
/// Printed by rank 0 and appended to metrics.jsonl as one JSON object per line.
public struct EpochMetrics: Codable, Sendable, Equatable {
    /// 1-based, as printed.
    public var epoch: Int
    public var epochs: Int
    /// Optimizer steps taken so far in the run.
    public var step: Int
    public var trainNegativeELBO: Double
    public var trainReconstruction: Double
    public var trainKL: Double
    /// The KL weight at the epoch's last step (beta after warm-up).
    public var klWeight: Double
    public var testNegativeELBO: Double?
    public var testReconstruction: Double?
    public var testKL: Double?
    public var samplesPerSecond: Double
    public var epochSeconds: Double
    public var elapsedSeconds: Double
    public var etaSeconds: Double
    public var ranks: Int
    /// Steps skipped under `--on-nonfinite skip` (nil in files from before it existed).
    public var skippedSteps: Int? = nil
    /// First-layer units dormant after this epoch (`DormantUnits`; nil when not tracked).
    ///
    /// They are left out of the layer's forward from the next epoch on.
    public var dormantUnits: Int? = nil
    /// The learning rate of the epoch's last step (nil in files from before it was recorded).
    public var learningRate: Double? = nil
    /// When the epoch ended: UTC, ISO 8601 ("2026-12-05T15:40:44Z"), for lining up runs and logs.
    public var time: String? = nil
    /// -ELBO of the validation rows (`--validation-fraction`), nil without them.
    public var validationNegativeELBO: Double? = nil

    enum CodingKeys: String, CodingKey {
        case epoch, epochs, step
        case trainNegativeELBO = "train_neg_elbo", trainReconstruction = "train_recon", trainKL = "train_kl"
        case klWeight = "kl_weight"
        case testNegativeELBO = "test_neg_elbo", testReconstruction = "test_recon", testKL = "test_kl"
        case samplesPerSecond = "samples_per_s", epochSeconds = "epoch_s", elapsedSeconds = "elapsed_s"
        case etaSeconds = "eta_s", ranks
        case skippedSteps = "skipped_steps"
        case dormantUnits = "dormant_units"
        case learningRate = "learning_rate", time
        case validationNegativeELBO = "validation_neg_elbo"
    }

    /// The human-readable progress line.
    public var line: String {
        var text = "epoch \(epoch)/\(epochs)  train -ELBO \(fixed(trainNegativeELBO)) "
            + "(recon \(fixed(trainReconstruction)), KL \(fixed(trainKL)))"
        if let validationNegativeELBO { text += "  validation -ELBO \(fixed(validationNegativeELBO))" }
        if let testNegativeELBO { text += "  test -ELBO \(fixed(testNegativeELBO))" }
        if let skippedSteps, skippedSteps > 0 { text += "  \(skippedSteps) non-finite step\(skippedSteps == 1 ? "" : "s") skipped" }
        text += "  \(Int(samplesPerSecond.rounded())) samples/s  elapsed \(clock(elapsedSeconds))  ETA \(clock(etaSeconds))"
        return text
    }

    public var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return String(decoding: try! encoder.encode(self), as: UTF8.self)
    }
}

func fixed(_ value: Double, digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

/// h:mm:ss, or m:ss under an hour.
func clock(_ seconds: Double) -> String {
    let total = Int(seconds.rounded())
    let (hours, minutes, secs) = (total / 3600, total / 60 % 60, total % 60)
    return hours > 0 ? String(format: "%d:%02d:%02d", hours, minutes, secs) : String(format: "%d:%02d", minutes, secs)
}
