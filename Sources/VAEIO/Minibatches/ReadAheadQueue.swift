import Foundation

final class HighWater: @unchecked Sendable {
    private let lock = NSLock()
    private var bytes = 0
    var value: Int { lock.lock(); defer { lock.unlock() }; return bytes }
    func record(_ candidate: Int) { lock.lock(); bytes = max(bytes, candidate); lock.unlock() }
}

/// The queue between the reader thread and the trainer, bounded in bytes.
final class ReadAhead: @unchecked Sendable {
    private let condition = NSCondition()
    private var queue: [GatheredStep] = []
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

    func push(_ step: GatheredStep) {
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
    func pop() throws -> GatheredStep {
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
