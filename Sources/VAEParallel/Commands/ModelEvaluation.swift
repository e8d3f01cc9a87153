import Foundation
import VAECore
import VAEIO

/// log((1/K) sum_k exp(w_k)), without underflow or overflow.
///
/// Computed as m + log(sum_k exp(w_k - m)) - log K with m = max_k w_k, so that weights
/// of any magnitude (log-likelihoods of images are hundreds or thousands of nats below
/// zero) neither underflow nor overflow. With one weight it returns that weight exactly.
public func logMeanExp(_ weights: UnsafeBufferPointer<Double>) -> Double {
    precondition(!weights.isEmpty, "logMeanExp of no weights")
    let largest = weights.max()!
    guard largest.isFinite else { return largest }  // +inf, NaN, or every weight -inf
    var sum = 0.0
    for weight in weights { sum += Foundation.exp(weight - largest) }
    return largest + Foundation.log(sum) - Foundation.log(Double(weights.count))
}

/// What `vae-dist eval` computes.
public struct EvaluationOptions: Sendable {
    /// A checkpoint file or a run directory (its newest checkpoint).
    public var checkpoint: String
    /// nil = the default Fashion-MNIST test file when the checkpoint was trained on the default data.
    public var dataPath: String?
    /// L, draws per datapoint of the -ELBO estimates.
    public var samples: Int = 1
    /// K, draws per datapoint of the importance-weighted log-likelihood estimate; 0 = skip it.
    ///
    /// The default and `importanceRowLimit` answer in seconds; `paperProtocol` is the
    /// literature's K = 5000 on every row (Burda et al.), minutes (docs/embeddings.md).
    public var importanceSamples: Int = EvaluationOptions.quickImportanceSamples
    /// Evaluate only the first this many rows (nil = all).
    public var rowLimit: Int?
    /// The importance-weighted estimate on only the first this many of those rows (nil = all).
    public var importanceRowLimit: Int? = EvaluationOptions.quickImportanceRows
    /// How rank 0 shows progress.
    public var progress: ProgressStyle = .off
    /// Key of the evaluation noise; nil = the checkpoint's training seed.
    public var seed: UInt64?
    /// Bytes each rank's data reader may hold.
    public var readerMemoryBudget: Int = 64 << 20
    /// Largest workspace one rank may allocate for the K draws of one row.
    public var workspaceLimit: Int = 4 << 30

    public init(checkpoint: String) { self.checkpoint = checkpoint }

    /// The default K and rows of the importance-weighted estimate.
    public static let quickImportanceSamples = 1000
    public static let quickImportanceRows = 1000
    /// Burda et al.'s protocol: K = 5000 on every row.
    public static let paperImportanceSamples = 5000

    /// K = 5000 on every row, as the IWAE paper and most VAE papers report -log p(x).
    public mutating func usePaperProtocol() {
        importanceSamples = Self.paperImportanceSamples
        importanceRowLimit = nil
    }
}

/// A per-datapoint quantity.
///
/// Its mean over the evaluated rows, in nats, and the Monte Carlo standard error of that
/// mean: the standard deviation of the per-row estimates divided by sqrt(rows). It covers
/// the noise of the draws and of the finite set of rows, not the bias of an estimator
/// (the IWAE bound's gap).
public struct Estimate: Codable, Sendable, Equatable {
    public let mean: Double
    public let standardError: Double

    enum CodingKeys: String, CodingKey {
        case mean
        case standardError = "standard_error"
    }

    /// From a sum, a sum of squares and a count of per-row values.
    init(sum: Double, sumOfSquares: Double, count: Int) {
        let n = Double(count)
        mean = sum / n
        let variance = count > 1 ? max(0, (sumOfSquares - sum * sum / n) / (n - 1)) : 0
        standardError = (variance / n).squareRoot()
    }
}

/// The numbers of one evaluation, in nats per datapoint.
public struct EvaluationReport: Codable, Sendable {
    public let checkpoint: String
    public let step: Int
    public let epoch: Int
    public let data: String
    public let dataFingerprint: String
    /// Whether the data is the file the model was trained on (same fingerprint).
    public let isTrainingData: Bool
    public let rows: Int
    public let ranks: Int
    /// L and K.
    public let samples: Int
    public let importanceSamples: Int
    /// The first rows the importance-weighted estimate covers (0 when K = 0).
    public let importanceRows: Int
    public let seed: UInt64
    /// -ELBO with estimator A: (1/L) sum_l [log q(z_l|x) - log p(x, z_l)].
    ///
    /// Always computed; a caller reporting only estimator B may drop it.
    public var negativeELBOA: Estimate?
    /// -ELBO with estimator B: KL analytic + (1/L) sum_l -log p(x|z_l).
    public var negativeELBOB: Estimate?
    /// (1/L) sum_l -log p(x|z_l), shared by both estimators.
    public let reconstruction: Estimate
    /// KL(q(z|x) || p(z)), analytic.
    public let kl: Estimate
    /// -log p(x) ~ -logmeanexp_k log w_k with K draws (Burda et al.); nil when K = 0.
    public let negativeLogLikelihood: Estimate?
    public let seconds: Double

