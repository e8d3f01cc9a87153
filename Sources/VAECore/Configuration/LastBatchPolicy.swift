/// What happens to the last global batch of an epoch when it is short.
public enum LastBatchPolicy: String, CaseIterable, Codable, Sendable {
    /// Train on it as it is; its gradient is the mean over its own rows.
    case partial
    /// Skip it: every step sees exactly `globalBatch` rows.
    case drop
}
