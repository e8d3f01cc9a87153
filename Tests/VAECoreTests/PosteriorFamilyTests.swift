import Foundation
import XCTest
@testable import VAECore

/// Each posterior family's pieces on their own: noise distribution, density,
/// sampler and KL partials. The whole objective under each family is checked
/// in ELBOGradientTests and MonteCarloKLTests, and against the NumPy reference
/// in ReferenceFixtureTests.
final class PosteriorFamilyTests: XCTestCase {
    /// The CDF of each standard member, written from the textbook formula (not
    /// from the quantile the noise uses), so that the noise test is not circular.
    static func standardCDF(_ kind: PosteriorKind, _ x: Double) -> Double {
        switch kind {
        case .gaussian: 0.5 * erfc(-x / 2.0.squareRoot())
        case .laplace: x < 0 ? 0.5 * exp(x) : 1 - 0.5 * exp(-x)
        case .logistic: 1 / (1 + exp(-x))
        case .gumbel: exp(-exp(-x))
        case .cauchy: 0.5 + atan(x) / Double.pi
        }
    }

    func testNoiseFollowsEachFamilysDistribution() {
        // Kolmogorov-Smirnov against the family's CDF over 4000 rows x 5 latents (n = 20000):
        // the 99.9% critical value is 1.95 / sqrt(n) = 0.0138. A wrong quantile (a sign, a
        // factor 2 in the scale, a shifted location) moves the statistic by > 0.05.
        let streams = RandomStreams(seed: 21)
        let (rows, latent) = (4000, 5)
        for kind in PosteriorKind.allCases {
            var values = [Float](repeating: 0, count: rows * latent)
            values.withUnsafeMutableBufferPointer { buffer in
                for row in 0..<rows {
                    kind.family.noise(streams: streams, purpose: .trainingNoise, epoch: 3, row: row, draw: 1,
                                      count: latent, into: buffer.baseAddress! + row * latent)
                }
            }
            XCTAssertTrue(values.allSatisfy(\.isFinite), "\(kind): non-finite noise")
            let sorted = values.map(Double.init).sorted()
            let n = Double(sorted.count)
            var statistic = 0.0
            for (i, x) in sorted.enumerated() {
                let cdf = Self.standardCDF(kind, x)
                statistic = max(statistic, abs(cdf - Double(i) / n), abs(Double(i + 1) / n - cdf))
            }
            XCTAssertLessThan(statistic, 1.95 / n.squareRoot(), "\(kind): KS statistic \(statistic)")
        }
    }

    func testNoiseIsAPureFunctionOfItsKey() {
        for kind in PosteriorKind.allCases {
            var first = [Float](repeating: 0, count: 7), again = first, otherDraw = first
            let streams = RandomStreams(seed: 4)
            kind.family.noise(streams: streams, purpose: .trainingNoise, epoch: 1, row: 9, draw: 0, count: 7, into: &first)
            kind.family.noise(streams: RandomStreams(seed: 4), purpose: .trainingNoise, epoch: 1, row: 9, draw: 0, count: 7, into: &again)
            kind.family.noise(streams: streams, purpose: .trainingNoise, epoch: 1, row: 9, draw: 1, count: 7, into: &otherDraw)
            XCTAssertEqual(first, again, "\(kind)")
            XCTAssertNotEqual(first, otherDraw, "\(kind): draws must differ")
        }
    }

    func testStandardDensitiesIntegrateToOne() {
        // Trapezoid rule on [-60, 60] with step 1e-3 (error ~1e-7 for these smooth densities;
        // Laplace's kink at 0 costs O(h^2) = 1e-6). The float32 density adds ~1e-7 relative.
        // Outside the interval: Gaussian, Laplace, logistic, Gumbel ~1e-26; Cauchy 1 - (2/pi) atan(60).
        for kind in PosteriorKind.allCases {
            let family = kind.family
            let (low, high, step) = (-60.0, 60.0, 1e-3)
            var integral = 0.0
            var x = low
            while x < high {
                let a = Double(exp(family.standardLogDensity(Float(x)).value))
                let b = Double(exp(family.standardLogDensity(Float(x + step)).value))
                integral += 0.5 * (a + b) * step
                x += step
            }
            let expected = kind == .cauchy ? 2 / Double.pi * atan(60.0) : 1
            XCTAssertEqual(integral, expected, accuracy: 2e-5, "\(kind): density integrates to \(integral)")
        }
    }

