/// The posterior families of `--posterior`.
public enum PosteriorKind: String, CaseIterable, Codable, Sendable {
    case gaussian, laplace, logistic, gumbel, cauchy

    public var family: any PosteriorFamily {
        switch self {
        case .gaussian: DiagonalGaussian()
        case .laplace: LaplacePosterior()
        case .logistic: LogisticPosterior()
        case .gumbel: GumbelPosterior()
        case .cauchy: CauchyPosterior()
        }
    }

    /// B when the family has an analytic KL to the prior, else A.
    public var defaultEstimator: Estimator { family.hasAnalyticKL ? .B : .A }
}
