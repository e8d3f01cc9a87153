import Foundation
import VAECore
import VAEIO

/// What `vae-dist embed` reads and writes.
public struct EmbeddingOptions: Sendable {
    /// A checkpoint file or a run directory (its newest checkpoint).
    public var checkpoint: String
    /// The data to encode.
    ///
    /// Nil = the default Fashion-MNIST training file when the checkpoint was trained on
    /// it.
    public var dataPath: String?
    /// nil = `<run directory>/embeddings.h5`.
    public var outputPath: String?
    /// Rows per encoder call.
    ///
    /// Rows are encoded in these fixed micro-batches whatever the number of ranks, so the
    /// file is bitwise the same for any number of ranks.
    public var microBatch: Int = 256
    /// About this many rows are gathered on rank 0 and written at a time.
    ///
    /// Rounded to whole micro-batches, at least one per rank: what bounds rank 0's memory.
    public var blockRows: Int = 65_536
    /// Deflate level of the datasets (1...9), nil for none.
    public var gzipLevel: Int? = 4
    /// Bytes each rank's data reader may hold.
    public var readerMemoryBudget: Int = 64 << 20

    public init(checkpoint: String) { self.checkpoint = checkpoint }
}

/// What an embedding run wrote (on rank 0; the other ranks get the same numbers).
public struct EmbeddingSummary: Sendable {
    public let outputPath: String
    public let rows: Int
    public let latentDimension: Int
    public let hasLabels: Bool
    public let checkpointPath: String
    public let checkpointStep: Int
    public let dataPath: String
    public let seconds: Double
}

/// Encodes every row of a data file with a checkpoint's encoder, data-parallel.
///
/// Each block of rows is split between the ranks in whole micro-batches, every rank
/// encodes its part, rank 0 gathers the block (rank order is data order) and appends it
/// to the embedding file, then the next block. The file is written to a temporary name
/// and renamed when complete.
public final class EmbeddingExport {
    public let options: EmbeddingOptions
    public let communicator: any Communicator
    private let log: (String) -> Void
    private let warn: (String) -> Void

    /// An export of `options` over the ranks of `communicator`.
    ///
    /// - Parameters:
    ///   - log: rank 0's summary line.
    ///   - warn: rank 0's warnings (the data is not the model's training data).
    public init(options: EmbeddingOptions, communicator: any Communicator,
                log: @escaping (String) -> Void = Console.print, warn: @escaping (String) -> Void = Console.printError) {
        precondition(options.microBatch >= 1 && options.blockRows >= 1, "micro-batch and block sizes must be positive")
        self.options = options
        self.communicator = communicator
        self.log = log
        self.warn = warn
    }