    func testLogDensityDerivativesMatchFiniteDifferences() {
        let points: [Float] = [-7.5, -2.2, -0.9, -0.3, 0.35, 1.1, 2.8, 9.0]
        for kind in PosteriorKind.allCases {
            let family = kind.family
            var values = points
            values.withUnsafeMutableBufferPointer { buffer in
                for i in 0..<points.count {
                    // The log densities are O(1..10): step 1e-2 leaves rounding ~1e-5 and truncation ~1e-4.
                    FiniteDifferences.check("\(kind) d log f/d eps", values: buffer.baseAddress!, indices: [i],
                                            analytic: [family.standardLogDensity(points[i]).derivative]) {
                        Double(family.standardLogDensity(buffer[i]).value)
                    }
                }
            }
        }
    }

    func testSamplerPartialsMatchFiniteDifferences() {
        for kind in PosteriorKind.allCases {
            let family = kind.family
            var eps = [Float](repeating: 0, count: 6)
            family.noise(streams: RandomStreams(seed: 8), purpose: .trainingNoise, epoch: 0, row: 5, draw: 0, count: 6, into: &eps)
            for (j, e) in eps.enumerated() {
                var arguments: [Float] = [0.4 - 0.2 * Float(j), -1.3 + 0.5 * Float(j)]  // (loc, rawScale)
                let partials = family.sample(loc: arguments[0], rawScale: arguments[1], eps: e)
                arguments.withUnsafeMutableBufferPointer { buffer in
                    FiniteDifferences.check("\(kind) dz/d(loc, rawScale)", values: buffer.baseAddress!, indices: [0, 1],
                                            analytic: [partials.dLoc, partials.dRawScale], step: 1e-3) {
                        Double(family.sample(loc: buffer[0], rawScale: buffer[1], eps: e).z)
                    }
                }
                XCTAssertEqual(partials.z, arguments[0] + exp(0.5 * arguments[1]) * e, accuracy: 1e-5 * (1 + abs(partials.z)))
            }
        }
    }

    func testAnalyticKLPartialsMatchFiniteDifferences() {
        let points: [(Float, Float)] = [(0, 0), (0.7, -1.2), (-1.4, 0.8), (2.1, -3), (-0.3, 1.9)]
        for kind in PosteriorKind.allCases where kind.family.hasAnalyticKL {
            let family = kind.family
            for (loc, rawScale) in points {
                var arguments = [loc, rawScale]
                let kl = family.klToStandardNormal(loc: loc, rawScale: rawScale)
                arguments.withUnsafeMutableBufferPointer { buffer in
                    FiniteDifferences.check("\(kind) dKL/d(loc, rawScale)", values: buffer.baseAddress!, indices: [0, 1],
                                            analytic: [kl.dLoc, kl.dRawScale], step: 1e-3) {
                        Double(family.klToStandardNormal(loc: buffer[0], rawScale: buffer[1]).value)
                    }
                }
            }
        }
    }

    func testAnalyticKLsAreNonNegativeAndVanishOnlyForTheGaussianPrior() {
        // KL >= 0 everywhere (checked on a grid); only the Gaussian reaches 0, at (0, 0).
        // The others' minimum over (loc, scale) is the KL of the best-matching member, > 0.
        for kind in PosteriorKind.allCases where kind.family.hasAnalyticKL {
            var smallest = Float.infinity
            for locStep in -30...30 {
                for rawStep in -40...20 {
                    let value = kind.family.klToStandardNormal(loc: Float(locStep) * 0.1, rawScale: Float(rawStep) * 0.1).value
                    smallest = min(smallest, value)
                }
            }
            XCTAssertGreaterThanOrEqual(smallest, -1e-6, "\(kind)")
            if kind == .gaussian {
                XCTAssertEqual(smallest, 0, accuracy: 1e-6)
            } else {
                XCTAssertGreaterThan(smallest, 1e-3, "\(kind): cannot equal N(0, 1)")
            }
        }
    }

