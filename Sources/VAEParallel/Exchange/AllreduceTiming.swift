/// The time of an in-place Float32 sum allreduce, as `mpi-check` measures it for the gradient size.
///
/// A barrier lines the ranks up, each rank times its own call, and a repetition counts as
/// long as its slowest rank (what the trainer waits for).
public struct AllreduceTiming: Sendable {
    public let floatCount: Int
    public let ranks: Int
    /// Seconds per repetition (slowest rank), in the order measured.
    public let seconds: [Double]

    public var bytes: Int { floatCount * MemoryLayout<Float>.size }
    public var median: Double {
        let sorted = seconds.sorted()
        let middle = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
    }
    public var fastest: Double { seconds.min() ?? 0 }
    public var slowest: Double { seconds.max() ?? 0 }

    /// Buffer bytes per second of the median run ("algorithm bandwidth").
    public var algorithmBandwidth: Double { Double(bytes) / median }
    /// The "bus bandwidth" of nccl-tests: comparable across rank counts.
    ///
    /// The bytes each rank must send and receive in a bandwidth-optimal allreduce,
    /// 2 (n - 1) / n of the buffer, per second. Zero for one rank, which moves nothing.
    public var busBandwidth: Double { algorithmBandwidth * 2 * Double(ranks - 1) / Double(ranks) }

    /// Measures `repetitions` allreduces after `warmUp` untimed ones, checking every result.
    ///
    /// All ones in, `size` everywhere out. A wrong result on any rank throws the agreed
    /// `RankFailure` on every rank.
    public static func measure(
        on communicator: any Communicator, floatCount: Int, repetitions: Int, warmUp: Int = 2
    ) throws -> AllreduceTiming {
        precondition(floatCount > 0 && repetitions > 0)
        var buffer = [Float](repeating: 1, count: floatCount)
        var seconds = [Double]()
        var complaint: String?
        let clock = ContinuousClock()
        for repetition in 0 ..< warmUp + repetitions {
            buffer.withUnsafeMutableBufferPointer { $0.update(repeating: 1) }
            try communicator.barrier()
            let elapsed = try clock.measure {
                try buffer.withUnsafeMutableBufferPointer { try communicator.allreduce($0, .sum) }
            }
            let slowest = try communicator.allreduce(elapsed.seconds, .max)
            if repetition >= warmUp { seconds.append(slowest) }
            if complaint == nil, let index = buffer.firstIndex(where: { $0 != Float(communicator.size) }) {
                complaint = "timed allreduce \(repetition): element \(index) is \(buffer[index]), "
                    + "expected \(communicator.size)"
            }
        }
        try communicator.agreeOnFailure(complaint)
        return AllreduceTiming(floatCount: floatCount, ranks: communicator.size, seconds: seconds)
    }
}

extension Duration {
    var seconds: Double {
        Double(components.seconds) + Double(components.attoseconds) * 1e-18
    }
}
