import CVAECPU
import Foundation

/// The threads that carry out this rank's share of an epoch's loads, in schedule order:
/// each waits until every rank of the node is done with its slab's previous block, loads
/// the block and publishes the slab's tag. A failed load publishes minus the tag (and the
/// message) instead; the threads go on, so no rank waits forever for a slab.
final class LoadWorkers: @unchecked Sendable {
    private let loads: [SlabSchedule.Load]
    private let memory: SlabMemory
    private let localRank: Int
    private let condition = NSCondition()
    private var nextLoad = 0
    private var running: Int
    private var cancelled = false

    /// Starts one thread per loader; each loader is used by one thread only.
    init(loads: [SlabSchedule.Load], memory: SlabMemory, localRank: Int, loaders: [BlockLoader]) {
        self.loads = loads
        self.memory = memory
        self.localRank = localRank
        running = loaders.count
        for (index, loader) in loaders.enumerated() {
            let thread = Thread { [self] in
                work(with: loader)
                condition.lock()
                running -= 1
                condition.broadcast()
                condition.unlock()
            }
            thread.name = "vae-dist loader \(index)"
            thread.start()
        }
    }

    /// Stops taking loads, waits for the threads (a load in progress completes).
    func cancelAndWait() {
        condition.lock()
        cancelled = true
        while running > 0 { condition.wait() }
        condition.unlock()
    }

    private var isCancelled: Bool {
        condition.lock()
        defer { condition.unlock() }
        return cancelled
    }

    private func takeLoad() -> SlabSchedule.Load? {
        condition.lock()
        defer { condition.unlock() }
        guard !cancelled, nextLoad < loads.count else { return nil }
        nextLoad += 1
        return loads[nextLoad - 1]
    }

    private func work(with loader: BlockLoader) {
        while let load = takeLoad() {
            var waited = 0
            while memory.completedStepsOfEveryRank() < load.afterSteps {
                if isCancelled { return }
                // Spin briefly (the step ends soon), then sleep: a wait here means the read-ahead is full.
                vae_wait_a_moment(waited < 64 ? 0 : 50)
                waited += 1
            }
            do {
                try loader.load(load.block, into: memory.slab(load.slab))
                memory.setTag(load.tag, ofSlab: load.slab)
            } catch {
                memory.reportFailure(failureText(error), localRank: localRank)
                memory.setTag(-load.tag, ofSlab: load.slab)
            }
        }
    }
}

/// An error's one-line text, as the command line prints it.
func failureText(_ error: Error) -> String {
    if let localized = error as? LocalizedError, let description = localized.errorDescription { return description }
    return String(describing: error)
}
