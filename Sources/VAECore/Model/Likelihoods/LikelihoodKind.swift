/// The observation model chosen on the command line.
public enum LikelihoodKind: String, CaseIterable, Codable, Sendable {
    case bernoulli, gaussian
}
