/// Whether training keeps one process's bits for any number of ranks (`--reproducible`).
public enum ReproducibilityChoice: String, CaseIterable, Codable, Sendable {
    /// The reproducible step when the BLAS kernel passes the start-up check; otherwise the
    /// fast one, and the banner says why.
    case auto
    /// The reproducible step, or refuse to start.
    case on
    /// The fast step: each rank sums its rows' gradients and the ranks add the sums, so the
    /// last bits depend on the number of ranks (`--no-reproducible`).
    case off
}