    @discardableResult
    public func run() throws -> EmbeddingSummary {
        let start = Date()
        FloatingPointEnvironment.enableFlushToZero()
        let model = try CheckpointedModel.open(checkpoint: options.checkpoint, dataPath: options.dataPath,
                                               defaultSplit: .train, communicator: communicator)
        let outputPath = options.outputPath
            ?? (model.location.runDirectory as NSString).appendingPathComponent("embeddings.h5")
        let configuration = model.configuration
        let source = try communicator.agreed {
            try StreamingMinibatchSource(dataFile: model.data, memoryBudget: options.readerMemoryBudget,
                                         bernoulli: configuration.likelihood == .bernoulli)
        }
        // Only rank 0 writes the fingerprint; hashing a file without a stored one reads it whole.
        let provenance = try communicator.rootOnly { () -> EmbeddingProvenance in
            let fingerprint = try model.data.fingerprint()
            if fingerprint != model.checkpoint.dataFingerprint {
                warn("vae-dist: warning: \(model.data.path) (\(fingerprint)) is not the data \(model.location.path) was trained on "
                     + "(\(model.checkpoint.dataFingerprint)); embedding it anyway")
            }
            var provenance = EmbeddingProvenance(
                checkpointPath: model.location.path, checkpointStep: model.checkpoint.step,
                checkpointEpoch: model.checkpoint.epoch, configuration: configuration, dataPath: model.data.path,
                dataFingerprint: fingerprint, trainingDataFingerprint: model.checkpoint.dataFingerprint)
            provenance.labelNames = try model.data.readLabelNames()
            return provenance
        }

        let encoder = BlockEncoder(model: model, source: source, microBatch: options.microBatch,
                                   blockRows: options.blockRows, communicator: communicator)
        var finalFailure: String?
        if communicator.isRoot, let provenance {
            var enteredBlocks = false
            do {
                try writeHDF5FileAtomically(to: outputPath) { file in
                    var writer: EmbeddingFileWriter?
                    var setupFailure: String?
                    do {
                        writer = try EmbeddingFileWriter(
                            file: file, rowCount: model.data.rowCount, latentDimension: configuration.architecture.latentDimension,
                            hasLabels: model.data.hasLabels, provenance: provenance, gzipLevel: options.gzipLevel)
                    } catch {
                        setupFailure = failureMessage(error)
                    }
                    enteredBlocks = true
                    try encoder.run(writer: writer, labelsFrom: model.data, failure: setupFailure)
                    try writer?.finish()
                }
            } catch let error as any CollectiveError {
                throw error
            } catch {
                // Failing before the blocks began (no temporary file): take part in them as a
                // failed rank so the others hear of it; after them: closing or renaming failed.
                if !enteredBlocks {
                    try encoder.run(writer: nil, labelsFrom: nil, failure: failureMessage(error))
                }
                finalFailure = failureMessage(error)
            }
        } else {
            try encoder.run(writer: nil, labelsFrom: nil, failure: nil)
        }
        try communicator.agreeOnFailure(finalFailure)

        let summary = EmbeddingSummary(
            outputPath: outputPath, rows: model.data.rowCount, latentDimension: configuration.architecture.latentDimension,
            hasLabels: model.data.hasLabels, checkpointPath: model.location.path, checkpointStep: model.checkpoint.step,
            dataPath: model.data.path, seconds: Date().timeIntervalSince(start))
        if communicator.isRoot {
            log("vae-dist embed: wrote \(outputPath): /mu and /logvar [\(summary.rows), \(summary.latentDimension)], /index"
                + (summary.hasLabels ? ", /labels" : "") + " from \(summary.checkpointPath) (step \(summary.checkpointStep)) "
                + "on \(summary.dataPath), \(communicator.size) rank\(communicator.size == 1 ? "" : "s"), "
                + String(format: "%.1f s", summary.seconds))
        }
        return summary
    }
}

/// The block loop of an embedding run.
///
/// Every rank calls `run` once; the collectives inside (one failure agreement and one
/// gatherv per block, one final agreement) are issued in the same order on every rank,
/// failed or not.
final class BlockEncoder {
    private let communicator: any Communicator
    private let source: any MinibatchSource
    private let objective: ELBOObjective
    private let parameters: FloatBuffer
    private let rowCount: Int
    private let latent: Int
    private let microBatch: Int
    private let microBatchesPerBlock: Int
    private let batch: FloatBuffer       // [microBatch, D]
    private let mu: FloatBuffer          // [microBatch, Z]
    private let logVariance: FloatBuffer // [microBatch, Z]

    init(model: CheckpointedModel, source: any MinibatchSource, microBatch: Int, blockRows: Int,
         communicator: any Communicator) {
        self.communicator = communicator
        self.source = source
        let architecture = model.configuration.architecture
        objective = ELBOObjective(architecture: architecture, settings: model.objectiveSettings(samples: 1),
                                  maxRows: microBatch)
        parameters = FloatBuffer(model.checkpoint.parameters)
        rowCount = model.data.rowCount
        latent = architecture.latentDimension
        self.microBatch = microBatch
        // At least one micro-batch per rank per block, so no rank idles through a block.
        microBatchesPerBlock = max(communicator.size, (blockRows + microBatch - 1) / microBatch)
        batch = FloatBuffer(count: microBatch * architecture.dataDimension)
        mu = FloatBuffer(count: microBatch * latent)
        logVariance = FloatBuffer(count: microBatch * latent)
    }

