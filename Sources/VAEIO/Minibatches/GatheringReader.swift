import Foundation

/// The streaming reader's fallback when its budget cannot hold one step's storage blocks
/// whole (a row shuffle on a small budget): a background thread decodes each step's
/// blocks one at a time, copies out just that step's rows and queues them, the queue
/// bounded in bytes. Every block is decoded once per step that reads it: slow, but
/// within any budget that holds a step's rows.
final class GatheringReader: @unchecked Sendable {
    private let queue: ReadAhead
    private let thread: Thread

    /// Starts reading `plan` (this rank's rows per step) with `loader`, which it uses alone until `cancelAndWait`.
    init(plan: [[Int]], blocks: StorageBlocks, loader: BlockLoader, capacity: Int, fixedBytes: Int, highWater: HighWater) {
        let queue = ReadAhead(capacity: capacity, fixedBytes: fixedBytes, highWater: highWater)
        self.queue = queue
        thread = Thread {
            Self.gather(plan, blocks: blocks, loader: loader, into: queue)
        }
        thread.name = "vae-dist gathering reader"
        thread.start()
    }

    /// Bytes one step holds while queued: its distinct rows as stored, plus the plan-order index.
    static func stepBytes(_ rows: [Int], rowBytes: Int) -> Int {
        Set(rows).count * rowBytes + rows.count * MemoryLayout<Int>.stride
    }

    /// The next step's rows, scaled into `destination` in plan order.
    func next(into destination: UnsafeMutablePointer<Float>, decoder: FeatureDecoder) throws -> Int {
        let step = try queue.pop()
        defer { queue.release(step.bytes) }
        step.rows.withUnsafeBytes { stored in
            for (position, index) in step.planOrder.enumerated() {
                switch decoder.featureType {
                case .uint8:
                    decoder.copyRow(uint8: stored.baseAddress!.assumingMemoryBound(to: UInt8.self), sourceRow: index,
                                    to: destination, destinationRow: position)
                case .float32:
                    decoder.copyRow(float32: stored.baseAddress!.assumingMemoryBound(to: Float.self), sourceRow: index,
                                    to: destination, destinationRow: position)
                }
            }
        }
        return step.planOrder.count
    }

    func cancelAndWait() { queue.cancelAndWait() }

    /// The background thread: each step's distinct rows, block by block, in one buffer.
    private static func gather(_ plan: [[Int]], blocks: StorageBlocks, loader: BlockLoader, into queue: ReadAhead) {
        defer { queue.finish() }
        let slab = UnsafeMutableRawPointer.allocate(byteCount: blocks.slabBytes, alignment: 64)
        defer { slab.deallocate() }
        do {
            for rows in plan {
                let distinct = Array(Set(rows)).sorted()
                let bytes = stepBytes(rows, rowBytes: blocks.rowBytes)
                guard queue.reserve(bytes) else { return }  // cancelled
                var stored = [UInt8](repeating: 0, count: distinct.count * blocks.rowBytes)
                var position: [Int: Int] = [:]
                var loaded = -1
                try stored.withUnsafeMutableBytes { buffer in
                    for (index, row) in distinct.enumerated() {
                        let (block, offset) = blocks.locate(row: row)
                        if block != loaded {
                            try loader.load(block, into: slab)
                            loaded = block
                        }
                        (buffer.baseAddress! + index * blocks.rowBytes).copyMemory(from: slab + offset, byteCount: blocks.rowBytes)
                        position[row] = index
                    }
                }
                queue.push(GatheredStep(rows: stored, planOrder: rows.map { position[$0]! }, bytes: bytes))
            }
        } catch {
            queue.fail(error)
        }
    }
}

/// One step's rows as the gathering reader queues them.
struct GatheredStep: Sendable {
    /// [distinct rows, D] as stored, ascending row order.
    let rows: [UInt8]
    /// planOrder[i] = index into `rows` of the plan's i-th row.
    let planOrder: [Int]
    let bytes: Int
}
