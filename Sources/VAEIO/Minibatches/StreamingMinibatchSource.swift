import Foundation
import VAECore

/// Reads each step's rows on demand. A background thread walks the epoch's
/// plan ahead of the trainer, reading each step's rows as sorted runs of
/// consecutive rows in ONE HDF5 read, into a queue bounded in bytes; the
/// trainer's thread takes steps off the queue and permutes them into plan
/// order while scaling. Memory held is at most `memoryBudget`, whatever N is.
///
/// HDF5 is serial: the background thread owns its own file handle, the
/// trainer's thread never calls HDF5 through this source, and every HDF5 call
/// in the process is serialized by the wrapper's lock anyway.
public final class StreamingMinibatchSource: MinibatchSource {
    public let dataFile: DataFile
    public let memoryBudget: Int
    public var rowCount: Int { dataFile.rowCount }
    public var featureCount: Int { dataFile.featureCount }

    /// Bytes given to HDF5's chunk cache for /features (counted in the budget).
    public let chunkCacheBytes: Int
    /// Decompressing a chunk needs the whole chunk in memory (counted in the budget).
    public let chunkScratchBytes: Int
    /// The budget left for queued steps: memoryBudget - chunk cache - chunk scratch.
    public var readAheadBytes: Int { memoryBudget - chunkCacheBytes - chunkScratchBytes }

    /// The most bytes this source held at once since it was made: queued and
    /// in-flight steps plus the chunk cache and scratch. Never above `memoryBudget`.
    public var highWaterBytes: Int { highWaterAcrossEpochs.value }

    private let decoder: FeatureDecoder
    private var readAhead: ReadAhead?
    private var stepCount = 0
    private var nextStep = 0
    private let highWaterAcrossEpochs = HighWater()

    public init(dataFile: DataFile, memoryBudget: Int, bernoulli: Bool) throws {
        self.dataFile = dataFile
        self.memoryBudget = memoryBudget
        decoder = FeatureDecoder(dataFile: dataFile, requireUnitInterval: bernoulli)
        let file = try HDF5File.open(dataFile.path)
        let features = try file.root().openDataset(DataFile.featuresPath)
        let rowBytes = dataFile.featureCount * dataFile.featureType.byteSize
        if let chunks = try features.chunkShape() {
            let chunkBytes = chunks.reduce(1, *) * dataFile.featureType.byteSize
            chunkCacheBytes = min(1 << 20, memoryBudget / 8)
            chunkScratchBytes = try features.filters().isEmpty ? 0 : chunkBytes
        } else {
            chunkCacheBytes = 0
            chunkScratchBytes = 0
        }
        try file.close()
        guard readAheadBytes >= rowBytes else {
            throw DataError(file: dataFile.path, object: DataFile.featuresPath,
                            "memory budget \(formatByteCount(memoryBudget)) is too small for streaming: HDF5's chunk cache and "
                            + "one decompressed chunk take \(formatByteCount(chunkCacheBytes + chunkScratchBytes)), leaving no room for rows of \(rowBytes) bytes")
        }
    }

    deinit { readAhead?.cancelAndWait() }

    /// Bytes one step holds while queued: its distinct rows as stored, plus the plan-order index.
    private func stepBytes(_ rows: [Int]) -> Int {
        Set(rows).count * featureCount * dataFile.featureType.byteSize + rows.count * MemoryLayout<Int>.stride
    }

    public func beginEpoch(plan: [[Int]]) throws {
        try validatePlan(plan, file: dataFile.path)
        if let largest = plan.max(by: { $0.count < $1.count }), stepBytes(largest) > readAheadBytes {
            throw DataError(file: dataFile.path, object: DataFile.featuresPath,
                            "memory budget \(formatByteCount(memoryBudget)) is too small for streaming: a step of \(largest.count) rows "
                            + "needs \(formatByteCount(stepBytes(largest))) besides \(formatByteCount(chunkCacheBytes + chunkScratchBytes)) "
                            + "for HDF5's chunk cache; raise the budget to at least \(formatByteCount(stepBytes(largest) + chunkCacheBytes + chunkScratchBytes))")
        }
        readAhead?.cancelAndWait()
        let readAhead = ReadAhead(capacity: readAheadBytes, fixedBytes: chunkCacheBytes + chunkScratchBytes,
                                  highWater: highWaterAcrossEpochs)
        self.readAhead = readAhead
        stepCount = plan.count
        nextStep = 0
        let dataFile = dataFile
        let decoder = decoder
        let chunkCacheBytes = chunkCacheBytes
        let thread = Thread {
            Self.readSteps(plan: plan, dataFile: dataFile, decoder: decoder, chunkCacheBytes: chunkCacheBytes, into: readAhead)
        }
        thread.name = "vae-dist streaming reader"
        thread.start()
    }

    public func nextBatch(into destination: UnsafeMutablePointer<Float>) throws -> Int {
        guard let readAhead else {
            throw DataError(file: dataFile.path, "nextBatch called before beginEpoch")
        }
        guard nextStep < stepCount else {
            throw DataError(file: dataFile.path, "nextBatch called after the last of \(stepCount) steps of this epoch's plan")
        }
        let step = try readAhead.pop()
        nextStep += 1
        defer { readAhead.release(step.bytes) }
        switch step.rows {
        case .uint8(let values):
            values.withUnsafeBufferPointer { source in
                for (position, index) in step.planOrder.enumerated() {
                    decoder.copyRow(uint8: source.baseAddress!, sourceRow: index, to: destination, destinationRow: position)
                }
            }
        case .float32(let values):
            values.withUnsafeBufferPointer { source in
                for (position, index) in step.planOrder.enumerated() {
                    decoder.copyRow(float32: source.baseAddress!, sourceRow: index, to: destination, destinationRow: position)
                }
            }
        }
        return step.planOrder.count
    }

