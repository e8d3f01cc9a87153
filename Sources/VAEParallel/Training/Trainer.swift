import Foundation
import VAECore
import VAEIO

/// Data-parallel training: the serial minibatch loop plus one gradient exchange per step.
///
/// Every rank runs this same code on its rows of each global batch; a
/// `GradientExchange` (one allreduce, or shared memory on a node) gives every rank the
/// same sums, and the single-process communicator makes the collectives identities.
/// `trainEpoch` reads as the algorithm, one call per phase; the phases are in
/// Trainer+Step.swift.
public final class Trainer {
    public let configuration: TrainingConfiguration
    public let communicator: any Communicator
    public let objective: ELBOObjective
    public let layout: ParameterLayout
    public let optimizer: any Optimizer
    public let streams: RandomStreams
    /// The parameters every forward reads (the exchange's: on one node, shared memory).
    public var parameters: FloatBuffer { exchange.parameters }
    /// Optimizer steps taken so far.
    public var step: Int {
        get { optimizer.stepCount }
        set { optimizer.stepCount = newValue }
    }

    /// What a step with a non-finite reduced loss or gradient does.
    public var nonFinitePolicy: NonFinitePolicy = .stop
    /// Asked once per step; if any rank answers true, every rank stops after the same step.
    public var stopRequested: () -> Bool = { false }
    /// How far the current (or last) epoch got.
    ///
    /// trainEpoch returned early on a stop request when `completedSteps` is below the
    /// epoch's step count.
    public internal(set) var epochProgress = EpochProgress()
    /// Ranks that asked to stop at the step trainEpoch stopped after (0: it ran to the end).
    public internal(set) var ranksRequestingStop = 0

    /// The exchange in use: `.sharedMemory` or `.allreduce` (one process: `.allreduce`, a no-op).
    public let gradientExchange: GradientExchangeChoice
    /// How the ranks combine their gradients, for the banner.
    public var exchangeSummary: String { exchange.summary }
    /// Seconds the exchange spent synchronizing and summing outside the communicator.
    ///
    /// 0 on the allreduce path, whose time a `TimedCommunicator` measures.
    public var exchangeSeconds: Double { exchange.exchangeSeconds }
    /// The first encoder layer's dormant units, left out of its forward on training steps.
    ///
    /// Nil when off (`DormantUnitsChoice`), not a ReLU encoder, or the BLAS kernel fails the check.
    public let dormantUnits: DormantUnits?
    /// Whether dormant units are skipped, or why not (for the banner).
    public let dormantUnitsNote: String

    /// Whether a run with any number of ranks gives this run's bits, and how, or why not (for the banner).
    public let reproducibilityNote: String
    public var isReproducible: Bool { split != nil }

    let exchange: any GradientExchange
    /// The reproducible step's model and exchange (rows, then units); nil in the fast step.
    let split: SplitStep?
    let rowExchange: RowSharingExchange?
    let trainData: any MinibatchSource
    let batch: FloatBuffer            // [rows per rank at most, D]
    var rowIndices: [Int]
    /// The reproducible step's evaluation: fixed chunks of a global batch (made on first use).
    var evaluationObjective: ELBOObjective?
    /// Each rank stored its share of restored parameters and state; publish before reading them.
    var restoredStateUnpublished = false

    public init(configuration: TrainingConfiguration, communicator: any Communicator,
                trainData: any MinibatchSource, overlapAllreduce: Bool = false,
                gradientExchange: GradientExchangeChoice = .auto, dormantUnits: DormantUnitsChoice = .skip,
                reproducible: ReproducibilityChoice = .auto) throws {
        self.configuration = configuration
        self.communicator = communicator
        self.trainData = trainData
        streams = RandomStreams(seed: configuration.seed)
        let stepRows = EpochSchedule.largestStep(rowCount: trainData.rowCount, globalBatch: configuration.globalBatch)
        let maxRows = EpochSchedule.rankRange(batchSize: stepRows, rank: communicator.size - 1,
                                              size: communicator.size).count
        let rows = max(maxRows, 1)
        objective = ELBOObjective(architecture: configuration.architecture,
                                  settings: configuration.objectiveSettings, maxRows: rows)
        layout = objective.layout
        batch = FloatBuffer(count: rows * configuration.architecture.dataDimension)
        rowIndices = [Int](repeating: 0, count: rows)
        do {
            (split, rowExchange) = try Self.makeReproducibleStep(
                choice: reproducible, configuration: configuration, communicator: communicator,
                gradientExchange: gradientExchange, overlapAllreduce: overlapAllreduce, stepRows: stepRows,
                maxRows: rows) ?? (nil, nil)
            reproducibilityNote = split != nil ? "the same bits for any number of ranks (rows, then units)"
                : "off (--no-reproducible): the last bits depend on the number of ranks"
        } catch let unavailable as ReproducibilityUnavailable {
            if reproducible == .on { throw TrainingSetupError("--reproducible: \(unavailable)") }
            (split, rowExchange) = (nil, nil)
            reproducibilityNote = "off: \(unavailable); the last bits depend on the number of ranks"
        }
        // After the choice: the dormant units' check runs the GEMMs the step will.
        (self.dormantUnits, dormantUnitsNote) = try Self.makeDormantUnits(
            choice: dormantUnits, objective: objective, communicator: communicator, configuration: configuration,
            trainingRows: trainData.rowCount)
        if let rowExchange {
            exchange = rowExchange
            self.gradientExchange = rowExchange.group is SoloNodeGroup ? .allreduce : .sharedMemory
        } else {
            exchange = try gradientExchange.makeExchange(
                communicator: communicator, configuration: configuration, layout: layout,
                decoderStart: objective.decoderGradientRange.lowerBound, overlapAllreduce: overlapAllreduce)
            self.gradientExchange = exchange is SharedMemoryExchange ? .sharedMemory : .allreduce
        }
        optimizer = exchange.makeOptimizer(configuration)

        let initial = FloatBuffer(count: layout.totalCount)
        configuration.initialization.initialize(initial.pointer, layout: layout, seed: configuration.seed)
        try synchronizeInitialParameters(initial)
        exchange.store(initial.pointer, into: parameters)
        try exchange.publish()
    }

