/// What is optimised: likelihood, posterior family, estimator, samples per datapoint.
///
/// With an architecture that learns the output variance (`learnedVarianceFloor`), the
/// likelihood must be Gaussian and its fixed variance is replaced by the learned
/// per-pixel one.
public struct ObjectiveSettings: Sendable {
    public var likelihood: any Likelihood
    public var posterior: any PosteriorFamily
    public var estimator: Estimator
    public var samples: Int

    public init(likelihood: any Likelihood, posterior: any PosteriorFamily = DiagonalGaussian(),
                estimator: Estimator, samples: Int) {
        precondition(samples >= 1, "samples per datapoint must be at least 1")
        precondition(estimator == .A || posterior.hasAnalyticKL,
                     "estimator B needs an analytic KL; posterior \(posterior.name) has none")
        self.likelihood = likelihood
        self.posterior = posterior
        self.estimator = estimator
        self.samples = samples
    }
}