    enum CodingKeys: String, CodingKey {
        case checkpoint, step, epoch, data, rows, ranks, samples, seed, reconstruction, kl, seconds
        case dataFingerprint = "data_fingerprint"
        case isTrainingData = "is_training_data"
        case importanceSamples = "importance_samples"
        case importanceRows = "importance_rows"
        case negativeELBOA = "negative_elbo_A"
        case negativeELBOB = "negative_elbo_B"
        case negativeLogLikelihood = "negative_log_likelihood"
    }
}

/// Test-set -ELBO (estimators A and B) and the importance-weighted log-likelihood, data-parallel.
///
/// Every rank evaluates a contiguous share of the rows one row at a time (so a row's
/// numbers never depend on the number of ranks), and one Double allreduce sums the
/// per-row values and their squares.
///
/// The noise is the evaluation stream of docs/algorithm.md, keyed by (seed, row,
/// draw): draw l of a row is the same in the -ELBO and the IWAE pass, so with
/// K = L = 1 the IWAE estimate equals the estimator-A -ELBO exactly.
public final class ModelEvaluation {
    public let options: EvaluationOptions
    public let communicator: any Communicator
    public init(options: EvaluationOptions, communicator: any Communicator) {
        self.options = options
        self.communicator = communicator
    }

    /// Bytes the objective holds for `draws` decoder rows (the K draws of one row).
    static func workspaceBytes(architecture: ModelArchitecture, draws: Int) -> Int {
        ELBOObjective.decoderBytes(architecture, draws: draws)
    }

    public func run() throws -> EvaluationReport {
        let start = Date()
        FloatingPointEnvironment.enableFlushToZero()
        let samples = options.samples, importance = options.importanceSamples
        let model = try CheckpointedModel.open(checkpoint: options.checkpoint, dataPath: options.dataPath,
                                               defaultSplit: .test, communicator: communicator)
        let configuration = model.configuration
        let architecture = configuration.architecture
        for (name, draws) in [("--samples", samples), ("--importance", importance)] {
            let lowest = name == "--samples" ? 1 : 0
            guard draws >= lowest, draws < 1 << 24 else {
                throw ModelInputError("\(name) must be in \(lowest)...16777215 (a Philox counter holds the draw index), got \(draws)")
            }
            let bytes = Self.workspaceBytes(architecture: architecture, draws: draws)
            guard bytes <= options.workspaceLimit else {
                throw ModelInputError("\(name) \(draws) needs \(formatByteCount(bytes)) per rank for the draws of one row, "
                                      + "more than the limit of \(formatByteCount(options.workspaceLimit)); use fewer draws")
            }
        }
        let rows = min(options.rowLimit ?? model.data.rowCount, model.data.rowCount)
        guard rows >= 1 else { throw ModelInputError("--rows must be at least 1, got \(rows)") }
        let importanceRows = importance > 0 ? min(options.importanceRowLimit ?? rows, rows) : 0
        guard importance == 0 || importanceRows >= 1 else {
            throw ModelInputError("--importance-rows must be at least 1, got \(importanceRows)")
        }

        let source = try communicator.agreed {
            try StreamingMinibatchSource(dataFile: model.data, memoryBudget: options.readerMemoryBudget,
                                         bernoulli: configuration.likelihood == .bernoulli)
        }
        let fingerprint = try communicator.rootOnly { try model.data.fingerprint() } ?? ""
        let seed = options.seed ?? configuration.seed
        // The same numbers at any BLAS thread count (the K draws make a large decoder GEMM).
        _ = try ReproducibleGEMM.enableIfReproducible(for: architecture, rows: 1, draws: max(samples, importance),
                                                      communicator: communicator)

        // Per row: -ELBO A, -ELBO B, reconstruction, KL, -log p(x); sums, then sums of
        // squares, then the rows of the -ELBO pass and of the importance pass. Each pass's
        // per-row values are added on rank 0 in row order: the same sums for any ranks.
        var sums = [Double](repeating: 0, count: 2 * RowValues.count + 2)
        var (elboRows, importanceRowValues) = ([Double](), [Double]())
        var localFailure: String?
        do {
            let evaluator = RowEvaluator(model: model, samples: samples, importanceSamples: importance,
                                         streams: RandomStreams(seed: seed))
            // Two passes, each split evenly over the ranks: the -ELBO of every row is cheap,
            // the K draws of the importance pass are not, and cover only the first rows.
            try evaluatePass(rows: rows, title: "eval -ELBO (L=\(samples))", source: source, model: model,
                             into: &elboRows) { row, features in
                evaluator.evaluateELBO(row: row, features: features)
            }
            if importance > 0 {
                try evaluatePass(rows: importanceRows, title: "eval IWAE (K=\(importance))", source: source, model: model,
                                 into: &importanceRowValues) { row, features in
                    evaluator.evaluateImportance(row: row, features: features)
                }
            }
        } catch {
            localFailure = failureMessage(error)
        }
        try communicator.agreeOnFailure(localFailure)
        try addInRowOrder(elboRows, countSlot: 2 * RowValues.count, into: &sums)
        try addInRowOrder(importanceRowValues, countSlot: 2 * RowValues.count + 1, into: &sums)
        try sums.withUnsafeMutableBufferPointer { try communicator.broadcast($0, from: 0) }
        let total = Int(sums[2 * RowValues.count]), importanceTotal = Int(sums[2 * RowValues.count + 1])
        guard total == rows, importanceTotal == importanceRows else {
            throw ModelInputError("internal error: \(total) and \(importanceTotal) rows evaluated, expected \(rows) and \(importanceRows)")
        }
        func estimate(_ slot: Int, count: Int) -> Estimate {
            Estimate(sum: sums[slot], sumOfSquares: sums[RowValues.count + slot], count: count)
        }
        let dataFingerprint = try communicator.broadcast(fingerprint, from: 0)
        return EvaluationReport(
            checkpoint: model.location.path, step: model.checkpoint.step, epoch: model.checkpoint.epoch,
            data: model.data.path, dataFingerprint: dataFingerprint,
            isTrainingData: dataFingerprint == model.checkpoint.dataFingerprint,
            rows: total, ranks: communicator.size, samples: samples, importanceSamples: importance,
            importanceRows: importanceTotal, seed: seed,
            negativeELBOA: estimate(0, count: total), negativeELBOB: estimate(1, count: total),
            reconstruction: estimate(2, count: total), kl: estimate(3, count: total),
            negativeLogLikelihood: importance > 0 ? estimate(4, count: importanceTotal) : nil,
            seconds: Date().timeIntervalSince(start))
    }

