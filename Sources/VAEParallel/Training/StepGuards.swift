import VAECore

/// What training does with a step whose reduced loss or gradient is NaN or infinite.
public enum NonFinitePolicy: String, CaseIterable, Codable, Sendable {
    /// Stop with an error naming the step and the first bad gradient tensor; no
    /// checkpoint is written after the bad step, so the last one stays good. (A bad
    /// loss, or any bad gradient under --clip, is caught before the update; without
    /// --clip a bad gradient is caught by the optimizer's pass, in memory only.)
    case stop
    /// Skip the update (every rank decides on the same reduced values) and count
    /// the skip in metrics.jsonl (`skipped_steps`).
    case skip
}

/// How far an epoch got: the steps done and the sums of their loss terms. A
/// mid-epoch checkpoint stores it, so a resumed epoch reports what an
/// uninterrupted one would.
public struct EpochProgress: Sendable, Equatable {
    /// Steps of the epoch's schedule done, skipped ones included.
    public var completedSteps = 0
    /// Steps skipped under `--on-nonfinite skip`.
    public var skippedSteps = 0
    /// Sums over the steps that updated the parameters.
    public var terms = LossTerms()

    public init(completedSteps: Int = 0, skippedSteps: Int = 0, terms: LossTerms = LossTerms()) {
        self.completedSteps = completedSteps
        self.skippedSteps = skippedSteps
        self.terms = terms
    }
}
