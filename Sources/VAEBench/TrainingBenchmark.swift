import Foundation
import VAECore
import VAEIO
import VAEParallel

/// Per-step marks taken in the trainer's `onStep` callback.
///
/// Time, seconds spent in allreduce so far, and the allocation counter. Storage is made
/// once per run, so recording allocates nothing and the step loop stays as it is without
/// the bench.
final class StepMarks {
    let capacity: Int
    let time: UnsafeMutablePointer<Double>
    let allreduce: UnsafeMutablePointer<Double>
    let allocations: UnsafeMutablePointer<UInt64>
    let allocatedBytes: UnsafeMutablePointer<UInt64>
    /// Seconds spent exchanging gradients so far (allreduce or shared-memory synchronization).
    private let exchangeSeconds: () -> Double
    private let counter: AllocationCounter?
    /// Trace allocations from the end of step 1 to the end of the last step (0 = off).
    var traceAllocations = 0

    init(steps: Int, exchangeSeconds: @escaping () -> Double, counter: AllocationCounter?) {
        capacity = steps + 1
        time = .allocate(capacity: capacity)
        allreduce = .allocate(capacity: capacity)
        allocations = .allocate(capacity: capacity)
        allocatedBytes = .allocate(capacity: capacity)
        for marks in [time, allreduce] { marks.initialize(repeating: 0, count: capacity) }
        for marks in [allocations, allocatedBytes] { marks.initialize(repeating: 0, count: capacity) }
        self.exchangeSeconds = exchangeSeconds
        self.counter = counter
    }

    deinit { [time, allreduce].forEach { $0.deallocate() }; [allocations, allocatedBytes].forEach { $0.deallocate() } }

    /// Mark `index` (0 = before the epoch, s = after step s).
    func mark(_ index: Int, of steps: Int) {
        time[index] = monotonicSeconds()
        allreduce[index] = exchangeSeconds()
        allocations[index] = counter?.count ?? 0
        allocatedBytes[index] = counter?.bytes ?? 0
        if traceAllocations > 0, let counter {
            if index == 1 && steps > 1 { counter.traceNext(traceAllocations) }
            if index == steps { counter.traceNext(0) }
        }
    }
}

/// One epoch as one rank saw it.
public struct EpochMeasurement: Codable, Equatable, Sendable {
    public let epoch: Int
    public let steps: Int
    /// The trainEpoch call on this rank, and the slowest rank's (what the job waits for).
    public let seconds: Double
    public let slowestRankSeconds: Double
    public let samplesPerSecond: Double
    /// Steady-state steps (the 2nd to the last; the first also starts the epoch).
    public let stepSeconds: Spread
    public let allreduceSeconds: Spread
    public let computeSeconds: Spread
    /// Means over the steady-state steps: step = compute + allreduce exactly.
    public let meanStepSeconds: Double
    public let meanAllreduceSeconds: Double
    /// Allreduce time over step time, summed over the steady-state steps.
    public let allreduceShare: Double
    /// Allocations during the steady-state steps and during the epoch's start (schedule, plan).
    public let steadyStateAllocations: UInt64?
    public let steadyStateAllocatedBytes: UInt64?
    public let epochStartAllocations: UInt64?
    public let trainNegativeELBO: Double
    /// First-layer units left out of the forward during this epoch (`DormantUnits`); nil when not tracked.
    public let dormantUnits: Int?
}

