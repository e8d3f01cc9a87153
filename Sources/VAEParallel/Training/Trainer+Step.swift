import VAECore

/// Where a step is: its epoch's schedule and its index in it.
struct StepPosition {
    let schedule: EpochSchedule
    let stepInEpoch: Int

    /// The rows of the global batch this step trains on, summed over ranks.
    var globalRows: Int { schedule.globalRows(step: stepInEpoch).count }

    /// "epoch 3, step 2 of 5", for messages.
    var description: String {
        "epoch \(schedule.epoch + 1), step \(stepInEpoch + 1) of \(schedule.stepCount)"
    }
}

// The phases of one training step, in the order `trainEpoch` calls them.
extension Trainer {
    /// This rank's rows of one step: forward and backward.
    ///
    /// The fast step sums its rows' gradient into the exchange's local gradient, with the
    /// loss sums and this rank's stop request in its tail; the reproducible step computes
    /// its rows' per-row tensors into the shared rows (`computeLocalRows`). Returns this
    /// rank's failure (reading the data), for the exchange to agree on; throws only what
    /// every rank throws (an agreed failure inside the reproducible forward).
    func computeLocalGradient(_ position: StepPosition) throws -> String? {
        if let split, let rowExchange { return try computeLocalRows(position, split: split, exchange: rowExchange) }
        let fused = exchange.localGradient
        let tail = layout.totalCount
        fused[tail + FusedTail.stop] = stopRequested() ? 1 : 0
        let rows = position.schedule.rows(step: position.stepInEpoch, rank: communicator.rank, size: communicator.size)
        do {
            // Also for a step without rows here: a read-ahead shared by the node counts every step.
            let count = try trainData.nextBatch(into: batch.pointer)
            guard count == rows.count else {
                throw TrainingDataError.unexpectedBatch(expected: rows.count, got: count)
            }
        } catch {
            return failureMessage(error)
        }
        for (i, row) in rows.enumerated() { rowIndices[i] = row }
        let beta = configuration.klWeight(step: step + 1, stepsPerEpoch: position.schedule.stepCount)
        var announced = false
        let terms = rowIndices.withUnsafeBufferPointer { indices in
            objective.evaluate(batch: batch.pointer, rowIndices: indices, count: rows.count, streams: streams,
                               epoch: position.schedule.epoch, beta: beta, parameters: parameters.pointer,
                               gradients: fused.pointer, dormantUnits: dormantUnits) { [self] terms in
                writeLossSums(terms)
                announced = true
                exchange.decoderGradientsReady()
            }
        }
        // A rank with no rows this step has no backward pass: its zero gradients are ready now.
        // (When the hook ran, the loss sums are written: the buffer may already be in a
        // non-blocking reduction, which MPI forbids touching.)
        if !announced {
            writeLossSums(terms)
            exchange.decoderGradientsReady()
        }
        return nil
    }

    /// The reproducible step's rows half.
    ///
    /// This rank's data rows go straight into the shared rows block at their positions in
    /// the global batch, then `SplitStep.computeRows` fills the rest of its rows there.
    private func computeLocalRows(_ position: StepPosition, split: SplitStep,
                                  exchange: RowSharingExchange) throws -> String? {
        let beta = configuration.klWeight(step: step + 1, stepsPerEpoch: position.schedule.stepCount)
        exchange.beginStep(globalRows: position.globalRows, beta: beta, stopRequested: stopRequested())
        let rows = position.schedule.rows(step: position.stepInEpoch, rank: communicator.rank, size: communicator.size)
        let first = EpochSchedule.rankRange(batchSize: position.globalRows, rank: communicator.rank,
                                            size: communicator.size).lowerBound
        do {
            let count = rows.isEmpty ? 0 : try trainData.nextBatch(into: split.dataRows(from: first))
            guard count == rows.count else {
                throw TrainingDataError.unexpectedBatch(expected: rows.count, got: count)
            }
        } catch {
            return failureMessage(error)
        }
        for (i, row) in rows.enumerated() { rowIndices[i] = row }
        try rowIndices.withUnsafeBufferPointer { indices in
            try split.computeRows(count: rows.count, first: first, rowIndices: indices, streams: streams,
                                  epoch: position.schedule.epoch, beta: beta, parameters: parameters.pointer,
                                  dormantUnits: dormantUnits) { units, layer in
                try exchange.agree(units, layer: layer)
            }
        }
        return nil
    }

