import VAEIO

/// Training stopped on request (a signal) before its last epoch, after writing a checkpoint.
public struct TrainingStop: Sendable, Equatable {
    /// Optimizer steps taken.
    public let step: Int
    /// Epochs completed and steps into the next.
    public let position: CheckpointPosition
    public let stepsPerEpoch: Int
    /// How many ranks asked to stop at that step.
    public let requestingRanks: Int
    public let checkpointPath: String
}
