/// What training does with a step whose reduced loss or gradient is NaN or infinite.
public enum NonFinitePolicy: String, CaseIterable, Codable, Sendable {
    /// Stop with an error naming the step and the first bad gradient tensor.
    ///
    /// No checkpoint is written after the bad step, so the last one stays good. (A bad
    /// loss, or any bad gradient under --clip, is caught before the update; without
    /// --clip a bad gradient is caught by the optimizer's pass, in memory only.)
    case stop
    /// Skip the update and count the skip in metrics.jsonl (`skipped_steps`).
    ///
    /// Every rank decides on the same reduced values.
    case skip
}
