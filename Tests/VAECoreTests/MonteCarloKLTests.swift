import XCTest
@testable import VAECore

/// Estimator A's KL term is a Monte Carlo estimate of estimator B's analytic KL:
/// averaged over many noise draws, the two must agree. This is the check that
/// the analytic KL (and log q, log p) are right.
final class MonteCarloKLTests: XCTestCase {
    func testEstimatorAKLAveragesToAnalyticKL() {
        let architecture = ModelArchitecture(dataDimension: 8, hiddenSizes: [6], latentDimension: 5, activation: .tanh)
        let samples = 4000
        func objective(_ estimator: Estimator) -> ELBOObjective {
            ELBOObjective(architecture: architecture,
                          settings: ObjectiveSettings(likelihood: BernoulliLikelihood(), estimator: estimator, samples: samples),
                          maxRows: 3)
        }
        let estimatorA = objective(.A)
        let estimatorB = objective(.B)
        let parameters = FloatBuffer(count: estimatorA.layout.totalCount)
        ParameterInitialization.glorot.initialize(parameters.pointer, layout: estimatorA.layout, seed: 8)
        // Widen the posterior away from the prior so the KL is not trivially small.
        let logVarianceBias = estimatorA.layout.tensor(named: "encoder.logvar.bias")!
        let muBias = estimatorA.layout.tensor(named: "encoder.mu.bias")!
        for j in 0..<5 {
            parameters[logVarianceBias.offset + j] = -1.5 + 0.4 * Float(j)
            parameters[muBias.offset + j] = 0.8 - 0.3 * Float(j)
        }
        var values = TestValues(seed: 9)
        let batch = FloatBuffer(values.array(3 * 8, 0, 1))
        let rows = [0, 1, 2]
        func terms(_ objective: ELBOObjective) -> LossTerms {
            rows.withUnsafeBufferPointer {
                objective.evaluate(batch: batch.pointer, rowIndices: $0, count: 3, streams: RandomStreams(seed: 10),
                                   epoch: 0, beta: 1, parameters: parameters.pointer, gradients: nil)
            }
        }
        let monteCarlo = terms(estimatorA)
        let analytic = terms(estimatorB)
        // Same noise, same decoder: the reconstruction terms are identical.
        XCTAssertEqual(monteCarlo.reconstruction, analytic.reconstruction, accuracy: 1e-9 * abs(analytic.reconstruction))
        // log q - log p per draw has standard deviation ~ sqrt(sum_j var) ~ 2 nats here;
        // over 3 x 4000 draws the mean's standard error is ~0.04: allow 4 sigma.
        XCTAssertEqual(monteCarlo.kl, analytic.kl, accuracy: 0.2, "analytic KL \(analytic.kl), Monte Carlo \(monteCarlo.kl)")
        XCTAssertGreaterThan(analytic.kl, 3)
    }
}