    public func stepsPerEpoch(rowCount: Int) -> Int {
        EpochSchedule.stepsPerEpoch(rowCount: rowCount, globalBatch: configuration.globalBatch,
                                    lastBatch: configuration.lastBatch)
    }

    /// Trains one epoch (0-based `epoch`); returns the global sums of its loss terms.
    ///
    /// `resuming` continues an epoch a mid-epoch checkpoint stopped in: the schedule is a
    /// pure function of (seed, epoch, ordering), so skipping its first steps is exact. `onStep` is
    /// called after every step with (step within the epoch, steps in the epoch). Returns
    /// early, after the same step on every rank, when a rank's `stopRequested` says so.
    public func trainEpoch(_ epoch: Int, resuming: EpochProgress = EpochProgress(),
                           onStep: ((Int, Int) -> Void)? = nil) throws -> LossTerms {
        guard let ordering = configuration.epochOrdering else {
            preconditionFailure("--shuffle blocks without the data's block layout: set configuration.blockShuffle first")
        }
        let schedule = EpochSchedule(epoch: epoch, rowCount: trainData.rowCount,
                                     globalBatch: configuration.globalBatch,
                                     lastBatch: configuration.lastBatch, streams: streams, ordering: ordering)
        var localFailure = try beginEpoch(schedule, skippingSteps: resuming.completedSteps)
        epochProgress = resuming
        ranksRequestingStop = 0
        for stepInEpoch in resuming.completedSteps..<schedule.stepCount {
            let position = StepPosition(schedule: schedule, stepInEpoch: stepInEpoch)
            // This rank's rows: forward and backward into the local gradient (a failure is
            // carried into the exchange, which every rank still joins).
            if localFailure == nil { localFailure = try computeLocalGradient(position) }
            // Reduce: every rank gets the same loss sums, stop requests and gradient.
            let reduced = try exchange.reduce(localFailure: localFailure,
                                              needsSumOfSquares: needsSumOfSquaresBeforeUpdate)
            // Finite or skip: a NaN or Inf stops the run (throws) or skips the update.
            if try skipsNonFiniteStep(reduced, at: position) {
                epochProgress.skippedSteps += 1
            } else {
                // Clip and update: the mean over the global batch, scaled to the norm limit.
                let verdict = try update(gradientScale: gradientScale(reduced, at: position), reduced, at: position)
                // Bookkeeping: the epoch's sums, and whether the dormant units' rows were written.
                record(reduced, verdict, at: position)
            }
            epochProgress.completedSteps = stepInEpoch + 1
            onStep?(stepInEpoch + 1, schedule.stepCount)
            // Stop requests: any rank's stops every rank after this same step.
            if reduced.stopRequests > 0 {
                ranksRequestingStop = reduced.stopRequests
                break
            }
        }
        // Every rank takes the same branch: the step counts are global.
        if let dormantUnits, resuming.completedSteps == 0, epochProgress.completedSteps == schedule.stepCount {
            try endDormantObservation(dormantUnits)
        }
        return epochProgress.terms
    }

    /// Readies an epoch: restored state, dormant-unit observation, this rank's rows.
    ///
    /// Returns a failure of the data source, to be agreed on at the first step's exchange.
    private func beginEpoch(_ schedule: EpochSchedule, skippingSteps completedSteps: Int) throws -> String? {
        try publishRestoredState()
        dormantUnits?.beginEpoch(parameters: parameters.pointer)
        do {
            try trainData.beginEpoch(schedule.readingPlan(rank: communicator.rank,
                                                          nodeRanks: trainData.nodeWorldRanks ?? [communicator.rank],
                                                          size: communicator.size, from: completedSteps))
            return nil
        } catch {
            return failureMessage(error)
        }
    }
}