    func testOnlyCauchyLacksAnAnalyticKL() {
        XCTAssertEqual(PosteriorKind.allCases.filter { !$0.family.hasAnalyticKL }, [.cauchy])
        XCTAssertEqual(PosteriorKind.cauchy.defaultEstimator, .A)
        XCTAssertEqual(PosteriorKind.gumbel.defaultEstimator, .B)
        for kind in PosteriorKind.allCases { XCTAssertEqual(kind.family.name, kind.rawValue) }
    }
}

/// What a user can and cannot ask for, in the words of the command line.
final class PosteriorConfigurationTests: XCTestCase {
    private func configuration(_ posterior: PosteriorKind, _ estimator: Estimator) -> TrainingConfiguration {
        var configuration = TrainingConfiguration.defaults()
        configuration.posterior = posterior
        configuration.estimator = estimator
        return configuration
    }

    func testEstimatorBIsRefusedForCauchyWithAMessageNamingTheFamily() {
        XCTAssertEqual(configuration(.cauchy, .B).problems,
                       ["--estimator B needs an analytic KL; --posterior cauchy has none "
                        + "(its KL to the N(0, I) prior is infinite): use --estimator A"])
        XCTAssertEqual(configuration(.cauchy, .A).problems, [])
    }

    func testEveryFamilyWithAnAnalyticKLAcceptsBothEstimators() {
        for kind in PosteriorKind.allCases where kind != .cauchy {
            XCTAssertEqual(configuration(kind, .A).problems, [], "\(kind)")
            XCTAssertEqual(configuration(kind, .B).problems, [], "\(kind)")
        }
    }

    func testLearnedVarianceNeedsTheGaussianLikelihoodAndAPositiveFloor() {
        var bernoulli = TrainingConfiguration.defaults()
        bernoulli.architecture.learnedVarianceFloor = 1e-3
        XCTAssertEqual(bernoulli.problems, ["--learned-variance needs --likelihood gaussian (got bernoulli)"])
        var zeroFloor = bernoulli
        zeroFloor.likelihood = .gaussian
        zeroFloor.architecture.learnedVarianceFloor = 0
        XCTAssertEqual(zeroFloor.problems, ["--variance-floor must be a positive number (got 0.0)"])
        zeroFloor.architecture.learnedVarianceFloor = 1e-3
        XCTAssertEqual(zeroFloor.problems, [])
    }

    func testConfigsWrittenBeforeTheFamiliesStillDecode() throws {
        // The JSON of a config from before --posterior was an enum and before learned variance.
        var old = TrainingConfiguration.defaults()
        old.architecture.learnedVarianceFloor = nil
        var json = try JSONSerialization.jsonObject(with: JSONEncoder().encode(old)) as! [String: Any]
        json["posterior"] = "gaussian"
        var architecture = json["architecture"] as! [String: Any]
        architecture.removeValue(forKey: "learnedVarianceFloor")
        json["architecture"] = architecture
        let decoded = try JSONDecoder().decode(TrainingConfiguration.self, from: JSONSerialization.data(withJSONObject: json))
        XCTAssertEqual(decoded, old)
        XCTAssertEqual(decoded.architecture.parameterLayout, old.architecture.parameterLayout)
    }

    func testLearnedVarianceAddsOneTensorAtTheEndOfTheLayout() {
        let plain = ModelArchitecture(dataDimension: 10, hiddenSizes: [6], latentDimension: 2, activation: .tanh)
        var learned = plain
        learned.learnedVarianceFloor = 0.01
        let tensors = learned.parameterLayout.tensors
        XCTAssertEqual(Array(tensors.dropLast()), plain.parameterLayout.tensors)
        XCTAssertEqual(tensors.last?.name, "decoder.logvar")
        XCTAssertEqual(tensors.last?.shape, [10])
        let parameters = FloatBuffer(count: learned.parameterLayout.totalCount)
        for scheme in ParameterInitialization.allCases {
            parameters.pointer.update(repeating: 7, count: parameters.count)
            scheme.initialize(parameters.pointer, layout: learned.parameterLayout, seed: 1)
            XCTAssertTrue(parameters.array.suffix(10).allSatisfy { $0 == 0 }, "\(scheme): decoder.logvar starts at 0")
        }
    }
}
