import Foundation
import VAECore
import VAEIO

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
    /// Called on every rank after each block with the rows encoded so far.
    var onBlock: ((Int) -> Void)?

    init(model: CheckpointedModel, source: any MinibatchSource, microBatch requestedMicroBatch: Int,
         blockRows requestedBlockRows: Int, communicator: any Communicator) {
        self.communicator = communicator
        self.source = source
        let architecture = model.configuration.architecture
        // No call encodes more rows than the file has: sizes beyond it change nothing but the buffers.
        let microBatch = min(requestedMicroBatch, max(1, model.data.rowCount))
        let blockRows = min(requestedBlockRows, max(1, model.data.rowCount))
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
            onBlock?(min(rowCount, (firstMicroBatch + blockMicroBatches) * microBatch))
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
