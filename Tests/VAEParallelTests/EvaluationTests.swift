import Foundation
import XCTest
import VAETestSupport
@testable import VAECore
import VAEIO
@testable import VAEParallel

/// `vae-dist eval`: the IWAE estimate's identities and orderings, agreement with the
/// trainer's test -ELBO, rank-count independence, and a stable log-mean-exp.
final class EvaluationTests: XCTestCase {
    func evaluate(_ run: TrainedRun, samples: Int = 1, importance: Int, rows: Int? = nil,
                  importanceRows: Int? = nil) throws -> EvaluationReport {
        var options = EvaluationOptions(checkpoint: run.runDirectory)
        options.dataPath = run.dataPath
        options.samples = samples
        options.importanceSamples = importance
        options.rowLimit = rows
        options.importanceRowLimit = importanceRows
        return try ModelEvaluation(options: options, communicator: SingleProcessCommunicator()).run()
    }

    func testLogMeanExpIsStableForWeightsAroundMinusTenThousand() {
        let weights = [-10_000.0, -10_001.0, -9_999.5, -10_003.0]
        // exp(-1e4) underflows to 0 in Double: the naive formula gives -inf.
        XCTAssertEqual(Foundation.log(weights.map(Foundation.exp).reduce(0, +) / 4), -.infinity)
        let shifted = weights.map { $0 + 10_000 }
        let expected = -10_000 + Foundation.log(shifted.map(Foundation.exp).reduce(0, +) / 4)
        let got = weights.withUnsafeBufferPointer(logMeanExp)
        // A few ulps of 1e4 (~2e-12 each) from the different operation order.
        XCTAssertEqual(got, expected, accuracy: 1e-10)
        XCTAssertGreaterThan(got, weights.max()! - Foundation.log(4.0) - 1e-9, "logmeanexp >= max - log K")
        XCTAssertLessThanOrEqual(got, weights.max()!)
        // One weight is returned exactly; equal weights give that weight; -inf entries count as zero weight.
        XCTAssertEqual([-12_345.678].withUnsafeBufferPointer(logMeanExp), -12_345.678)
        XCTAssertEqual([Double](repeating: -1e4, count: 5000).withUnsafeBufferPointer(logMeanExp), -1e4, accuracy: 1e-9)
        XCTAssertEqual([-1e4, -.infinity].withUnsafeBufferPointer(logMeanExp), -1e4 - Foundation.log(2.0), accuracy: 1e-9)
        XCTAssertEqual([-Double.infinity, -.infinity].withUnsafeBufferPointer(logMeanExp), -.infinity)
    }

    func testStandardErrorIsTheStandardDeviationOverSqrtRows() {
        let values = [3.0, 5.0, 4.0, 8.0, 10.0]
        let estimate = Estimate(sum: values.reduce(0, +), sumOfSquares: values.map { $0 * $0 }.reduce(0, +), count: 5)
        // mean 6, sample variance (9 + 1 + 4 + 4 + 16) / 4 = 8.5
        XCTAssertEqual(estimate.mean, 6, accuracy: 1e-12)
        XCTAssertEqual(estimate.standardError, (8.5 / 5).squareRoot(), accuracy: 1e-12)
        XCTAssertEqual(Estimate(sum: 7, sumOfSquares: 49, count: 1).standardError, 0)
    }

    func testImportanceEstimateWithOneSampleEqualsEstimatorAWithOneSample() throws {
        let run = try TrainedRun.make(self)
        let report = try evaluate(run, samples: 1, importance: 1)
        let nll = try XCTUnwrap(report.negativeLogLikelihood), elboA = try XCTUnwrap(report.negativeELBOA)
        // log w of the same draw, logmeanexp of one weight is that weight: equal to the last bit.
        XCTAssertEqual(nll.mean.bitPattern, elboA.mean.bitPattern, "\(nll.mean) vs \(elboA.mean)")
        XCTAssertEqual(nll.standardError.bitPattern, elboA.standardError.bitPattern)
        // Estimator B differs (analytic KL): the identity is not a tautology of the report.
        XCTAssertNotEqual(try XCTUnwrap(report.negativeELBOB).mean, elboA.mean)
    }

