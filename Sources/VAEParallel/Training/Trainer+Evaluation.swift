import VAECore
import VAEIO

extension Trainer {
    /// The global -ELBO terms of a whole data source with evaluation noise.
    ///
    /// The noise is fixed across epochs, so test curves are smooth. Each rank evaluates
    /// a contiguous share of the rows, and one allreduce sums the shares.
    public func evaluate(_ data: any MinibatchSource) throws -> LossTerms {
        try publishRestoredState()
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
}
