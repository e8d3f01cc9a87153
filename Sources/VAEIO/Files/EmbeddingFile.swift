import Foundation
import VAECore

/// The latent codes of a data file under a trained encoder (docs/embeddings.md):
/// `/mu` and `/logvar` [N, Z] float32 (the posterior's location and raw scale,
/// log sigma^2 for the Gaussian), `/index` [N] int64 (the row in the data file),
/// `/labels` [N] int64 when the data has labels; provenance as root attributes.
public enum EmbeddingFile {
    public static let format = "vae-dist-embeddings"
    public static let formatVersion = 1
    public static let muPath = "/mu"
    public static let logVariancePath = "/logvar"
    public static let indexPath = "/index"
    public static let labelsPath = "/labels"
}

/// Where an embedding file's numbers came from: stored as root attributes so the
/// file says which model and which data made it.
public struct EmbeddingProvenance: Sendable {
    public var checkpointPath: String
    public var checkpointStep: Int
    public var checkpointEpoch: Int
    public var configuration: TrainingConfiguration
    public var dataPath: String
    public var dataFingerprint: String
    /// The fingerprint of the data the model was trained on (from the checkpoint).
    public var trainingDataFingerprint: String
    /// The data file's class names (`label_names`), carried over for plots.
    public var labelNames: [String]? = nil

    public init(checkpointPath: String, checkpointStep: Int, checkpointEpoch: Int, configuration: TrainingConfiguration,
                dataPath: String, dataFingerprint: String, trainingDataFingerprint: String) {
        self.checkpointPath = checkpointPath
        self.checkpointStep = checkpointStep
        self.checkpointEpoch = checkpointEpoch
        self.configuration = configuration
        self.dataPath = dataPath
        self.dataFingerprint = dataFingerprint
        self.trainingDataFingerprint = trainingDataFingerprint
    }
}

/// Writes an embedding file block by block into an open (new) HDF5 file: the
/// datasets are made at their final size up front, chunked by rows and
/// compressed, and each block of consecutive rows is written where it belongs,
/// so memory holds one block, never the whole file.
public final class EmbeddingFileWriter {
    public let rowCount: Int
    public let latentDimension: Int
    private let file: HDF5File
    private let mu: HDF5Dataset
    private let logVariance: HDF5Dataset
    private let index: HDF5Dataset
    private let labels: HDF5Dataset?
    /// Rows [0, rowsWritten) are complete.
    public private(set) var rowsWritten = 0

    /// - Parameters:
    ///   - gzipLevel: deflate level 1...9, or nil for uncompressed datasets.
    public init(file: HDF5File, rowCount: Int, latentDimension: Int, hasLabels: Bool,
                provenance: EmbeddingProvenance, gzipLevel: Int? = 4) throws {
        precondition(rowCount >= 1 && latentDimension >= 1, "an embedding needs rows and latent coordinates")
        self.file = file
        self.rowCount = rowCount
        self.latentDimension = latentDimension
        let root = try file.root()
        try root.setAttribute("format", EmbeddingFile.format)
        try root.setAttribute("format_version", EmbeddingFile.formatVersion)
        try root.setAttribute("checkpoint", provenance.checkpointPath)
        try root.setAttribute("checkpoint_step", provenance.checkpointStep)
        try root.setAttribute("checkpoint_epoch", provenance.checkpointEpoch)
        try root.setJSONAttribute("config", provenance.configuration)
        try root.setAttribute("posterior", provenance.configuration.posterior.rawValue)
        try root.setAttribute("data", provenance.dataPath)
        try root.setAttribute("data_fingerprint", provenance.dataFingerprint)
        try root.setAttribute("training_data_fingerprint", provenance.trainingDataFingerprint)
        if let names = provenance.labelNames, !names.isEmpty { try root.setAttribute(DataFile.labelNamesAttribute, names) }

        // Shuffle before deflate: it groups the floats' exponent bytes, which compress well.
        let shape = [rowCount, latentDimension]
        let chunks = HDF5Group.rowChunks(shape: shape, elementSize: MemoryLayout<Float>.size)
        mu = try root.createDataset(EmbeddingFile.muPath, of: Float.self, shape: shape, chunks: chunks,
                                    gzipLevel: gzipLevel, shuffle: gzipLevel != nil)
        logVariance = try root.createDataset(EmbeddingFile.logVariancePath, of: Float.self, shape: shape, chunks: chunks,
                                             gzipLevel: gzipLevel, shuffle: gzipLevel != nil)
        let rowChunks = HDF5Group.rowChunks(shape: [rowCount], elementSize: MemoryLayout<Int64>.size)
        index = try root.createDataset(EmbeddingFile.indexPath, of: Int64.self, shape: [rowCount], chunks: rowChunks,
                                       gzipLevel: gzipLevel, shuffle: gzipLevel != nil)
        labels = hasLabels
            ? try root.createDataset(EmbeddingFile.labelsPath, of: Int64.self, shape: [rowCount], chunks: rowChunks,
                                     gzipLevel: gzipLevel, shuffle: gzipLevel != nil)
            : nil
        try mu.setAttribute("description", "posterior location per row [N, Z]")
        try logVariance.setAttribute("description", "posterior log variance (raw scale) per row [N, Z]")
        try index.setAttribute("description", "row of the data file each embedding row encodes")
    }

    /// Writes the next block: rows [rowsWritten, rowsWritten + rows) of the data
    /// file. `mu` and `logVariance` are [rows, Z]; `labels` has one per row when
    /// the file has a /labels dataset.
    public func append(mu muRows: UnsafeBufferPointer<Float>, logVariance logVarianceRows: UnsafeBufferPointer<Float>,
                       labels labelRows: [Int64]?) throws {
        let rows = muRows.count / latentDimension
        guard muRows.count == rows * latentDimension, logVarianceRows.count == muRows.count else {
            throw DataError(file: file.path, "internal error: a block of \(muRows.count) mu and \(logVarianceRows.count) "
                            + "logvar values is not whole rows of \(latentDimension)")
        }
        guard rowsWritten + rows <= rowCount else {
            throw DataError(file: file.path, "internal error: block ends at row \(rowsWritten + rows) of \(rowCount)")
        }
        guard (labels == nil) == (labelRows == nil), labelRows.map({ $0.count == rows }) ?? true else {
            throw DataError(file: file.path, "internal error: labels do not match the block of \(rows) rows")
        }
        let start = rowsWritten
        try mu.writeRows(startingAt: start, from: muRows)
        try logVariance.writeRows(startingAt: start, from: logVarianceRows)
        let indices = (start..<(start + rows)).map { Int64($0) }
        try indices.withUnsafeBufferPointer { try index.writeRows(startingAt: start, from: $0) }
        if let labels, let labelRows {
            try labelRows.withUnsafeBufferPointer { try labels.writeRows(startingAt: start, from: $0) }
        }
        rowsWritten += rows
    }

    /// Checks every row was written (call before the file is closed and renamed).
    public func finish() throws {
        guard rowsWritten == rowCount else {
            throw DataError(file: file.path, "internal error: \(rowsWritten) of \(rowCount) embedding rows written")
        }
    }
}
