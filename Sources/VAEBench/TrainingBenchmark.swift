import Foundation
import VAECore
import VAEIO
import VAEParallel

/// Training-step throughput.
///
/// The Trainer's own loop over data already in memory, timed per step from outside
/// through `onStep` and a `TimedCommunicator`. Collective: every rank calls it with the
/// same arguments.
public enum TrainingBenchmark {
    public static func run(
        configuration: TrainingConfiguration, communicator: any Communicator, source: any MinibatchSource,
        epochs: Int, counter: AllocationCounter?, traceAllocations: Int = 0,
        gradientExchange: GradientExchangeChoice = .auto, dormantUnits: DormantUnitsChoice = .skip,
        reproducible: ReproducibilityChoice = .auto
    ) throws -> (trainer: Trainer, epochs: [EpochMeasurement]) {
        let timed = TimedCommunicator(communicator)
        let trainer = try Trainer(configuration: configuration, communicator: timed, trainData: source,
                                  gradientExchange: gradientExchange, dormantUnits: dormantUnits,
                                  reproducible: reproducible)
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
