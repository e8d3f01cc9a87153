import Foundation
import VAECore
import VAEIO

/// A step produced a loss or gradient that is not a finite number. Every rank
/// sees the same reduced numbers, so every rank throws this at the same step.
public struct NonFiniteTraining: CollectiveError, CustomStringConvertible {
    /// The optimizer step that would have been taken (1-based).
    public let step: Int
    /// Where in the schedule: "epoch 3, step 2 of 5".
    public let position: String
    public let what: String
    public var description: String {
        "training diverged at step \(step) (\(position)): \(what) (try a lower --lr or --clip, or --on-nonfinite skip)"
    }
}

/// `--gradient-exchange shared-memory` on a job whose nodes hold different numbers of
/// ranks (every rank finds this at the same point).
public struct SharedMemoryUnavailable: CollectiveError, CustomStringConvertible {
    public let description: String
    init(_ description: String) { self.description = description }
}

/// Data-parallel training: the serial minibatch loop plus one gradient exchange per
/// step: on one node the ranks sum each other's gradients in shared memory and each
/// updates a share of the parameters (`SharedMemoryExchange`); otherwise one fused
/// allreduce, and every rank updates every parameter. Every rank runs this same code;
/// the single-process communicator makes the collectives identities.
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

    /// What a step with a non-finite reduced loss or gradient does.
    public var nonFinitePolicy: NonFinitePolicy = .stop
    /// Asked once per step; if any rank answers true, every rank stops after the same step.
    public var stopRequested: () -> Bool = { false }
    /// How far the current (or last) epoch got; trainEpoch returned early on a stop
    /// request when `completedSteps` is below the epoch's step count.
    public private(set) var epochProgress = EpochProgress()
    /// Ranks that asked to stop at the step trainEpoch stopped after (0: it ran to the end).
    public private(set) var ranksRequestingStop = 0

    private let trainData: any MinibatchSource
    /// [gradients (P) | loss, reconstruction, KL sums | stop requests | failure status]: reduced in ONE
    /// allreduce, or this rank's slot of the shared-memory exchange.
    private let fused: FloatBuffer
    /// Set when the ranks share one node's memory (see `GradientExchangeChoice`).
    private let shared: SharedMemoryExchange?
    /// Each rank stored its range of restored parameters and state; synchronize before reading them.
    private var restoredStateUnpublished = false
    private let batch: FloatBuffer            // [rows per rank at most, D]
    private var rowIndices: [Int]

    /// Reduce the decoder's gradients while the encoder's are computed (two buckets,
    /// the first non-blocking), instead of one blocking allreduce after the backward pass.
    public let overlapAllreduce: Bool
    /// The exchange in use: `.sharedMemory` or `.allreduce` (one process: `.allreduce`, a no-op).
    public let gradientExchange: GradientExchangeChoice
    /// Seconds the shared-memory exchange spent synchronizing and summing slots (0 on the
    /// allreduce path, whose time a `TimedCommunicator` measures).
    public var exchangeSeconds: Double { shared?.exchangeSeconds ?? 0 }
    /// Why `auto` did not take the shared-memory exchange when it could have (for the banner).
    public let exchangeNote: String?
    /// With the shared-memory exchange: how many nodes, and ranks on each.
    public var sharedMemoryNodes: (nodes: Int, ranksPerNode: Int)? {
        shared.map { ($0.group.nodeCount, $0.group.nodeSize) }
    }
    /// The first encoder layer's dormant units, left out of its forward on training steps;
    /// nil when off (`DormantUnitsChoice`), not a ReLU encoder, or the BLAS kernel fails the check.
    public let dormantUnits: DormantUnits?
    /// Whether dormant units are skipped, or why not (for the banner).
    public let dormantUnitsNote: String

    public init(configuration: TrainingConfiguration, communicator: any Communicator,
                trainData: any MinibatchSource, overlapAllreduce: Bool = false,
                gradientExchange: GradientExchangeChoice = .auto, dormantUnits: DormantUnitsChoice = .skip) throws {
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
        batch = FloatBuffer(count: rows * configuration.architecture.dataDimension)
        rowIndices = [Int](repeating: 0, count: rows)
        (self.dormantUnits, dormantUnitsNote) = try Self.makeDormantUnits(
            choice: dormantUnits, objective: objective, communicator: communicator, configuration: configuration,
            trainingRows: trainData.rowCount)

        var exchangeNote: String?
        let shared = try Self.makeSharedExchange(choice: gradientExchange, overlapAllreduce: overlapAllreduce,
                                                 communicator: communicator, configuration: configuration,
                                                 parameterCount: layout.totalCount, exchangeNote: &exchangeNote)
        self.shared = shared
        self.exchangeNote = exchangeNote
        self.gradientExchange = shared == nil ? .allreduce : .sharedMemory
        if let shared {
            parameters = shared.parameters
            fused = shared.localSlot
            optimizer = configuration.makeOptimizer(parameterCount: layout.totalCount,
                                                    allocate: shared.allocateState(count:))
        } else {
            parameters = FloatBuffer(count: layout.totalCount)
            fused = FloatBuffer(count: layout.totalCount + FusedTail.count)
            optimizer = configuration.makeOptimizer(parameterCount: layout.totalCount)
        }
        let initial = shared == nil ? parameters : FloatBuffer(count: layout.totalCount)
        configuration.initialization.initialize(initial.pointer, layout: layout, seed: configuration.seed)
        try synchronizeInitialParameters(initial)
        if let shared {
            // The optimizer state starts at zero; the window's memory is fresh, but say it.
            for (_, buffer) in optimizer.state { shared.zeroOwnRange(of: buffer) }
            shared.storeOwnRange(of: initial.pointer, into: parameters)
            try shared.synchronize()
        }
    }

    /// The dormant-unit tracker when asked for, the encoder is ReLU, and every rank's BLAS
    /// computes the compact product with the dense one's bits (agreed: the epoch-end
    /// reduction is collective).
    private static func makeDormantUnits(
        choice: DormantUnitsChoice, objective: ELBOObjective, communicator: any Communicator,
        configuration: TrainingConfiguration, trainingRows: Int
    ) throws -> (DormantUnits?, String) {
        guard choice == .skip else { return (nil, "computed (--dormant-units compute)") }
        guard let tracker = objective.makeDormantUnits() else { return (nil, "not tracked (the encoder is not ReLU)") }
        let (rank, size, batch) = (communicator.rank, communicator.size, configuration.globalBatch)
        let lastBatch = configuration.lastBatch == .partial ? trainingRows % batch : 0
        let rowCounts = [batch, lastBatch].map { EpochSchedule.rankRange(batchSize: $0, rank: rank, size: size).count }
        let matches: Int64 = DormantUnits.compactProductMatchesDense(layer: tracker.layer, rowCounts: rowCounts) ? 1 : 0
        guard try communicator.allreduce(matches, .min) == 1 else {
            return (nil, "computed: this BLAS kernel's sums depend on the matrix width (resuming must stay bitwise)")
        }
        return (tracker, "skipped in the forward once provably off on every training row")
    }

    /// The shared-memory exchange when `choice` allows it and `SharedMemoryExchange.open` can.
    private static func makeSharedExchange(
        choice: GradientExchangeChoice, overlapAllreduce: Bool, communicator: any Communicator,
        configuration: TrainingConfiguration, parameterCount: Int, exchangeNote: inout String?
    ) throws -> SharedMemoryExchange? {
        if choice == .sharedMemory && overlapAllreduce {
            throw TrainingSetupError("--overlap-allreduce overlaps the MPI allreduce: use it with --gradient-exchange allreduce or auto, not shared-memory")
        }
        guard communicator.size > 1, choice != .allreduce, !overlapAllreduce else { return nil }
        // Under auto, one rank per node has nobody to share with: one fused allreduce is cheaper.
        switch try SharedMemoryExchange.open(communicator: communicator, parameterCount: parameterCount,
                                             stateBuffers: configuration.optimizer.stateBufferCount,
                                             requireSharing: choice == .auto) {
        case .opened(let exchange):
            return exchange
        case .unavailable(let reason):
            if choice == .sharedMemory {
                // Every rank got the same answer from `open`: a collective error.
                throw SharedMemoryUnavailable("--gradient-exchange shared-memory: \(reason) (use auto or allreduce)")
            }
            exchangeNote = "shared memory not used: " + reason
            return nil
        }
    }

    /// Every rank made its parameters from the seed; rank 0's are broadcast and
    /// the others check theirs are identical, which catches ranks started with
    /// different options or binaries before they silently train different models.
    private func synchronizeInitialParameters(_ initial: FloatBuffer) throws {
        guard communicator.size > 1 else { return }
        let own = initial.array
        try communicator.broadcast(initial.buffer, from: 0)
        let differs = zip(own, initial.array).contains { $0.bitPattern != $1.bitPattern }
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
        for (name, buffer) in optimizer.state {
            guard let saved = checkpoint.optimizerState[name], saved.count == buffer.count else {
                throw TrainingSetupError("checkpoint lacks the \(optimizer.name) state '\(name)'")
            }
        }
        // In shared memory every rank writes only its own range; the first step or
        // evaluation synchronizes before anything reads them (no collective here: a
        // failure above on one rank must reach the caller's failure agreement).
        func store(_ values: [Float], into buffer: FloatBuffer) {
            values.withUnsafeBufferPointer { values in
                if let shared {
                    shared.storeOwnRange(of: values.baseAddress!, into: buffer)
                } else {
                    buffer.pointer.update(from: values.baseAddress!, count: buffer.count)
                }
            }
        }
        store(checkpoint.parameters, into: parameters)
        for (name, buffer) in optimizer.state { store(checkpoint.optimizerState[name]!, into: buffer) }
        restoredStateUnpublished = shared != nil
        step = checkpoint.step
    }

    /// After `restore`: every rank's range is in place before anyone reads the window.
    private func publishRestoredState() throws {
        guard restoredStateUnpublished, let shared else { return }
        try shared.synchronize()
        restoredStateUnpublished = false
    }

    public func stepsPerEpoch(rowCount: Int) -> Int {
        EpochSchedule.stepsPerEpoch(rowCount: rowCount, globalBatch: configuration.globalBatch,
                                    lastBatch: configuration.lastBatch)
    }

    /// Trains one epoch (0-based `epoch`); returns the global sums of its loss terms.
    /// `resuming` continues an epoch a mid-epoch checkpoint stopped in: the schedule is
    /// a pure function of (seed, epoch), so skipping its first steps is exact.
    /// `onStep` is called after every step with (step within the epoch, steps in the epoch).
    /// Returns early, after the same step on every rank, when a rank's `stopRequested` says so.
    public func trainEpoch(_ epoch: Int, resuming: EpochProgress = EpochProgress(),
                           onStep: ((Int, Int) -> Void)? = nil) throws -> LossTerms {
        let schedule = EpochSchedule(epoch: epoch, rowCount: trainData.rowCount,
                                     globalBatch: configuration.globalBatch,
                                     lastBatch: configuration.lastBatch, streams: streams)
        try publishRestoredState()
        dormantUnits?.beginEpoch(parameters: parameters.pointer)
        var localFailure: String?
        do {
            try trainData.beginEpoch(plan: Array(schedule.plan(rank: communicator.rank, size: communicator.size)
                .dropFirst(resuming.completedSteps)))
        } catch {
            localFailure = failureMessage(error)
        }
        epochProgress = resuming
        ranksRequestingStop = 0
        var totals: LossTerms {
            get { epochProgress.terms }
            set { epochProgress.terms = newValue }
        }
        let parameterCount = layout.totalCount
        let stopSlot = parameterCount + FusedTail.stop
        for stepInEpoch in resuming.completedSteps..<schedule.stepCount {
            let globalRows = schedule.globalRows(step: stepInEpoch).count
            let beta = configuration.klWeight(step: step + 1, stepsPerEpoch: schedule.stepCount)
            // Any rank's stop request (a signal) reaches every rank in this step's reduction.
            let stopValue: Float = stopRequested() ? 1 : 0
            let reduced: ReducedStep
            if overlapAllreduce {
                try overlappedStep(schedule: schedule, step: stepInEpoch, beta: beta, stopValue: stopValue,
                                   localFailure: &localFailure)
                reduced = reducedFusedBuffer()
            } else {
                if localFailure == nil {
                    do {
                        try computeLocalGradient(schedule: schedule, step: stepInEpoch, beta: beta)
                    } catch {
                        localFailure = failureMessage(error)
                    }
                }
                fused[stopSlot] = stopValue
                // A failed rank still joins the exchange (with status 1), so no rank hangs.
                if let shared {
                    reduced = try shared.reduce(localFailure: localFailure, communicator: communicator,
                                                needsSumOfSquares: needsSumOfSquaresBeforeUpdate)
                } else {
                    try communicator.allreduceSum(fused.buffer, reportingFailure: localFailure)
                    reduced = reducedFusedBuffer()
                }
            }
            let stopRanks = reduced.stopRequests
            let (loss, reconstruction, kl) = (reduced.loss, reduced.reconstruction, reduced.kl)
            // Reduced values: every rank takes the same branch. A NaN gradient with a finite loss happens
            // (0 * inf in a backward pass), so the gradient is checked too: here when its sum of squares
            // was taken, else by the optimizer's pass below.
            if !loss.isFinite || reduced.sumOfSquares?.isFinite == false {
                if nonFinitePolicy == .stop {
                    throw nonFiniteTraining(step: step + 1, loss: loss, epoch: epoch, stepInEpoch: stepInEpoch,
                                            stepCount: schedule.stepCount)
                }
                // --on-nonfinite skip: no update, no loss; the rows of this step are simply not learned from.
                epochProgress.skippedSteps += 1
                epochProgress.completedSteps = stepInEpoch + 1
                onStep?(stepInEpoch + 1, schedule.stepCount)
                if stopRanks > 0 { ranksRequestingStop = stopRanks; break }
                continue
            }
            var gradientScale = 1 / Float(globalRows)
            if configuration.clipNorm > 0, let sumOfSquares = reduced.sumOfSquares {
                let meanGradientNorm = sumOfSquares.squareRoot() * Double(gradientScale)
                gradientScale *= GradientClipping.factor(norm: meanGradientNorm, maxNorm: Double(configuration.clipNorm))
            }
            optimizer.learningRate = configuration.learningRate(step: step + 1, stepsPerEpoch: schedule.stepCount)
            let verdict = if let shared {
                try shared.update(optimizer: optimizer, gradientScale: gradientScale)
            } else {
                UpdateVerdict(gradientFinite: optimizer.step(parameters: parameters, gradients: fused,
                                                             gradientScale: gradientScale),
                              quietRangesUnwritten: optimizer.leftQuietRangesUnwritten)
            }
            if !verdict.gradientFinite {
                // Only without a sum of squares (the check above passes every finite one). The
                // update has reached the parameters in memory (and counted: `step` is this step's
                // number now); no checkpoint is written after this.
                throw nonFiniteTraining(step: step, loss: loss, epoch: epoch, stepInEpoch: stepInEpoch,
                                        stepCount: schedule.stepCount)
            }
            dormantUnits?.noteUpdate(wroteQuietRows: !verdict.quietRangesUnwritten)
            totals.loss += loss
            totals.reconstruction += reconstruction
            totals.kl += kl
            totals.rows += globalRows
            epochProgress.completedSteps = stepInEpoch + 1
            onStep?(stepInEpoch + 1, schedule.stepCount)
            if stopRanks > 0 { ranksRequestingStop = stopRanks; break }
        }
        // Every rank takes the same branch: the step counts are global.
        if let dormantUnits, resuming.completedSteps == 0, epochProgress.completedSteps == schedule.stepCount {
            try endDormantObservation(dormantUnits)
        }
        return totals
    }

    /// The epoch's observations of the first layer, combined over ranks, decide which
    /// units are dormant from the next epoch on.
    private func endDormantObservation(_ tracker: DormantUnits) throws {
        tracker.distrustQuietRows()  // the epoch ends with a full comparison
        tracker.verify(parameters: parameters.pointer)
        try communicator.allreduce(tracker.observations.buffer, .max)
        let rowsSeen = try communicator.allreduce(Int64(tracker.rowsObserved), .sum)
        tracker.endEpoch(reducedObservations: tracker.observations.pointer, rowsSeen: Int(rowsSeen),
                         trainingRows: trainData.rowCount)
        // Adam then updates the weights of those whose first moments are +0 in a cheaper pass with
        // the same bits, and says when it wrote none of them, so `verify` can skip their rows.
        if let adam = optimizer as? Adam {
            adam.quietRangesHint = tracker.quietWeightRanges(where: adam.firstMomentsArePositiveZero(in:))
        }
    }

    /// The sums in the allreduced fused buffer. One pass over the gradient gives both its
    /// finiteness check and the clipping norm; the 1 / rows scale and the clip factor are
    /// applied by the optimizer as it reads the gradient. Without clipping, under
    /// `--on-nonfinite stop`, that pass is left out: the optimizer's own pass tells whether
    /// the gradient was finite, and a non-finite one ends the run whether or not it reached
    /// the parameters. (`skip` must know before the update.)
    private func reducedFusedBuffer() -> ReducedStep {
        let count = layout.totalCount
        return ReducedStep(tail: fused.pointer + count,
                           sumOfSquares: needsSumOfSquaresBeforeUpdate
                               ? GradientClipping.sumOfSquares(fused.pointer, count: count) : nil)
    }

    /// Clipping needs the norm, and `skip` must know of a non-finite gradient, before the
    /// update; otherwise the optimizer's pass checks finiteness.
    private var needsSumOfSquaresBeforeUpdate: Bool { configuration.clipNorm > 0 || nonFinitePolicy == .skip }

    /// The divergence error of `--on-nonfinite stop` at optimizer step `step` (1-based),
    /// naming the first non-finite gradient.
    private func nonFiniteTraining(step: Int, loss: Double, epoch: Int, stepInEpoch: Int,
                                   stepCount: Int) -> NonFiniteTraining {
        var what = "the loss is \(loss)"
        if let tensor = firstNonFiniteGradient() { what += ", first non-finite gradient in \(tensor)" }
        return NonFiniteTraining(step: step, position: "epoch \(epoch + 1), step \(stepInEpoch + 1) of \(stepCount)", what: what)
    }

    /// One step's gradient computation and reduction with the decoder's bucket (the tail
    /// of the fused buffer: decoder gradients, loss sums, status) reduced non-blocking
    /// while the encoder's backward runs. Every rank issues the same two collectives in
    /// the same order whether or not it failed, so the failure protocol is unchanged.
    private func overlappedStep(schedule: EpochSchedule, step stepInEpoch: Int, beta: Float, stopValue: Float,
                                localFailure: inout String?) throws {
        let stopSlot = layout.totalCount + FusedTail.stop
        let split = objective.decoderGradientRange.lowerBound
        let all = fused.buffer
        let decoderBucket = UnsafeMutableBufferPointer(rebasing: all[split..<all.count])
        let encoderBucket = UnsafeMutableBufferPointer(rebasing: all[0..<split])
        var pending: (any PendingCollective)?
        var startError: (any Error)?
        if localFailure == nil {
            do {
                try computeLocalGradient(schedule: schedule, step: stepInEpoch, beta: beta) { [self] in
                    fused[stopSlot] = stopValue
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
                                      decoderGradientsReady: () -> Void = {}) throws {
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
                               gradients: fused.pointer, dormantUnits: dormantUnits) { [self] terms in
                writeLossSums(terms, at: parameterCount)
                announced = true
                decoderGradientsReady()
            }
        }
        // A rank with no rows this step has no backward pass: its zero gradients are ready now.
        // (When the hook ran, the loss sums are written: the buffer may already be in a
        // non-blocking reduction, which MPI forbids touching.)
        if !announced {
            writeLossSums(terms, at: parameterCount)
            decoderGradientsReady()
        }
    }

    private func writeLossSums(_ terms: LossTerms, at offset: Int) {
        fused[offset + FusedTail.loss] = Float(terms.loss)
        fused[offset + FusedTail.reconstruction] = Float(terms.reconstruction)
        fused[offset + FusedTail.kl] = Float(terms.kl)
    }

    /// The first tensor holding a non-finite gradient, for the divergence message.
    private func firstNonFiniteGradient() -> String? {
        layout.tensors.first { spec in
            let range = spec.offset..<(spec.offset + spec.count)
            let sumOfSquares = shared?.reducedSumOfSquares(range)
                ?? GradientClipping.sumOfSquares(fused.pointer + spec.offset, count: spec.count)
            return !sumOfSquares.isFinite
        }?.name
    }

    /// The global -ELBO terms of a whole data source with evaluation noise
    /// (fixed across epochs, so test curves are smooth): each rank evaluates a
    /// contiguous share of the rows, and one allreduce sums the shares.
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

public enum TrainingDataError: Error, CustomStringConvertible {
    case unexpectedBatch(expected: Int, got: Int)

    public var description: String {
        switch self {
        case let .unexpectedBatch(expected, got):
            return "internal error: the data source returned \(got) rows where the schedule has \(expected)"
        }
    }
}
