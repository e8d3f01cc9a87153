/// A step produced a loss or gradient that is not a finite number.
///
/// Every rank sees the same reduced numbers, so every rank throws this at the same step.
public struct NonFiniteTraining: CollectiveError, CustomStringConvertible {
    /// The optimizer step that would have been taken (1-based).
    public let step: Int
    /// Where in the schedule: "epoch 3, step 2 of 5".
    public let position: String
    public let what: String
    public var description: String {
        "training diverged at step \(step) (\(position)): \(what) (try a lower --lr or --clip, or --on-nonfinite skip)"
    }
}