    /// Rank 0 adds every rank's per-row values (`RowValues.count` a row) to `sums` in row
    /// order, their squares after them, and the rows to `sums[countSlot]`.
    ///
    /// The ranks' shares are contiguous and in rank order, so the gathered values are in row order.
    private func addInRowOrder(_ values: [Double], countSlot: Int, into sums: inout [Double]) throws {
        guard let gathered = try values.withUnsafeBufferPointer({ try communicator.gatherv($0, to: 0) }) else { return }
        for (index, value) in gathered.values.enumerated() {
            let slot = index % RowValues.count
            sums[slot] += value
            sums[RowValues.count + slot] += value * value
        }
        sums[countSlot] += Double(gathered.values.count / RowValues.count)
    }

    /// Evaluates this rank's contiguous share of rows `0..<rows` with `evaluate`, appending
    /// each row's values to `values`; rank 0 shows the pass's progress (its share, times
    /// the ranks, for the job's).
    private func evaluatePass(rows: Int, title: String, source: any MinibatchSource, model: CheckpointedModel,
                              into values: inout [Double],
                              _ evaluate: (Int, UnsafePointer<Float>) -> RowValues) throws {
        let dimension = model.configuration.architecture.dataDimension
        let share = EpochSchedule.rankRange(batchSize: rows, rank: communicator.rank, size: communicator.size)
        let chunk = 64
        let plan = stride(from: share.lowerBound, to: share.upperBound, by: chunk).map {
            Array($0..<min($0 + chunk, share.upperBound))
        }
        let progress = ProgressReporter(style: communicator.isRoot ? options.progress : .off, title: title, total: rows,
                                        unit: "rows", rateUnit: "rows/s")
        defer { progress.finish() }
        let batch = FloatBuffer(count: chunk * dimension)
        guard !plan.isEmpty else { return }
        try source.beginEpoch(plan: plan)
        var done = 0
        for rowIndices in plan {
            let count = try source.nextBatch(into: batch.pointer)
            guard count == rowIndices.count else {
                throw TrainingDataError.unexpectedBatch(expected: rowIndices.count, got: count)
            }
            for (position, row) in rowIndices.enumerated() {
                let rowValues = evaluate(row, batch.pointer + position * dimension)
                for value in rowValues.array {
                    guard value.isFinite else {
                        throw DataError(file: model.data.path, object: DataFile.featuresPath, row: row,
                                        "the model gives a non-finite estimate (\(value)) for this row")
                    }
                    values.append(value)
                }
                done += 1
                let jobRows = min(rows, done * communicator.size)
                progress.update(done: jobRows, items: jobRows)
            }
        }
    }
}
