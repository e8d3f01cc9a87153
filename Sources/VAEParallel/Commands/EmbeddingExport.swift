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
    /// How rank 0 shows progress.
    public var progress: ProgressStyle = .off

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
        // The same bits at any BLAS thread count (a micro-batch's GEMMs may run threaded).
        _ = try ReproducibleGEMM.enableIfReproducible(for: configuration.architecture, rows: options.microBatch, draws: 1,
                                                      communicator: communicator)
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
        let progress = ProgressReporter(style: communicator.isRoot ? options.progress : .off, title: "embed",
                                        total: model.data.rowCount, unit: "rows", rateUnit: "rows/s")
        encoder.onBlock = { rowsDone in progress.update(done: rowsDone, items: rowsDone) }
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
        progress.finish()
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
