import ArgumentParser
import Foundation
import VAECore
import VAEIO
import VAEParallel

/// `vae-dist eval`: test -ELBO and the importance-weighted log-likelihood of a checkpoint.
struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Evaluate a trained model: -ELBO (estimators A and B) and the IWAE estimate of -log p(x), in nats per datapoint.",
        discussion: """
            The -ELBO covers every row (or --rows). -log p(x) is estimated as -log (1/K) sum_k p(x, z_k) / q(z_k|x) \
            with z_k ~ q(z|x) (Burda et al., "Importance Weighted Autoencoders"): an upper bound on -log p(x) \
            in expectation that tightens as K grows, and never above the -ELBO on average. By default it uses \
            K = \(EvaluationOptions.quickImportanceSamples) on the first \(EvaluationOptions.quickImportanceRows) rows, \
            seconds on the default model; --paper uses the literature's K = 5000 on every row (minutes: about \
            0.1 s per row per core for 784-400-20, 17 minutes for Fashion-MNIST's 10,000 test rows on 2 cores). \
            Each number is the mean over its rows; its std. error is the standard deviation of the per-row \
            estimates divided by sqrt(rows): the Monte Carlo uncertainty from the draws and the finite set of \
            rows, not the remaining bias of the bound. The noise is the evaluation stream keyed by (seed, row, \
            draw), and rank 0 adds the rows' values in row order: the numbers are the same, bit for bit, \
            for any number of ranks.
            """)

    @OptionGroup var trained: CheckpointOption
    @Option(help: "Data to evaluate. Default: Fashion-MNIST test split, when the checkpoint was trained on Fashion-MNIST.")
    var data: String?
    @Option(help: "L, draws per datapoint of the -ELBO estimates.")
    var samples: Int = 1
    @Option(help: "K, importance samples per datapoint of the log-likelihood estimate, 0 to skip it (default \(EvaluationOptions.quickImportanceSamples)).")
    var importance: Int?
    @Option(help: "The log-likelihood estimate on the first N rows only (default \(EvaluationOptions.quickImportanceRows); 'all' for every row).")
    var importanceRows: String?
    @Flag(help: "The IWAE paper's protocol: K = \(EvaluationOptions.paperImportanceSamples) on every row (minutes, not seconds).")
    var paper = false
    @Option(help: "Report only this -ELBO estimator (A or B); default both.")
    var estimator: Estimator?
    @Option(help: "Evaluate only the first N rows of the data.")
    var rows: Int?
    @Option(help: "Seed of the evaluation noise. Default: the checkpoint's seed.")
    var seed: UInt64?
    @Flag(help: "Print one JSON object instead of the table.")
    var json = false
    @OptionGroup(title: "Progress")
    var progress: ProgressOptions
    @OptionGroup(title: "GEMM")
    var gemmOptions: GEMMOptions

    func validate() throws {
        guard samples >= 1, samples < 1 << 24 else { throw ValidationError("--samples must be in 1...16777215, got \(samples)") }
        if let importance, !(0..<(1 << 24)).contains(importance) {
            throw ValidationError("--importance must be in 0...16777215 (0 = skip the log-likelihood), got \(importance)")
        }
        if let importanceRows, importanceRows != "all", (Int(importanceRows) ?? 0) < 1 {
            throw ValidationError("--importance-rows must be a number of rows >= 1 or 'all', got '\(importanceRows)'")
        }
        if paper, importance != nil || importanceRows != nil {
            throw ValidationError("--paper sets K = \(EvaluationOptions.paperImportanceSamples) on every row: "
                                  + "give it without --importance and --importance-rows")
        }
        if let rows, rows < 1 { throw ValidationError("--rows must be at least 1, got \(rows)") }
    }

    func run() throws {
        try withCommunicator { communicator in
            try gemmOptions.install(communicator: communicator)
            var options = EvaluationOptions(checkpoint: trained.checkpoint)
            options.dataPath = data
            options.samples = samples
            if paper { options.usePaperProtocol() }
            if let importance { options.importanceSamples = importance }
            if let importanceRows { options.importanceRowLimit = importanceRows == "all" ? nil : Int(importanceRows) }
            options.rowLimit = rows
            options.seed = seed
            options.progress = progress.style
            let report = try ModelEvaluation(options: options, communicator: communicator).run()
            guard communicator.isRoot else { return }
            Console.print(json ? try Self.jsonLine(report, estimator: estimator) : Self.table(report, estimator: estimator))
        }
    }

    static func jsonLine(_ report: EvaluationReport, estimator: Estimator?) throws -> String {
        var report = report
        if estimator == .A { report.negativeELBOB = nil }
        if estimator == .B { report.negativeELBOA = nil }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(report), as: UTF8.self)
    }

    static func table(_ report: EvaluationReport, estimator: Estimator?) -> String {
        func padded(_ text: String, _ width: Int, left: Bool = true) -> String {
            let padding = String(repeating: " ", count: max(0, width - text.count))
            return left ? text + padding : padding + text
        }
        let l = "L=\(report.samples)"
        let iwaeRows = report.importanceRows < report.rows ? ", first \(report.importanceRows) rows" : ""
        var estimates: [(name: String, estimate: Estimate)] = []
        func row(_ name: String, _ estimate: Estimate?) { if let estimate { estimates.append((name, estimate)) } }
        if estimator != .B { row("-ELBO, estimator A (\(l))", report.negativeELBOA) }
        if estimator != .A { row("-ELBO, estimator B (\(l))", report.negativeELBOB) }
        row("  reconstruction -log p(x|z)", report.reconstruction)
        row("  KL(q(z|x) || p(z)), analytic", report.kl)
        row("-log p(x), IWAE (K=\(report.importanceSamples)\(iwaeRows))", report.negativeLogLikelihood)
        let nameWidth = max(36, (estimates.map(\.name.count).max() ?? 0) + 2)
        var lines = [
            "vae-dist eval: \(report.checkpoint) (epoch \(report.epoch), step \(report.step))",
            "  data \(report.data): \(report.rows) rows, \(report.isTrainingData ? "the training data" : "not the training data"); "
                + "\(report.ranks) rank\(report.ranks == 1 ? "" : "s"), seed \(report.seed), "
                + String(format: "%.1f s", report.seconds),
            "  " + padded("nats per datapoint", nameWidth) + padded("mean", 12, left: false) + padded("std. error", 12, left: false),
        ]
        for (name, estimate) in estimates {
            lines.append("  " + padded(name, nameWidth) + padded(String(format: "%.4f", estimate.mean), 12, left: false)
                         + padded(String(format: "%.4f", estimate.standardError), 12, left: false))
        }
        lines.append("  std. error = std of the per-row estimates / sqrt(rows): the draws' and the rows' noise, "
                     + "not the bound's bias")
        if report.importanceSamples > 0,
           report.importanceSamples < EvaluationOptions.paperImportanceSamples || report.importanceRows < report.rows {
            lines.append("  the IWAE paper's protocol, K = \(EvaluationOptions.paperImportanceSamples) on every row: --paper "
                         + "(minutes: about 0.1 s per row per core for 784-400-20)")
        }
        return lines.joined(separator: "\n")
    }
}