    /// Encodes every block.
    ///
    /// Rank 0 passes the file writer and the labels' source. `failure` is a failure this
    /// rank already has: it is agreed at the first block.
    func run(writer: EmbeddingFileWriter?, labelsFrom data: DataFile?, failure initialFailure: String?) throws {
        var failure = initialFailure
        let labels: HDF5Dataset?
        do {
            labels = try data.flatMap { data in
                data.hasLabels ? try HDF5File.open(data.path).root().openDataset(DataFile.labelsPath) : nil
            }
        } catch {
            labels = nil
            failure = failure ?? failureMessage(error)
        }
        let microBatchCount = (rowCount + microBatch - 1) / microBatch
        let width = 2 * latent
        var local = [Float]()
        local.reserveCapacity(EpochSchedule.rankRange(batchSize: microBatchesPerBlock, rank: communicator.size - 1,
                                                      size: communicator.size).count * microBatch * width)
        for firstMicroBatch in stride(from: 0, to: microBatchCount, by: microBatchesPerBlock) {
            let blockMicroBatches = min(microBatchesPerBlock, microBatchCount - firstMicroBatch)
            let mine = EpochSchedule.rankRange(batchSize: blockMicroBatches, rank: communicator.rank, size: communicator.size)
            local.removeAll(keepingCapacity: true)
            if failure == nil {
                do {
                    let plan = mine.map { position -> [Int] in
                        let first = (firstMicroBatch + position) * microBatch
                        return Array(first..<min(first + microBatch, rowCount))
                    }
                    try encode(plan: plan, into: &local)
                } catch {
                    failure = failureMessage(error)
                }
            }
            try communicator.agreeOnFailure(failure)
            let gathered = try local.withUnsafeBufferPointer { try communicator.gatherRows($0, width: width, to: 0) }
            if let gathered, let writer, failure == nil {
                do {
                    let firstRow = firstMicroBatch * microBatch
                    let rows = min(blockMicroBatches * microBatch, rowCount - firstRow)
                    try append(gathered, rows: rows, firstRow: firstRow, labels: labels, to: writer)
                } catch {
                    failure = failureMessage(error)
                }
            }
        }
        try communicator.agreeOnFailure(failure)
    }

    /// Encodes this rank's micro-batches of a block, appending [mu | logvar] rows to `local`.
    private func encode(plan: [[Int]], into local: inout [Float]) throws {
        guard !plan.isEmpty else { return }
        try source.beginEpoch(plan: plan)
        for rows in plan {
            let count = try source.nextBatch(into: batch.pointer)
            guard count == rows.count else { throw TrainingDataError.unexpectedBatch(expected: rows.count, got: count) }
            objective.encode(batch: batch.pointer, count: count, parameters: parameters.pointer,
                             mu: mu.pointer, logVariance: logVariance.pointer)
            for row in 0..<count {
                local.append(contentsOf: UnsafeBufferPointer(start: mu.pointer + row * latent, count: latent))
                local.append(contentsOf: UnsafeBufferPointer(start: logVariance.pointer + row * latent, count: latent))
            }
        }
    }

    /// Rank 0: splits the gathered [rows, mu | logvar] block and appends it with its labels.
    private func append(_ gathered: GatheredRows, rows: Int, firstRow: Int, labels: HDF5Dataset?,
                        to writer: EmbeddingFileWriter) throws {
        guard gathered.rowCount == rows, writer.rowsWritten == firstRow else {
            throw ModelInputError("internal error: gathered \(gathered.rowCount) rows for block \(firstRow)..<\(firstRow + rows) "
                                  + "with \(writer.rowsWritten) rows written")
        }
        var muBlock = [Float](repeating: 0, count: rows * latent)
        var logVarianceBlock = [Float](repeating: 0, count: rows * latent)
        gathered.values.withUnsafeBufferPointer { values in
            for row in 0..<rows {
                let source = values.baseAddress! + row * 2 * latent
                for j in 0..<latent {
                    muBlock[row * latent + j] = source[j]
                    logVarianceBlock[row * latent + j] = source[latent + j]
                }
            }
        }
        let labelRows = try labels?.readRows(firstRow..<(firstRow + rows), as: Int64.self)
        try muBlock.withUnsafeBufferPointer { muPointer in
            try logVarianceBlock.withUnsafeBufferPointer { logVariancePointer in
                try writer.append(mu: muPointer, logVariance: logVariancePointer, labels: labelRows)
            }
        }
    }
}
