/// A user-facing problem with the run's inputs, found on some rank before training.
public struct TrainingSetupError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}
