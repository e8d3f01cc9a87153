import XCTest
@testable import VAECore

/// The whole model's backward (every parameter) against finite differences of
/// its loss, under both estimators, L = 1 and L > 1, both likelihoods.
final class ELBOGradientTests: XCTestCase {
    struct Case {
        var estimator: Estimator
        var samples: Int
        var likelihood: any Likelihood
        var activation: Activation
        var hidden: [Int]
        var beta: Float
        var posterior: PosteriorKind = .gaussian
        var learnedVarianceFloor: Float? = nil
    }

    func testEstimatorBWithOneSampleMatchesFiniteDifferences() {
        check(Case(estimator: .B, samples: 1, likelihood: BernoulliLikelihood(), activation: .tanh, hidden: [5], beta: 1))
    }

    func testEstimatorBWithThreeSamplesMatchesFiniteDifferences() {
        check(Case(estimator: .B, samples: 3, likelihood: BernoulliLikelihood(), activation: .softplus, hidden: [5, 4], beta: 0.7))
    }

    func testEstimatorAWithOneSampleMatchesFiniteDifferences() {
        check(Case(estimator: .A, samples: 1, likelihood: BernoulliLikelihood(), activation: .sigmoid, hidden: [5], beta: 1))
    }

    func testEstimatorAWithThreeSamplesMatchesFiniteDifferences() {
        check(Case(estimator: .A, samples: 3, likelihood: GaussianLikelihood(variance: 0.5), activation: .tanh, hidden: [4], beta: 1.5))
    }

    func testGaussianLikelihoodModelMatchesFiniteDifferences() {
        check(Case(estimator: .B, samples: 2, likelihood: GaussianLikelihood(variance: 2), activation: .softplus, hidden: [], beta: 1))
    }

    func testReLUModelMatchesFiniteDifferences() {
        // ReLU is piecewise linear: a step of 1e-3 rarely crosses a kink on these values.
        check(Case(estimator: .B, samples: 1, likelihood: BernoulliLikelihood(), activation: .relu, hidden: [6], beta: 1),
              step: 1e-3)
    }

    // Every posterior family: estimator A always, B where the KL is analytic.
    func testEveryFamilyUnderEstimatorAMatchesFiniteDifferences() {
        for kind in PosteriorKind.allCases {
            check(Case(estimator: .A, samples: 2, likelihood: BernoulliLikelihood(), activation: .tanh, hidden: [5],
                       beta: 0.9, posterior: kind))
        }
    }

    func testEveryFamilyWithAnAnalyticKLUnderEstimatorBMatchesFiniteDifferences() {
        for kind in PosteriorKind.allCases where kind.family.hasAnalyticKL {
            check(Case(estimator: .B, samples: 2, likelihood: BernoulliLikelihood(), activation: .softplus, hidden: [5],
                       beta: 1.1, posterior: kind))
        }
    }

    // The learned per-pixel variance: decoder.logvar's gradient and its effect on every other one.
    func testLearnedVarianceUnderEstimatorBMatchesFiniteDifferences() {
        check(Case(estimator: .B, samples: 2, likelihood: GaussianLikelihood(variance: 1), activation: .tanh, hidden: [4],
                   beta: 1, learnedVarianceFloor: 0.05), data: .continuous)
    }

    func testLearnedVarianceWithLogisticPosteriorUnderEstimatorAMatchesFiniteDifferences() {
        check(Case(estimator: .A, samples: 1, likelihood: GaussianLikelihood(variance: 1), activation: .softplus, hidden: [5],
                   beta: 0.8, posterior: .logistic, learnedVarianceFloor: 0.2), data: .continuous)
    }

    enum DataKind { case unitInterval, continuous }

