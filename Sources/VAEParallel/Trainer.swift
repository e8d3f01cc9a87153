import Foundation
import VAECore
import VAEIO

/// A step produced a loss or gradient that is not a finite number. Every rank
/// sees the same reduced numbers, so every rank throws this at the same step.
public struct NonFiniteTraining: CollectiveError, CustomStringConvertible {
    public let step: Int
    public let what: String
    public var description: String { "training diverged at step \(step): \(what) (try a lower --lr or --clip)" }
}

/// Data-parallel training: the serial minibatch loop plus one fused allreduce
/// per step. Every rank runs this same code; the single-process communicator
/// makes the collectives identities.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let communicator: any Communicator
    public let objective: ELBOObjective
    public let layout: ParameterLayout
    public let parameters: FloatBuffer
    public let optimizer: any Optimizer
    public let streams: RandomStreams
    /// Optimizer steps taken so far.
    public var step: Int {
        get { optimizer.stepCount }
        set { optimizer.stepCount = newValue }
    }

    private let trainData: any MinibatchSource
    /// [gradients (P) | loss, reconstruction, KL sums | failure status]: reduced in ONE allreduce.
    private let fused: FloatBuffer
    private let batch: FloatBuffer            // [rows per rank at most, D]
    private var rowIndices: [Int]
    private static let lossSlots = 3

    /// Reduce the decoder's gradients while the encoder's are computed (two buckets,
    /// the first non-blocking), instead of one blocking allreduce after the backward pass.
    public let overlapAllreduce: Bool

    public init(configuration: TrainingConfiguration, communicator: any Communicator,
                trainData: any MinibatchSource, overlapAllreduce: Bool = false) throws {
        self.configuration = configuration
        self.communicator = communicator
        self.overlapAllreduce = overlapAllreduce
        self.trainData = trainData
        streams = RandomStreams(seed: configuration.seed)
        let maxRows = EpochSchedule.rankRange(batchSize: configuration.globalBatch, rank: communicator.size - 1,
                                              size: communicator.size).count
        let rows = max(maxRows, 1)
        objective = ELBOObjective(architecture: configuration.architecture,
                                  settings: configuration.objectiveSettings, maxRows: rows)
        layout = objective.layout
        parameters = FloatBuffer(count: layout.totalCount)
        fused = FloatBuffer(count: layout.totalCount + Self.lossSlots + 1)
        batch = FloatBuffer(count: rows * configuration.architecture.dataDimension)
        rowIndices = [Int](repeating: 0, count: rows)
        optimizer = configuration.makeOptimizer(parameterCount: layout.totalCount)
        configuration.initialization.initialize(parameters.pointer, layout: layout, seed: configuration.seed)
        try synchronizeInitialParameters()
    }

    /// Every rank made its parameters from the seed; rank 0's are broadcast and
    /// the others check theirs are identical, which catches ranks started with
    /// different options or binaries before they silently train different models.
    private func synchronizeInitialParameters() throws {
        guard communicator.size > 1 else { return }
        let own = parameters.array
        try communicator.broadcast(parameters.buffer, from: 0)
        let differs = zip(own, parameters.array).contains { $0.bitPattern != $1.bitPattern }
        try communicator.agreeOnFailure(differs
            ? "initial parameters differ from rank 0's: ranks were started with different options or builds" : nil)
    }

    /// Continues from a checkpoint: its parameters, optimizer state and step
    /// count replace the freshly initialised ones, so the next step is exactly
    /// the step an uninterrupted run would take.
    public func restore(from checkpoint: Checkpoint) throws {
        guard checkpoint.parameters.count == parameters.count else {
            throw TrainingSetupError("checkpoint holds \(checkpoint.parameters.count) parameters, the model has \(parameters.count)")
        }
        guard checkpoint.optimizerName == optimizer.name else {
            throw TrainingSetupError("checkpoint was trained with \(checkpoint.optimizerName), this run uses \(optimizer.name)")
        }
        for (i, value) in checkpoint.parameters.enumerated() { parameters[i] = value }
        for (name, buffer) in optimizer.state {
            guard let saved = checkpoint.optimizerState[name], saved.count == buffer.count else {
                throw TrainingSetupError("checkpoint lacks the \(optimizer.name) state '\(name)'")
            }
            for (i, value) in saved.enumerated() { buffer[i] = value }
        }
        step = checkpoint.step
    }

    public func stepsPerEpoch(rowCount: Int) -> Int {
        EpochSchedule.stepsPerEpoch(rowCount: rowCount, globalBatch: configuration.globalBatch,
                                    lastBatch: configuration.lastBatch)
    }

    /// Trains one epoch (0-based `epoch`); returns the global sums of its loss terms.
    /// `onStep` is called after every step with (step within the epoch, steps in the epoch).
    public func trainEpoch(_ epoch: Int, onStep: ((Int, Int) -> Void)? = nil) throws -> LossTerms {
        let schedule = EpochSchedule(epoch: epoch, rowCount: trainData.rowCount,
                                     globalBatch: configuration.globalBatch,
                                     lastBatch: configuration.lastBatch, streams: streams)
        var localFailure: String?
        do {
            try trainData.beginEpoch(plan: schedule.plan(rank: communicator.rank, size: communicator.size))
        } catch {
            localFailure = failureMessage(error)
        }
        var totals = LossTerms()
        let parameterCount = layout.totalCount
        for stepInEpoch in 0..<schedule.stepCount {
            let globalRows = schedule.globalRows(step: stepInEpoch).count
            let beta = configuration.klWeight(step: step + 1, stepsPerEpoch: schedule.stepCount)
            if overlapAllreduce {
                try overlappedStep(schedule: schedule, step: stepInEpoch, beta: beta, localFailure: &localFailure)
            } else {
                if localFailure == nil {
                    do {
                        try computeLocalGradient(schedule: schedule, step: stepInEpoch, beta: beta)
                    } catch {
                        localFailure = failureMessage(error)
                    }
                }
                // A failed rank still joins the allreduce (with zeros and status 1), so no rank hangs.
                try communicator.allreduceSum(fused.buffer, reportingFailure: localFailure)
            }

            let loss = Double(fused[parameterCount])
            let reconstruction = Double(fused[parameterCount + 1])
            let kl = Double(fused[parameterCount + 2])
            guard loss.isFinite else {
                throw NonFiniteTraining(step: step + 1, what: "the loss is \(loss)")
            }
            let inverseRows = 1 / Float(globalRows)
            for i in 0..<parameterCount { fused[i] *= inverseRows }
            if configuration.clipNorm > 0 {
                let norm = GradientClipping.clip(
                    UnsafeMutableBufferPointer(rebasing: fused.buffer[0..<parameterCount]),
                    maxNorm: Double(configuration.clipNorm))
                if !norm.isFinite { throw NonFiniteTraining(step: step + 1, what: "gradient norm is \(norm)\(badTensor())") }
            }
            optimizer.step(parameters: parameters, gradients: fused)
            totals.loss += loss
            totals.reconstruction += reconstruction
            totals.kl += kl
            totals.rows += globalRows
            onStep?(stepInEpoch + 1, schedule.stepCount)
        }
        return totals
    }

    /// One step's gradient computation and reduction with the decoder's bucket (the tail
    /// of the fused buffer: decoder gradients, loss sums, status) reduced non-blocking
    /// while the encoder's backward runs. Every rank issues the same two collectives in
    /// the same order whether or not it failed, so the failure protocol is unchanged.
    private func overlappedStep(schedule: EpochSchedule, step stepInEpoch: Int, beta: Float,
                                localFailure: inout String?) throws {
        let split = objective.decoderGradientRange.lowerBound
        let all = fused.buffer
        let decoderBucket = UnsafeMutableBufferPointer(rebasing: all[split..<all.count])
        let encoderBucket = UnsafeMutableBufferPointer(rebasing: all[0..<split])
        var pending: (any PendingCollective)?
        var startError: (any Error)?
        if localFailure == nil {
            do {
                try computeLocalGradient(schedule: schedule, step: stepInEpoch, beta: beta) { [self] in
                    fused[all.count - 1] = 0
                    do { pending = try communicator.startAllreduceSum(decoderBucket) } catch { startError = error }
                }
            } catch {
                localFailure = failureMessage(error)
            }
        }
        if let startError { throw startError }
        if pending == nil {
            // Failed before the hook ran: contribute zeros and the failure status.
            all.update(repeating: 0)
            all[all.count - 1] = 1
            pending = try communicator.startAllreduceSum(decoderBucket)
        }
        _ = try pending?.progress()
        try communicator.allreduceSum(encoderBucket)
        try pending?.wait()
        let status = all[all.count - 1]
        if status != 0 {
            try communicator.resolveFailure(localFailure: localFailure, reducedStatus: status)
        }
    }

    /// This rank's rows of one step: forward and backward into the fused buffer.
    /// `decoderGradientsReady` runs once the decoder's gradients and the loss sums are in place.
    private func computeLocalGradient(schedule: EpochSchedule, step stepInEpoch: Int, beta: Float,
                                      decoderGradientsReady: (() -> Void)? = nil) throws {
        let rows = schedule.rows(step: stepInEpoch, rank: communicator.rank, size: communicator.size)
        let count = rows.isEmpty ? 0 : try trainData.nextBatch(into: batch.pointer)
        guard count == rows.count else {
            throw TrainingDataError.unexpectedBatch(expected: rows.count, got: count)
        }
        for (i, row) in rows.enumerated() { rowIndices[i] = row }
        let parameterCount = layout.totalCount
        var announced = false
        let terms = rowIndices.withUnsafeBufferPointer { indices in
            objective.evaluate(batch: batch.pointer, rowIndices: indices, count: count, streams: streams,
                               epoch: schedule.epoch, beta: beta, parameters: parameters.pointer,
                               gradients: fused.pointer) { [self] terms in
                writeLossSums(terms, at: parameterCount)
                announced = true
                decoderGradientsReady?()
            }
        }
        writeLossSums(terms, at: parameterCount)
        // A rank with no rows this step has no backward pass: its zero gradients are ready now.
        if !announced { decoderGradientsReady?() }
    }

    private func writeLossSums(_ terms: LossTerms, at offset: Int) {
        fused[offset] = Float(terms.loss)
        fused[offset + 1] = Float(terms.reconstruction)
        fused[offset + 2] = Float(terms.kl)
    }

    /// Names the first tensor holding a non-finite gradient, for the divergence message.
    private func badTensor() -> String {
        for spec in layout.tensors {
            for i in spec.offset..<spec.offset + spec.count where !fused[i].isFinite {
                return " (first non-finite gradient in \(spec.name))"
            }
        }
        return ""
    }

    /// The global -ELBO terms of a whole data source with evaluation noise
    /// (fixed across epochs, so test curves are smooth): each rank evaluates a
    /// contiguous share of the rows, and one allreduce sums the shares.
    public func evaluate(_ data: any MinibatchSource) throws -> LossTerms {
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

public enum TrainingDataError: Error, CustomStringConvertible {
    case unexpectedBatch(expected: Int, got: Int)

    public var description: String {
        switch self {
        case let .unexpectedBatch(expected, got):
            return "internal error: the data source returned \(got) rows where the schedule has \(expected)"
        }
    }
}
