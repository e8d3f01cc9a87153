import VAECore
import VAEIO

extension Trainer {
    /// The global -ELBO terms of a whole data source with evaluation noise.
    ///
    /// The noise is fixed across epochs, so test curves are smooth. Each rank evaluates
    /// a contiguous share of the rows, and one allreduce sums the shares.
    public func evaluate(_ data: any MinibatchSource) throws -> LossTerms {
        try publishRestoredState()
        if isReproducible { return try evaluateInFixedChunks(data) }
        let share = EpochSchedule.rankRange(batchSize: data.rowCount, rank: communicator.rank, size: communicator.size)
        let chunk = objective.maxRows
        let plan = stride(from: share.lowerBound, to: share.upperBound, by: chunk).map {
            Array($0..<min($0 + chunk, share.upperBound))
        }
        var local = LossTerms()
        var localFailure: String?
        do {
            try data.beginEpoch(plan: plan)
            for rows in plan {
                let count = try data.nextBatch(into: batch.pointer)
                guard count == rows.count else { throw TrainingDataError.unexpectedBatch(expected: rows.count, got: count) }
                let terms = rows.withUnsafeBufferPointer { indices in
                    objective.evaluate(batch: batch.pointer, rowIndices: indices, count: count, streams: streams,
                                       noisePurpose: .evaluationNoise, epoch: 0, beta: 1,
                                       parameters: parameters.pointer, gradients: nil)
                }
                local.loss += terms.loss
                local.reconstruction += terms.reconstruction
                local.kl += terms.kl
                local.rows += count
            }
        } catch {
            localFailure = failureMessage(error)
        }
        try communicator.agreeOnFailure(localFailure)
        var sums = [local.loss, local.reconstruction, local.kl, Double(local.rows)]
        try sums.withUnsafeMutableBufferPointer { try communicator.allreduceSum($0) }
        var global = LossTerms()
        (global.loss, global.reconstruction, global.kl, global.rows) = (sums[0], sums[1], sums[2], Int(sums[3]))
        return global
    }

    /// The reproducible evaluation: the same numbers for any number of ranks.
    ///
    /// The rows are cut into chunks of one global batch, whatever the ranks; each rank
    /// evaluates whole chunks (a chunk's sums add its rows in row order, its active units
    /// are the chunk's), and rank 0 adds the chunks' sums in chunk order.
    func evaluateInFixedChunks(_ data: any MinibatchSource) throws -> LossTerms {
        let chunk = max(1, min(configuration.globalBatch, data.rowCount))
        let chunkCount = (data.rowCount + chunk - 1) / chunk
        let mine = EpochSchedule.rankRange(batchSize: chunkCount, rank: communicator.rank, size: communicator.size)
        let plan = mine.map { Array(($0 * chunk)..<min(($0 + 1) * chunk, data.rowCount)) }
        let objective = evaluationObjective(rows: chunk)
        let rows = FloatBuffer(count: chunk * configuration.architecture.dataDimension)
        var sums = [Double]()
        sums.reserveCapacity(4 * plan.count)
        var localFailure: String?
        do {
            if !plan.isEmpty { try data.beginEpoch(plan: plan) }
            for indices in plan {
                let count = try data.nextBatch(into: rows.pointer)
                guard count == indices.count else {
                    throw TrainingDataError.unexpectedBatch(expected: indices.count, got: count)
                }
                let terms = indices.withUnsafeBufferPointer { indices in
                    objective.evaluate(batch: rows.pointer, rowIndices: indices, count: count, streams: streams,
                                       noisePurpose: .evaluationNoise, epoch: 0, beta: 1,
                                       parameters: parameters.pointer, gradients: nil)
                }
                sums += [terms.loss, terms.reconstruction, terms.kl, Double(count)]
            }
        } catch {
            localFailure = failureMessage(error)
        }
        try communicator.agreeOnFailure(localFailure)
        let gathered = try sums.withUnsafeBufferPointer { try communicator.gatherv($0, to: 0) }
        var total = [0.0, 0.0, 0.0, 0.0]
        if let gathered {
            for (index, value) in gathered.values.enumerated() { total[index % 4] += value }
        }
        try total.withUnsafeMutableBufferPointer { try communicator.broadcast($0, from: 0) }
        var global = LossTerms()
        (global.loss, global.reconstruction, global.kl, global.rows) = (total[0], total[1], total[2], Int(total[3]))
        return global
    }

    /// The objective of the fixed-chunk evaluation, remade when a chunk outgrows it.
    private func evaluationObjective(rows: Int) -> ELBOObjective {
        if let objective = evaluationObjective, objective.maxRows >= rows { return objective }
        let objective = ELBOObjective(architecture: configuration.architecture,
                                      settings: configuration.objectiveSettings, maxRows: rows)
        evaluationObjective = objective
        return objective
    }
}
