import VAECore

/// How far an epoch got: the steps done and the sums of their loss terms.
///
/// A mid-epoch checkpoint stores it, so a resumed epoch reports what an
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
