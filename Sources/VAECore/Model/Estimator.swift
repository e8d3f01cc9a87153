/// The SGVB estimators of Kingma & Welling (section 2.3).
public enum Estimator: String, CaseIterable, Codable, Sendable {
    /// A: (1/L) sum_l [log p(x, z_l) - log q(z_l|x)], everything Monte Carlo.
    case A
    /// B: -KL(q || p) analytic + (1/L) sum_l log p(x|z_l); lower variance.
    case B
}