    private func writeLossSums(_ terms: LossTerms) {
        let tail = exchange.localGradient.pointer + layout.totalCount
        tail[FusedTail.loss] = Float(terms.loss)
        tail[FusedTail.reconstruction] = Float(terms.reconstruction)
        tail[FusedTail.kl] = Float(terms.kl)
    }

    /// Clipping needs the norm, and `skip` must know of a non-finite gradient, before the update.
    ///
    /// Otherwise the optimizer's pass checks finiteness.
    var needsSumOfSquaresBeforeUpdate: Bool { configuration.clipNorm > 0 || nonFinitePolicy == .skip }

    /// Whether the step's update is skipped.
    ///
    /// A non-finite reduced loss or gradient under `--on-nonfinite skip`. Under `stop` it
    /// throws `NonFiniteTraining`.
    ///
    /// Reduced values: every rank takes the same branch. Skipped rows are simply not
    /// learned from; the step still counts as done.
    func skipsNonFiniteStep(_ reduced: ReducedStep, at position: StepPosition) throws -> Bool {
        guard !reduced.isFinite else { return false }
        if nonFinitePolicy == .stop {
            throw try nonFiniteTraining(step: step + 1, loss: reduced.loss, at: position)
        }
        return true
    }

    /// 1 / (global rows), times the clip factor when `--clip` is set.
    ///
    /// What the optimizer multiplies the summed gradient by as it reads it.
    func gradientScale(_ reduced: ReducedStep, at position: StepPosition) -> Float {
        var scale = 1 / Float(position.globalRows)
        if configuration.clipNorm > 0, let sumOfSquares = reduced.sumOfSquares {
            let meanGradientNorm = sumOfSquares.squareRoot() * Double(scale)
            scale *= GradientClipping.factor(norm: meanGradientNorm, maxNorm: Double(configuration.clipNorm))
        }
        return scale
    }

    /// The optimizer step at this step's learning rate.
    ///
    /// Throws `NonFiniteTraining` when the optimizer met a non-finite gradient.
    ///
    /// That happens only without a sum of squares before the update (the check before it
    /// passes every finite one): the update has then reached the parameters in memory (and
    /// counted: `step` is this step's number now), and no checkpoint is written after it.
    func update(gradientScale: Float, _ reduced: ReducedStep, at position: StepPosition) throws -> UpdateVerdict {
        optimizer.learningRate = configuration.learningRate(step: step + 1, stepsPerEpoch: position.schedule.stepCount)
        let verdict = try exchange.update(optimizer: optimizer, gradientScale: gradientScale)
        if !verdict.gradientFinite {
            throw try nonFiniteTraining(step: step, loss: reduced.loss, at: position)
        }
        return verdict
    }

    /// Adds an updating step's sums to the epoch's.
    ///
    /// The dormant units also learn whether the update wrote their rows.
    func record(_ reduced: ReducedStep, _ verdict: UpdateVerdict, at position: StepPosition) {
        dormantUnits?.noteUpdate(wroteQuietRows: !verdict.quietRangesUnwritten)
        epochProgress.terms.loss += reduced.loss
        epochProgress.terms.reconstruction += reduced.reconstruction
        epochProgress.terms.kl += reduced.kl
        epochProgress.terms.rows += position.globalRows
    }

    /// The divergence error of `--on-nonfinite stop` at optimizer step `step` (1-based).
    ///
    /// It names the first tensor with a non-finite gradient.
    private func nonFiniteTraining(step: Int, loss: Double, at position: StepPosition) throws -> NonFiniteTraining {
        // The reproducible step's gradient is spread over its owners: gather the rows' sums first.
        try rowExchange?.prepareDiagnosis()
        var what = "the loss is \(loss)"
        if let tensor = firstNonFiniteGradient() { what += ", first non-finite gradient in \(tensor)" }
        return NonFiniteTraining(step: step, position: position.description, what: what)
    }

    /// The first tensor holding a non-finite reduced gradient, for the divergence message.
    private func firstNonFiniteGradient() -> String? {
        layout.tensors.first { spec in
            !exchange.reducedSumOfSquares(spec.offset..<(spec.offset + spec.count)).isFinite
        }?.name
    }
}