    private func check(_ testCase: Case, step: Float = 1e-2, data: DataKind = .unitInterval,
                       file: StaticString = #filePath, line: UInt = #line) {
        let architecture = ModelArchitecture(dataDimension: 6, hiddenSizes: testCase.hidden, latentDimension: 3,
                                             activation: testCase.activation,
                                             learnedVarianceFloor: testCase.learnedVarianceFloor)
        let settings = ObjectiveSettings(likelihood: testCase.likelihood, posterior: testCase.posterior.family,
                                         estimator: testCase.estimator, samples: testCase.samples)
        let rows = 4
        let objective = ELBOObjective(architecture: architecture, settings: settings, maxRows: rows)
        let parameters = FloatBuffer(count: objective.layout.totalCount)
        ParameterInitialization.pytorch.initialize(parameters.pointer, layout: objective.layout, seed: 11)
        var values = TestValues(seed: 12)
        let batch = FloatBuffer(data == .unitInterval ? values.array(rows * 6, 0, 1) : values.array(rows * 6, -3, 3))
        if let logVariance = objective.layout.tensor(named: "decoder.logvar") {
            // Away from 0 so the check also sees exp(v) != 1 and pixels with different variances.
            for d in 0..<logVariance.count { parameters[logVariance.offset + d] = -1.5 + 0.6 * Float(d) }
        }
        let rowIndices = [3, 9, 0, 41]
        let streams = RandomStreams(seed: 5)

        func loss(_ gradients: UnsafeMutablePointer<Float>?) -> Double {
            rowIndices.withUnsafeBufferPointer { indices in
                objective.evaluate(batch: batch.pointer, rowIndices: indices, count: rows, streams: streams,
                                   epoch: 2, beta: testCase.beta, parameters: parameters.pointer,
                                   gradients: gradients).loss
            }
        }
        let gradients = FloatBuffer(count: parameters.count)
        _ = loss(gradients.pointer)
        FiniteDifferences.check("\(testCase.posterior) \(testCase.estimator) L=\(testCase.samples) \(testCase.activation)"
                                + (testCase.learnedVarianceFloor == nil ? "" : " learned variance"),
                                values: parameters.pointer, indices: Array(0..<parameters.count),
                                analytic: gradients.array, step: step, file: file, line: line) { loss(nil) }
    }

    func testRowsWithoutDataGiveZeroGradients() {
        let architecture = ModelArchitecture(dataDimension: 4, hiddenSizes: [3], latentDimension: 2, activation: .relu)
        let objective = ELBOObjective(architecture: architecture,
                                      settings: ObjectiveSettings(likelihood: BernoulliLikelihood(), estimator: .B, samples: 1),
                                      maxRows: 2)
        let parameters = FloatBuffer(count: objective.layout.totalCount)
        let gradients = FloatBuffer([Float](repeating: 7, count: objective.layout.totalCount))
        let terms = [Int]().withUnsafeBufferPointer { indices in
            objective.evaluate(batch: parameters.pointer, rowIndices: indices, count: 0, streams: RandomStreams(seed: 1),
                               epoch: 0, beta: 1, parameters: parameters.pointer, gradients: gradients.pointer)
        }
        XCTAssertEqual(terms.rows, 0)
        XCTAssertTrue(gradients.array.allSatisfy { $0 == 0 })
    }
}

final class DecodeTests: XCTestCase {
    /// decode() is the decoder half of evaluate(): with L = 1 and estimator B,
    /// the reconstruction term recomputed from decode(mu + sigma eps) must match.
    func testDecodeReproducesTheReconstructionTerm() {
        let architecture = ModelArchitecture(dataDimension: 5, hiddenSizes: [4], latentDimension: 2, activation: .tanh)
        let objective = ELBOObjective(architecture: architecture,
                                      settings: ObjectiveSettings(likelihood: BernoulliLikelihood(), estimator: .B, samples: 1),
                                      maxRows: 3)
        let parameters = FloatBuffer(count: objective.layout.totalCount)
        ParameterInitialization.pytorch.initialize(parameters.pointer, layout: objective.layout, seed: 3)
        var values = TestValues(seed: 4)
        let batch = FloatBuffer(values.array(15, 0, 1))
        let rows = [0, 1, 2]
        let streams = RandomStreams(seed: 9)
        let terms = rows.withUnsafeBufferPointer {
            objective.evaluate(batch: batch.pointer, rowIndices: $0, count: 3, streams: streams, epoch: 1, beta: 1,
                               parameters: parameters.pointer, gradients: nil)
        }
        let (mu, logVariance) = (FloatBuffer(count: 6), FloatBuffer(count: 6))
        objective.encode(batch: batch.pointer, count: 3, parameters: parameters.pointer,
                         mu: mu.pointer, logVariance: logVariance.pointer)
        let codes = FloatBuffer(count: 6)
        for row in 0..<3 {
            var eps = [Float](repeating: 0, count: 2)
            streams.normals(epoch: 1, row: row, draw: 0, count: 2, into: &eps)
            for j in 0..<2 { codes[row * 2 + j] = mu[row * 2 + j] + exp(0.5 * logVariance[row * 2 + j]) * eps[j] }
        }
        let logits = FloatBuffer(count: 15)
        objective.decode(latentCodes: codes.pointer, count: 3, parameters: parameters.pointer, output: logits.pointer)
        let scratch = FloatBuffer(count: 15)
        let reconstruction = BernoulliLikelihood().negativeLogLikelihood(
            data: batch.pointer, output: logits.pointer, count: 15, gradientScale: 0, gradient: scratch.pointer)
        XCTAssertEqual(reconstruction, terms.reconstruction, accuracy: 1e-5 * terms.reconstruction)
    }
}
