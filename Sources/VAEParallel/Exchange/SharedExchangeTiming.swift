/// The time of the shared-memory gradient exchange (`SharedMemoryExchange`) without the optimizer.
///
/// Every rank writes a slot of ones, then the step's reduction (two synchronizes, the
/// slot sums, and with several nodes the ranges' allreduce) and the final synchronize.
/// That is the step of `--clip` or `--on-nonfinite skip`, whose sum of squares it checks
/// too; the default step has one synchronize fewer, so this is an upper bound.
/// `mpi-check` runs it beside the allreduce timing, so a cluster shows which exchange
/// training will use and what it costs there.
public struct SharedExchangeTiming: Sendable {
    public let floatCount: Int
    public let nodes: Int
    public let ranksPerNode: Int
    /// Seconds per repetition (slowest rank), in the order measured.
    public let seconds: [Double]

    public var median: Double { seconds.sorted()[seconds.count / 2] }
    public var fastest: Double { seconds.min() ?? 0 }
    public var slowest: Double { seconds.max() ?? 0 }

    public enum Outcome: Sendable {
        case measured(SharedExchangeTiming)
        /// Why not, the same on every rank's verdict.
        ///
        /// One process, nodes holding different numbers of ranks, or too little shared
        /// memory.
        case unavailable(String)
    }

    /// Checks every reduced value (each rank's range must sum to the number of ranks) and the sum of squares.
    ///
    /// A wrong result on any rank throws the agreed `RankFailure` on every rank.
    public static func measure(
        on communicator: any Communicator, floatCount: Int, repetitions: Int, warmUp: Int = 2
    ) throws -> Outcome {
        precondition(floatCount > 0 && repetitions > 0)
        let exchange: SharedMemoryExchange
        switch try SharedMemoryExchange.open(communicator: communicator, parameterCount: floatCount, stateBuffers: 0,
                                             requireSharing: false) {
        case .opened(let opened): exchange = opened
        case .unavailable(let reason): return .unavailable(reason)
        }
        let expected = Float(communicator.size)
        var seconds = [Double]()
        var complaint: String?
        let clock = ContinuousClock()
        for repetition in 0 ..< warmUp + repetitions {
            let slot = exchange.localSlot
            slot.pointer.update(repeating: 1, count: floatCount)
            (slot.pointer + floatCount).update(repeating: 0, count: FusedTail.count)
            try communicator.barrier()
            var reduced = ReducedStep()
            let elapsed = try clock.measure {
                reduced = try exchange.reduce(localFailure: nil, needsSumOfSquares: true)
                try exchange.synchronize()
            }
            let slowest = try communicator.allreduce(elapsed.seconds, .max)
            if repetition >= warmUp { seconds.append(slowest) }
            if complaint == nil {
                let range = exchange.ownRange
                if let index = range.first(where: { slot[$0] != expected }) {
                    complaint = "shared-memory exchange \(repetition): element \(index) is \(slot[index]), expected \(expected)"
                } else if reduced.sumOfSquares != Double(expected * expected) * Double(floatCount) {
                    complaint = "shared-memory exchange \(repetition): sum of squares \(reduced.sumOfSquares ?? .nan), "
                        + "expected \(Double(expected * expected) * Double(floatCount))"
                }
            }
        }
        try communicator.agreeOnFailure(complaint)
        return .measured(SharedExchangeTiming(floatCount: floatCount, nodes: exchange.group.nodeCount,
                                              ranksPerNode: exchange.size, seconds: seconds))
    }
}
