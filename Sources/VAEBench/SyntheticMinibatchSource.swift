import VAEIO

/// `rows` x `features` of image-like data made in memory.
///
/// Uint8 values scaled by 1/255, about half of them exactly 0 (as in Fashion-MNIST), from
/// a fixed sequence. For timing the step where no data file is at hand; copies rows the
/// way `InMemoryMinibatchSource` does and, like it, allocates nothing per batch.
public final class SyntheticMinibatchSource: MinibatchSource {
    public let rowCount: Int
    public let featureCount: Int
    private let values: [UInt8]   // [rows, features]
    private var plan: [[Int]] = []
    private var nextStep = 0

    public init(rows: Int, features: Int, seed: UInt64 = 0) {
        precondition(rows >= 1 && features >= 1)
        rowCount = rows
        featureCount = features
        var state = seed ^ 0xD1B5_4A32_D192_ED03
        values = (0..<rows * features).map { _ in
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let byte = UInt8(truncatingIfNeeded: state >> 56)
            return byte < 128 ? 0 : byte
        }
    }

    public func beginEpoch(_ plan: ReadingPlan) throws {
        self.plan = plan.rows
        nextStep = 0
    }

    public func nextBatch(into destination: UnsafeMutablePointer<Float>) throws -> Int {
        precondition(nextStep < plan.count, "nextBatch after the last step of the plan")
        let rows = plan[nextStep]
        nextStep += 1
        let width = featureCount
        values.withUnsafeBufferPointer { source in
            for (position, row) in rows.enumerated() {
                let from = source.baseAddress! + row * width
                let to = destination + position * width
                for j in 0..<width { to[j] = Float(from[j]) * (1 / 255) }
            }
        }
        return rows.count
    }
}