/// Training-step throughput.
///
/// The Trainer's own loop over data already in memory, timed per step from outside
/// through `onStep` and a `TimedCommunicator`. Collective: every rank calls it with the
/// same arguments.
public enum TrainingBenchmark {
    public static func run(
        configuration: TrainingConfiguration, communicator: any Communicator, source: any MinibatchSource,
        epochs: Int, counter: AllocationCounter?, traceAllocations: Int = 0,
        gradientExchange: GradientExchangeChoice = .auto, dormantUnits: DormantUnitsChoice = .skip
    ) throws -> (trainer: Trainer, epochs: [EpochMeasurement]) {
        let timed = TimedCommunicator(communicator)
        let trainer = try Trainer(configuration: configuration, communicator: timed, trainData: source,
                                  gradientExchange: gradientExchange, dormantUnits: dormantUnits)
        let steps = trainer.stepsPerEpoch(rowCount: source.rowCount)
        // The allreduce path's time is in the communicator, the shared-memory path's in the trainer.
        let marks = StepMarks(steps: steps, exchangeSeconds: { [timed, trainer] in timed.allreduceSeconds + trainer.exchangeSeconds },
                              counter: counter)
        let onStep: (Int, Int) -> Void = { [marks] step, total in marks.mark(step, of: total) }
        var results: [EpochMeasurement] = []
        for epoch in 0..<epochs {
            marks.traceAllocations = epoch == epochs - 1 ? traceAllocations : 0
            try communicator.barrier()
            timed.reset()
            marks.mark(0, of: steps)
            let dormant = trainer.dormantUnits?.dormantCount
            let terms = try trainer.trainEpoch(epoch, onStep: onStep)
            let seconds = marks.time[steps] - marks.time[0]
            let slowest = try communicator.allreduce(seconds, .max)
            results.append(measurement(epoch: epoch + 1, steps: steps, marks: marks, seconds: seconds,
                                       slowest: slowest, rows: terms.rows, counted: counter != nil,
                                       negativeELBO: terms.negativeELBOPerRow, dormantUnits: dormant))
        }
        return (trainer, results)
    }

    private static func measurement(epoch: Int, steps: Int, marks: StepMarks, seconds: Double, slowest: Double,
                                    rows: Int, counted: Bool, negativeELBO: Double, dormantUnits: Int?) -> EpochMeasurement {
        // Steady state: steps 2...S; with a single step there is only step 1.
        let first = steps > 1 ? 2 : 1
        var stepTimes: [Double] = [], allreduceTimes: [Double] = [], computeTimes: [Double] = []
        for s in first...steps {
            let step = marks.time[s] - marks.time[s - 1]
            let allreduce = marks.allreduce[s] - marks.allreduce[s - 1]
            stepTimes.append(step)
            allreduceTimes.append(allreduce)
            computeTimes.append(step - allreduce)
        }
        let steadyAllocations = marks.allocations[steps] - marks.allocations[first - 1]
        let steadyBytes = marks.allocatedBytes[steps] - marks.allocatedBytes[first - 1]
        return EpochMeasurement(
            epoch: epoch, steps: steps, seconds: seconds, slowestRankSeconds: slowest,
            samplesPerSecond: Double(rows) / slowest,
            stepSeconds: Spread(stepTimes), allreduceSeconds: Spread(allreduceTimes),
            computeSeconds: Spread(computeTimes),
            meanStepSeconds: stepTimes.reduce(0, +) / Double(stepTimes.count),
            meanAllreduceSeconds: allreduceTimes.reduce(0, +) / Double(allreduceTimes.count),
            allreduceShare: allreduceTimes.reduce(0, +) / max(stepTimes.reduce(0, +), .leastNonzeroMagnitude),
            steadyStateAllocations: counted ? steadyAllocations : nil,
            steadyStateAllocatedBytes: counted ? steadyBytes : nil,
            epochStartAllocations: counted ? marks.allocations[1] - marks.allocations[0] : nil,
            trainNegativeELBO: negativeELBO, dormantUnits: dormantUnits)
    }

    /// Times `repetitions` bare in-place allreduces of `floatCount` floats.
    ///
    /// Barrier-aligned, each counted as its slowest rank; and the allocations they made
    /// on this rank (the MPI library's own, if any). Nil allocations without the counter.
    public static func bareAllreduce(
        communicator: any Communicator, floatCount: Int, repetitions: Int, counter: AllocationCounter?
    ) throws -> (seconds: Spread, allocations: UInt64?) {
        let buffer = FloatBuffer(count: floatCount)
        var seconds: [Double] = []
        seconds.reserveCapacity(repetitions)
        var allocations: UInt64 = 0
        for repetition in 0..<repetitions + 2 {
            try communicator.barrier()
            let before = counter?.count ?? 0
            let start = monotonicSeconds()
            try communicator.allreduce(buffer.buffer, .sum)
            let elapsed = monotonicSeconds() - start
            let after = counter?.count ?? 0
            let slowest = try communicator.allreduce(elapsed, .max)
            if repetition >= 2 {    // two warm-up runs
                seconds.append(slowest)
                allocations += after - before
            }
        }
        return (Spread(seconds), counter == nil ? nil : allocations)
    }
}