    func testImportanceEstimateTightensWithKAndStaysBelowTheELBO() throws {
        let run = try TrainedRun.makeStructured(self)
        // The expected improvement shrinks like 1/K: K far apart, so that each step's gain
        // exceeds the estimates' noise (converged values differ only by that noise).
        let estimates = try [1, 8, 64].map {
            try XCTUnwrap(evaluate(run, importance: $0).negativeLogLikelihood).mean
        }
        for (fewer, more) in zip(estimates, estimates.dropFirst()) {
            XCTAssertLessThan(more, fewer, "-log p(x) must decrease with K: \(estimates)")
        }
        let report = try evaluate(run, samples: 100, importance: 1000)
        let nll = try XCTUnwrap(report.negativeLogLikelihood).mean
        // The -ELBO (averaged over 100 draws) is above the IWAE estimate (Burda et al., theorem 1).
        XCTAssertLessThan(nll, estimates[2])
        XCTAssertLessThan(nll, try XCTUnwrap(report.negativeELBOA).mean)
        XCTAssertLessThan(nll, try XCTUnwrap(report.negativeELBOB).mean)
        XCTAssertGreaterThan(report.kl.mean, 1)
        XCTAssertEqual(report.reconstruction.mean + report.kl.mean, try XCTUnwrap(report.negativeELBOB).mean, accuracy: 1e-9)
    }

    /// With Z = 2 the marginal likelihood p(x) = integral p(x|z) p(z) dz can be computed by
    /// quadrature on a grid; the IWAE estimate with K = 5000 must approach it from above
    /// (in -log p terms), closer than the ELBO.
    func testImportanceEstimateApproachesTheExactLikelihoodByQuadrature() throws {
        let run = try TrainedRun.makeStructured(self)
        let rows = 100
        let report = try evaluate(run, importance: 5000, rows: rows)
        let configuration = run.checkpoint.configuration
        // Grid over [-6, 6]^2 (prior mass outside: ~1e-8), spacing 0.1.
        let steps = 121, spacing = 12.0 / Double(steps - 1)
        var grid = [Float](), logPrior = [Double]()
        for i in 0..<steps {
            for j in 0..<steps {
                let (a, b) = (-6 + Double(i) * spacing, -6 + Double(j) * spacing)
                grid += [Float(a), Float(b)]
                logPrior.append(-Foundation.log(2 * Double.pi) - 0.5 * (a * a + b * b))
            }
        }
        let points = steps * steps
        var settings = configuration.objectiveSettings
        settings.samples = 1
        let objective = ELBOObjective(architecture: configuration.architecture, settings: settings, maxRows: points)
        var logits = [Float](repeating: 0, count: points * 10)
        grid.withUnsafeBufferPointer { codes in
            run.checkpoint.parameters.withUnsafeBufferPointer { parameters in
                logits.withUnsafeMutableBufferPointer {
                    objective.decode(latentCodes: codes.baseAddress!, count: points, parameters: parameters.baseAddress!,
                                     output: $0.baseAddress!)
                }
            }
        }
        var exactNegativeLogLikelihood = 0.0
        var terms = [Double](repeating: 0, count: points)
        for row in 0..<rows {
            for point in 0..<points {
                var logLikelihood = 0.0
                for d in 0..<10 {
                    let y = Double(logits[point * 10 + d]), x = Double(run.features[row * 10 + d])
                    logLikelihood -= max(y, 0) - x * y + Foundation.log1p(Foundation.exp(-abs(y)))
                }
                terms[point] = logLikelihood + logPrior[point]
            }
            // logmeanexp * points = log of the sum; times the cell area.
            let logIntegral = terms.withUnsafeBufferPointer(logMeanExp) + Foundation.log(Double(points)) + 2 * Foundation.log(spacing)
            exactNegativeLogLikelihood -= logIntegral / Double(rows)
        }
        let iwae = try XCTUnwrap(report.negativeLogLikelihood).mean
        let elbo = try XCTUnwrap(report.negativeELBOB).mean
        // Measured: IWAE 0.004 nats above the exact value, the -ELBO 0.04; the tolerances leave
        // room for the draws' noise (~0.005 here) but not for an ELBO-sized error.
        let numbers = "IWAE \(iwae), exact \(exactNegativeLogLikelihood), -ELBO \(elbo)"
        XCTAssertGreaterThan(elbo - exactNegativeLogLikelihood, 0.02, "the ELBO must be visibly looser: \(numbers)")
        XCTAssertLessThan(abs(iwae - exactNegativeLogLikelihood), 0.25 * (elbo - exactNegativeLogLikelihood), numbers)
        XCTAssertGreaterThan(iwae, exactNegativeLogLikelihood - 0.005, "an upper bound on -log p(x) in expectation: \(numbers)")
    }

