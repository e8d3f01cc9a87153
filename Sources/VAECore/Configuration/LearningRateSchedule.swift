import Foundation

/// How the learning rate falls over a run after its warm-up: `--lr-schedule`.
///
/// The rate at a step is a pure function of the step (and the run's length), as the
/// warm-up is, so any number of ranks and a resumed run follow the same curve.
public struct LearningRateSchedule: Codable, Sendable, Equatable {
    public enum Kind: String, Codable, CaseIterable, Sendable {
        /// The rate stays where the warm-up left it.
        case constant
        /// Half a cosine from the rate down to `minimum` over the steps after the warm-up
        /// (Loshchilov & Hutter's SGDR without restarts; PyTorch's CosineAnnealingLR).
        case cosine
        /// The rate times `stepFactor` every `stepEpochs` epochs (PyTorch's StepLR).
        case step
    }

    public var kind: Kind
    /// cosine: the rate at the last step.
    public var minimum: Double?
    /// step: epochs between two decays.
    public var stepEpochs: Int?
    /// step: what each decay multiplies the rate by.
    public var stepFactor: Double?

    public init(kind: Kind, minimum: Double? = nil, stepEpochs: Int? = nil, stepFactor: Double? = nil) {
        self.kind = kind
        self.minimum = minimum
        self.stepEpochs = stepEpochs
        self.stepFactor = stepFactor
    }

    /// The rate at 1-based `step` of a run of `totalSteps` whose first `warmupSteps` warm up
    /// to `rate` (before that the warm-up alone decides), `stepsPerEpoch` to an epoch.
    func rate(_ rate: Double, step: Int, stepsPerEpoch: Int, warmupSteps: Double, totalSteps: Int) -> Double {
        switch kind {
        case .constant:
            return rate
        case .cosine:
            let minimum = self.minimum ?? 0
            let span = Double(totalSteps) - warmupSteps
            guard span > 0 else { return rate }
            let progress = min(1, max(0, Double(step) - warmupSteps) / span)
            return minimum + (rate - minimum) * 0.5 * (1 + cos(Double.pi * progress))
        case .step:
            let epochIndex = max(0, step - 1) / max(1, stepsPerEpoch)
            return rate * pow(stepFactor ?? 0.1, Double(epochIndex / max(1, stepEpochs ?? 1)))
        }
    }

    /// Problems in the words of the command line, for `TrainingConfiguration.problems`.
    func problems(learningRate: Float) -> [String] {
        var found: [String] = []
        switch kind {
        case .constant:
            break
        case .cosine:
            if let minimum = minimum, !(minimum >= 0 && minimum < Double(learningRate)) {
                found.append("--lr-min must be >= 0 and below --lr \(learningRate) (got \(minimum))")
            }
        case .step:
            guard let stepEpochs else {
                found.append("--lr-schedule step needs --lr-step-epochs N: the rate falls every N epochs")
                break
            }
            if stepEpochs < 1 { found.append("--lr-step-epochs must be at least 1 (got \(stepEpochs))") }
            if let factor = stepFactor, !(factor > 0 && factor <= 1) {
                found.append("--lr-step-factor must be in (0, 1] (got \(factor))")
            }
        }
        return found
    }
}
