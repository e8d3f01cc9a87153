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

    private func check(_ testCase: Case, step: Float = 1e-2, file: StaticString = #filePath, line: UInt = #line) {
        let architecture = ModelArchitecture(dataDimension: 6, hiddenSizes: testCase.hidden, latentDimension: 3,
                                             activation: testCase.activation)
        let settings = ObjectiveSettings(likelihood: testCase.likelihood, estimator: testCase.estimator,
                                         samples: testCase.samples)
        let rows = 4
        let objective = ELBOObjective(architecture: architecture, settings: settings, maxRows: rows)
        let parameters = FloatBuffer(count: objective.layout.totalCount)
        ParameterInitialization.pytorch.initialize(parameters.pointer, layout: objective.layout, seed: 11)
        var values = TestValues(seed: 12)
        let batch = FloatBuffer(values.array(rows * 6, 0, 1))
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
        FiniteDifferences.check("\(testCase.estimator) L=\(testCase.samples) \(testCase.activation)",
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