    /// The background thread: reads every step of the plan in order, blocking
    /// while the queue is full; the first error ends the epoch's reading and is
    /// handed to the trainer's next `nextBatch`.
    private static func readSteps(plan: [[Int]], dataFile: DataFile, decoder: FeatureDecoder, chunkCacheBytes: Int,
                                  into readAhead: ReadAhead) {
        defer { readAhead.finish() }
        do {
            let file = try HDF5File.open(dataFile.path)
            var features = try file.root().openDataset(DataFile.featuresPath)
            if chunkCacheBytes > 0 { features = try features.reopened(chunkCacheBytes: chunkCacheBytes) }
            for rows in plan {
                let distinctRows = Array(Set(rows)).sorted()
                let bytes = distinctRows.count * dataFile.featureCount * dataFile.featureType.byteSize
                    + rows.count * MemoryLayout<Int>.stride
                guard readAhead.reserve(bytes) else { return }  // cancelled
                let planOrder = rows.map { row in binarySearch(distinctRows, row) }
                let runs = consecutiveRuns(distinctRows)
                let stored: StoredRows
                switch dataFile.featureType {
                case .uint8:
                    var values = [UInt8](repeating: 0, count: distinctRows.count * dataFile.featureCount)
                    try values.withUnsafeMutableBufferPointer { buffer in
                        try features.readRowRuns(runs, into: buffer)
                        try decoder.validate(uint8: UnsafeBufferPointer(buffer), rowIndex: { distinctRows[$0] })
                    }
                    stored = .uint8(values)
                case .float32:
                    var values = [Float](repeating: 0, count: distinctRows.count * dataFile.featureCount)
                    try values.withUnsafeMutableBufferPointer { buffer in
                        try features.readRowRuns(runs, into: buffer)
                        try decoder.validate(float32: UnsafeBufferPointer(buffer), rowIndex: { distinctRows[$0] })
                    }
                    stored = .float32(values)
                }
                readAhead.push(ReadStep(rows: stored, planOrder: planOrder, bytes: bytes))
            }
            try file.close()
        } catch {
            readAhead.fail(error)
        }
    }

    /// [3, 4, 5, 9, 10] -> [3..<6, 9..<11]
    static func consecutiveRuns(_ sortedRows: [Int]) -> [Range<Int>] {
        var runs: [Range<Int>] = []
        var start = 0
        while start < sortedRows.count {
            var end = start + 1
            while end < sortedRows.count, sortedRows[end] == sortedRows[end - 1] + 1 { end += 1 }
            runs.append(sortedRows[start]..<(sortedRows[end - 1] + 1))
            start = end
        }
        return runs
    }

    private static func binarySearch(_ sorted: [Int], _ value: Int) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

enum StoredRows: Sendable {
    case uint8([UInt8])    // [distinct rows, D], ascending row order
    case float32([Float])  // [distinct rows, D], ascending row order
}

struct ReadStep: Sendable {
    let rows: StoredRows
    /// planOrder[i] = index into `rows` of the plan's i-th row.
    let planOrder: [Int]
    let bytes: Int
}

final class HighWater: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return bytes }
    func record(_ candidate: Int) { lock.lock(); bytes = max(bytes, candidate); lock.unlock() }
}

/// The queue between the reader thread and the trainer, bounded in bytes.
final class ReadAhead: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [ReadStep] = []
    private var heldBytes = 0
    private var failure: Error?
    private var cancelled = false
    private var finished = false
    private let capacity: Int
    private let fixedBytes: Int
    private let highWater: HighWater

    init(capacity: Int, fixedBytes: Int, highWater: HighWater) {
        self.capacity = capacity
        self.fixedBytes = fixedBytes
        self.highWater = highWater
        highWater.record(fixedBytes)
    }

    /// Reader: waits until `bytes` more fit, then counts them as held. False when cancelled.
    func reserve(_ bytes: Int) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        while !cancelled && heldBytes + bytes > capacity { condition.wait() }
        guard !cancelled else { return false }
        heldBytes += bytes
        highWater.record(fixedBytes + heldBytes)
        return true
    }

    func push(_ step: ReadStep) {
        condition.lock()
        queue.append(step)
        condition.broadcast()
        condition.unlock()
    }

    func fail(_ error: Error) {
        condition.lock()
        failure = error
        condition.broadcast()
        condition.unlock()
    }

    func finish() {
        condition.lock()
        finished = true
        condition.broadcast()
        condition.unlock()
    }

    /// Trainer: the next step, waiting for the reader; rethrows the reader's error.
    func pop() throws -> ReadStep {
        condition.lock()
        defer { condition.unlock() }
        while queue.isEmpty && failure == nil && !finished { condition.wait() }
        if !queue.isEmpty { return queue.removeFirst() }
        if let failure { throw failure }
        throw DataError(file: "", "the streaming reader stopped before the end of the plan")
    }

    /// Trainer: a step's rows have been copied out; their bytes are free.
    func release(_ bytes: Int) {
        condition.lock()
        heldBytes -= bytes
        condition.broadcast()
        condition.unlock()
    }

    func cancelAndWait() {
        condition.lock()
        cancelled = true
        condition.broadcast()
        while !finished { condition.wait() }
        condition.unlock()
    }
}