    func testELBOReproducesTheTrainersTestEvaluation() throws {
        let run = try TrainedRun.make(self, testData: true)
        let trainerTest = try XCTUnwrap(readMetrics(run.runDirectory).last?.testNegativeELBO)
        let report = try evaluate(run, importance: 0)
        XCTAssertNil(report.negativeLogLikelihood)
        XCTAssertEqual(report.rows, 37)
        // Same noise and estimator (B, L = 1); the trainer evaluates rows in one batch, eval one at a
        // time: float32 GEMM rounding differs by ~1e-7 relative per term.
        XCTAssertEqual(try XCTUnwrap(report.negativeELBOB).mean, trainerTest, accuracy: 1e-5 * abs(trainerTest))
    }

    func testRowLimitEvaluatesAPrefix() throws {
        let run = try TrainedRun.make(self)
        let prefix = try evaluate(run, importance: 10, rows: 5)
        XCTAssertEqual(prefix.rows, 5)
        XCTAssertNotEqual(prefix.negativeLogLikelihood?.mean, try evaluate(run, importance: 10).negativeLogLikelihood?.mean)
        XCTAssertEqual(try evaluate(run, importance: 10, rows: 1000).rows, 37)
    }

    /// Rank 0 adds every row's values in row order: the same numbers for any number of ranks.
    func testOneAndThreeRanksGiveTheSameNumbers() throws {
        let run = try TrainedRun.make(self)
        var reports: [EvaluationReport] = []
        for ranks in [1, 3] {
            let result = try runUnderMPI(ranks: ranks, ["eval", "--checkpoint", run.runDirectory, "--data", run.dataPath,
                                                       "--samples", "3", "--importance", "50", "--json"])
            XCTAssertEqual(result.status, 0, "n = \(ranks): \(result.standardError)")
            let lines = result.standardOutput.split(separator: "\n")
            XCTAssertEqual(lines.count, 1, "only rank 0 prints, one JSON line:\n\(result.standardOutput)")
            reports.append(try JSONDecoder().decode(EvaluationReport.self, from: Data(try XCTUnwrap(lines.first).utf8)))
        }
        let inProcess = try evaluate(run, samples: 3, importance: 50)
        XCTAssertEqual(reports[1].ranks, 3)
        for report in reports.dropFirst() + [inProcess] {
            XCTAssertEqual(report.rows, 37)
            let pairs: [(Estimate?, Estimate?)] = [
                (report.negativeELBOA, reports[0].negativeELBOA), (report.negativeELBOB, reports[0].negativeELBOB),
                (report.reconstruction, reports[0].reconstruction), (report.kl, reports[0].kl),
                (report.negativeLogLikelihood, reports[0].negativeLogLikelihood),
            ]
            for (got, expected) in pairs {
                let got = try XCTUnwrap(got), expected = try XCTUnwrap(expected)
                XCTAssertEqual(got.mean.bitPattern, expected.mean.bitPattern, "mean \(got.mean) vs \(expected.mean)")
                XCTAssertEqual(got.standardError.bitPattern, expected.standardError.bitPattern,
                               "standard error \(got.standardError) vs \(expected.standardError)")
            }
        }
    }

