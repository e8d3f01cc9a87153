import Foundation
import XCTest
@testable import VAECore

/// Estimator A's KL term is a Monte Carlo estimate of estimator B's analytic KL:
/// averaged over many noise draws, the two must agree. This is the check that
/// the analytic KL (and log q, log p, and the family's noise) are right.
final class MonteCarloKLTests: XCTestCase {
    func testEstimatorAKLAveragesToAnalyticKL() {
        checkMonteCarloKL(.gaussian)
    }

    func testLaplaceMonteCarloKLAveragesToAnalyticKL() {
        checkMonteCarloKL(.laplace)
    }

    func testLogisticMonteCarloKLAveragesToAnalyticKL() {
        checkMonteCarloKL(.logistic)
    }

    func testGumbelMonteCarloKLAveragesToAnalyticKL() {
        checkMonteCarloKL(.gumbel)
    }

    private func checkMonteCarloKL(_ kind: PosteriorKind, file: StaticString = #filePath, line: UInt = #line) {
        let architecture = ModelArchitecture(dataDimension: 8, hiddenSizes: [6], latentDimension: 5, activation: .tanh)
        let samples = 4000
        func objective(_ estimator: Estimator) -> ELBOObjective {
            ELBOObjective(architecture: architecture,
                          settings: ObjectiveSettings(likelihood: BernoulliLikelihood(), posterior: kind.family,
                                                      estimator: estimator, samples: samples),
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
        XCTAssertEqual(monteCarlo.reconstruction, analytic.reconstruction, accuracy: 1e-9 * abs(analytic.reconstruction),
                       file: file, line: line)
        // log q - log p per draw has standard deviation ~ sqrt(sum_j var) ~ 2 nats here
        // (up to ~3 for the heavier-tailed families); over 3 x 4000 draws the mean's
        // standard error is ~0.04-0.05: allow 4 sigma.
        XCTAssertEqual(monteCarlo.kl, analytic.kl, accuracy: 0.2, "\(kind): analytic KL \(analytic.kl), Monte Carlo \(monteCarlo.kl)",
                       file: file, line: line)
        XCTAssertGreaterThan(analytic.kl, 3, file: file, line: line)
    }

    /// Cauchy has no analytic KL to N(0, 1) because it has none at all: E_q[z^2] is
    /// infinite. What is finite is E_q[log q] = -log(4 pi gamma), and the sample
    /// average of log q converges to it; the sample average of log q - log p does not
    /// converge but grows with the sample count (the sum of n squared Cauchy draws
    /// grows like n^2). This is why estimator B is refused for it.
    func testCauchyLogDensityAveragesToMinusEntropyWhileTheKLEstimateDiverges() {
        let family = CauchyPosterior()
        let (loc, rawScale): (Float, Float) = (0.3, 0.6)
        let streams = RandomStreams(seed: 12)
        let latent = 8
        var eps = [Float](repeating: 0, count: latent)
        var logQ = 0.0, logRatio = 0.0
        var ratioAverages: [Double] = []
        var count = 0
        for row in 0..<25_000 {
            family.noise(streams: streams, purpose: .trainingNoise, epoch: 0, row: row, draw: 0, count: latent, into: &eps)
            for e in eps {
                let z = family.sample(loc: loc, rawScale: rawScale, eps: e).z
                let q = Double(family.standardLogDensity(e).value) - 0.5 * Double(rawScale)
                logQ += q
                logRatio += q + 0.5 * log(2 * Double.pi) + 0.5 * Double(z) * Double(z)
                count += 1
            }
            if [125, 1250, 12_500, 25_000].contains(row + 1) { ratioAverages.append(logRatio / Double(count)) }
        }
        // log(1 + eps^2) has variance pi^2/3 + ... ~ 4: over 200000 draws the standard error is ~0.005.
        let negativeEntropy = -(log(4 * Double.pi) + 0.5 * Double(rawScale))
        XCTAssertEqual(logQ / Double(count), negativeEntropy, accuracy: 0.03)
        // The "KL" estimate over 1000, 10^4, 10^5 and 2 10^5 draws: it keeps growing by orders of magnitude.
        XCTAssertGreaterThan(ratioAverages[2], 10 * ratioAverages[0], "\(ratioAverages)")
        XCTAssertGreaterThan(ratioAverages[3], 1000, "\(ratioAverages)")
    }
}
