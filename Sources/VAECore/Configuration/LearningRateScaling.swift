/// How the learning rate follows the global batch.
///
/// `--lr` is the rate for a global batch of 128 (Goyal et al. 2017, "Accurate, large
/// minibatch SGD").
public enum LearningRateScaling: String, CaseIterable, Codable, Sendable {
    case none
    /// lr x (batch / 128): Goyal et al.'s rule for SGD.
    case linear
    /// lr x sqrt(batch / 128): the usual heuristic for Adam.
    case sqrt
}
