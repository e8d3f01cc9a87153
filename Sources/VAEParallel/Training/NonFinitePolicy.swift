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