    func testJSONAndEstimatorSelection() throws {
        let run = try TrainedRun.make(self)
        let result = try runProcess(try vaeDistBinary(), ["eval", "--checkpoint", run.runDirectory, "--data", run.dataPath,
                                                          "--importance", "5", "--estimator", "B", "--json"],
                                    environment: childEnvironment())
        XCTAssertEqual(result.status, 0, result.standardError)
        let object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(result.standardOutput.utf8)) as? [String: Any])
        XCTAssertNotNil(object["negative_elbo_B"])
        XCTAssertNil(object["negative_elbo_A"])
        XCTAssertEqual(object["importance_samples"] as? Int, 5)
        XCTAssertEqual(object["is_training_data"] as? Bool, true)
        let table = try runProcess(try vaeDistBinary(), ["eval", "--checkpoint", run.runDirectory, "--data", run.dataPath,
                                                         "--importance", "5"], environment: childEnvironment())
        XCTAssertEqual(table.status, 0, table.standardError)
        for text in ["-ELBO, estimator A (L=1)", "-ELBO, estimator B (L=1)", "-log p(x), IWAE (K=5)", "std. error"] {
            XCTAssertTrue(table.standardOutput.contains(text), "\(text) missing:\n\(table.standardOutput)")
        }
    }

    func testTooManyImportanceSamplesForTheWorkspaceAreRefused() throws {
        let run = try TrainedRun.make(self)
        var options = EvaluationOptions(checkpoint: run.runDirectory)
        options.dataPath = run.dataPath
        options.importanceSamples = 1000
        options.workspaceLimit = 1 << 16
        XCTAssertThrowsError(try ModelEvaluation(options: options, communicator: SingleProcessCommunicator()).run()) {
            XCTAssertTrue(failureMessage($0).contains("--importance 1000 needs"), failureMessage($0))
        }
    }

    /// The default's shape: the -ELBO of every row, the importance-weighted estimate on the
    /// first rows only, with the same draws as an evaluation of just those rows.
    func testImportanceRowsEvaluateAPrefixWithTheSameDraws() throws {
        let run = try TrainedRun.make(self)
        let prefix = try evaluate(run, importance: 7, importanceRows: 10)
        let all = try evaluate(run, importance: 7)
        let tenRows = try evaluate(run, importance: 7, rows: 10)
        XCTAssertEqual([prefix.rows, prefix.importanceRows, all.importanceRows, tenRows.rows], [all.rows, 10, all.rows, 10])
        XCTAssertGreaterThan(all.rows, 10)
        XCTAssertEqual(try XCTUnwrap(prefix.negativeLogLikelihood).mean.bitPattern,
                       try XCTUnwrap(tenRows.negativeLogLikelihood).mean.bitPattern)
        XCTAssertEqual(try XCTUnwrap(prefix.negativeELBOB).mean.bitPattern, try XCTUnwrap(all.negativeELBOB).mean.bitPattern)
        XCTAssertNotEqual(try XCTUnwrap(prefix.negativeLogLikelihood).mean, try XCTUnwrap(all.negativeLogLikelihood).mean)
    }

    func testTheCommandLineSaysWhichRowsAndOffersThePaperProtocol() throws {
        let run = try TrainedRun.make(self)
        let base = ["eval", "--checkpoint", run.runDirectory, "--data", run.dataPath]
        let quick = try runProcess(try vaeDistBinary(), base + ["--importance", "3", "--importance-rows", "5",
                                                                "--progress", "lines", "--progress-interval", "0.000001"],
                                   environment: childEnvironment())
        XCTAssertEqual(quick.status, 0, quick.standardError)
        XCTAssertTrue(quick.standardOutput.contains("-log p(x), IWAE (K=3, first 5 rows)"), quick.standardOutput)
        XCTAssertTrue(quick.standardOutput.contains("the IWAE paper's protocol, K = 5000 on every row: --paper"), quick.standardOutput)
        // Progress goes to standard error: standard output holds the results alone.
        XCTAssertTrue(quick.standardError.contains("eval IWAE (K=3): 1 of 5 rows (20%)"), quick.standardError)
        XCTAssertTrue(quick.standardError.contains("eval -ELBO (L=1): "), quick.standardError)
        XCTAssertFalse(quick.standardOutput.contains("eval IWAE (K=3): "), quick.standardOutput)

        let paper = try runProcess(try vaeDistBinary(), base + ["--paper", "--rows", "2", "--json", "--no-progress"],
                                   environment: childEnvironment())
        XCTAssertEqual(paper.status, 0, paper.standardError)
        let object = try JSONSerialization.jsonObject(with: Data(paper.standardOutput.utf8)) as? [String: Any]
        XCTAssertEqual(object?["importance_samples"] as? Int, 5000)
        XCTAssertEqual(object?["importance_rows"] as? Int, 2)

        let conflicting = try runProcess(try vaeDistBinary(), base + ["--paper", "--importance", "10"], environment: childEnvironment())
        XCTAssertEqual(conflicting.status, 64, conflicting.standardError)
        XCTAssertTrue(conflicting.standardError.contains("--paper sets K = 5000 on every row"), conflicting.standardError)
    }
}
