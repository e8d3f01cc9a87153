/// Which slab of the read-ahead holds which storage block, and when: a pure function of
/// the node's reading plan and of where the previous epoch left the slabs. Every rank of
/// a node computes the same schedule, so the ranks share one read-ahead without telling
/// each other anything but "loaded" (a tag per slab) and "done with step t" (a counter
/// per rank): no locks, no messages.
///
/// Steps are planned in order. A step's blocks that are resident stay; each missing one
/// takes a slab no block of this step uses: a never-used slab first, then the one whose
/// block has no further use and was used longest ago (so its load can start earliest),
/// then the one whose block is used again last (Belady's choice). A load may overwrite
/// its slab only once every rank of the node has finished the last step that read it.
struct SlabSchedule {
    struct Load: Sendable {
        let block: Int
        let slab: Int
        /// Unique for the source's lifetime: the slab's tag once this load has filled it.
        let tag: Int64
        /// Global steps every rank of the node must have completed before the slab is overwritten.
        let afterSteps: Int64
    }

    /// Where the slabs stand between epochs.
    struct State {
        var occupant: [Int]      // per slab: block, or -1
        var lastUse: [Int64]     // per slab: global step that last read it, or -1
        var tag: [Int64]         // per slab: tag of the load that filled it
        var slabOfBlock: [Int]   // per block: slab, or -1
        var nextTag: Int64 = 1

        init(slabs: Int, blocks: Int) {
            occupant = [Int](repeating: -1, count: slabs)
            lastUse = [Int64](repeating: -1, count: slabs)
            tag = [Int64](repeating: 0, count: slabs)
            slabOfBlock = [Int](repeating: -1, count: blocks)
        }

        /// Every slab empty again (after an epoch cut short, whose later loads never ran),
        /// none reusable before every rank has finished `completedSteps`.
        mutating func forgetBlocks(completedSteps: Int64) {
            for slab in occupant.indices {
                if occupant[slab] >= 0 { slabOfBlock[occupant[slab]] = -1 }
                occupant[slab] = -1
                lastUse[slab] = completedSteps - 1
            }
        }
    }

    /// Every load of the epoch, in the order they are needed (all ranks' loads).
    private(set) var loads: [Load] = []
    /// `stepSlabs[s]`: the (slab, tag) pairs step s of the node's plan reads.
    private(set) var stepSlabs: [[(slab: Int, tag: Int64)]] = []

    /// Plans an epoch whose node steps read `stepBlocks[s]` (distinct blocks), its first
    /// step being global step `firstStep`, with `slabCount` slabs.
    init(stepBlocks: [[Int]], firstStep: Int64, slabCount: Int, state: inout State) throws {
        let blockCount = state.slabOfBlock.count
        // uses[b]: the global steps reading block b, ascending; next[b]: index of its next use.
        var useCount = [Int32](repeating: 0, count: blockCount)
        for blocks in stepBlocks { for block in blocks { useCount[block] += 1 } }
        var useStart = [Int](repeating: 0, count: blockCount + 1)
        for block in 0..<blockCount { useStart[block + 1] = useStart[block] + Int(useCount[block]) }
        var uses = [Int64](repeating: 0, count: useStart[blockCount])
        var fill = useStart
        for (step, blocks) in stepBlocks.enumerated() {
            for block in blocks {
                uses[fill[block]] = firstStep + Int64(step)
                fill[block] += 1
            }
        }
        var next = Array(useStart.dropLast())
        func nextUse(_ block: Int) -> Int64? { next[block] < useStart[block + 1] ? uses[next[block]] : nil }

        var free: [Int] = (0..<slabCount).filter { state.occupant[$0] < 0 }.reversed()
        // Slabs whose block is used no more, oldest last use first (a queue by construction);
        // and those whose block is used again, latest next use on top.
        var finished = SlabQueue()
        var reusable = SlabHeap()
        var finishedBefore: [Int] = []
        for slab in 0..<slabCount where state.occupant[slab] >= 0 {
            if let use = nextUse(state.occupant[slab]) {
                reusable.push(slab: slab, key: use)
            } else {
                finishedBefore.append(slab)
            }
        }
        for slab in finishedBefore.sorted(by: { (state.lastUse[$0], $0) < (state.lastUse[$1], $1) }) {
            finished.append(slab: slab, lastUse: state.lastUse[slab])
        }
        stepSlabs.reserveCapacity(stepBlocks.count)
        for (step, blocks) in stepBlocks.enumerated() {
            let now = firstStep + Int64(step)
            // This step's resident blocks are in use now: out of reach of its own loads.
            for block in blocks {
                let slab = state.slabOfBlock[block]
                guard slab >= 0 else { continue }
                state.lastUse[slab] = now
                next[block] += 1
            }
            var reads: [(slab: Int, tag: Int64)] = []
            reads.reserveCapacity(blocks.count)
            for block in blocks {
                var slab = state.slabOfBlock[block]
                if slab < 0 {
                    guard let chosen = free.popLast() ?? finished.pop(before: now, state: state)
                        ?? reusable.pop(before: now, state: state, nextUse: nextUse) else {
                        throw SlabScheduleError.tooFewSlabs(step: step, blocks: blocks.count, slabs: slabCount)
                    }
                    slab = chosen
                    if state.occupant[slab] >= 0 { state.slabOfBlock[state.occupant[slab]] = -1 }
                    loads.append(Load(block: block, slab: slab, tag: state.nextTag, afterSteps: state.lastUse[slab] + 1))
                    state.occupant[slab] = block
                    state.slabOfBlock[block] = slab
                    state.lastUse[slab] = now
                    state.tag[slab] = state.nextTag
                    state.nextTag += 1
                    next[block] += 1
                }
                reads.append((slab, state.tag[slab]))
            }
            // Where this step's blocks go next: the queue if never again, else the heap.
            for block in blocks {
                let slab = state.slabOfBlock[block]
                if let use = nextUse(block) {
                    reusable.push(slab: slab, key: use)
                } else {
                    finished.append(slab: slab, lastUse: now)
                }
            }
            stepSlabs.append(reads)
        }
    }
}

enum SlabScheduleError: Error {
    case tooFewSlabs(step: Int, blocks: Int, slabs: Int)
}

/// Slabs in the order their blocks were last used: a FIFO whose entries go stale when the
/// slab is reused (checked on the way out).
private struct SlabQueue {
    private var entries: [(slab: Int, lastUse: Int64)] = []
    private var head = 0

    mutating func append(slab: Int, lastUse: Int64) { entries.append((slab, lastUse)) }

    /// The oldest slab still holding a finished block, last used before step `now`.
    mutating func pop(before now: Int64, state: SlabSchedule.State) -> Int? {
        while head < entries.count {
            let entry = entries[head]
            guard entry.lastUse < now else { return nil }
            head += 1
            if state.occupant[entry.slab] >= 0, state.lastUse[entry.slab] == entry.lastUse { return entry.slab }
        }
        return nil
    }
}

/// Slabs keyed by their block's next use, latest on top; entries go stale when the block
/// is used or replaced (checked on the way out: the key must still be the block's next use).
private struct SlabHeap {
    private var entries: [(key: Int64, slab: Int)] = []

    mutating func push(slab: Int, key: Int64) {
        entries.append((key, slab))
        var child = entries.count - 1
        while child > 0 {
            let parent = (child - 1) / 2
            guard entries[parent].key < entries[child].key else { break }
            entries.swapAt(parent, child)
            child = parent
        }
    }

    private mutating func popTop() -> (key: Int64, slab: Int)? {
        guard let top = entries.first else { return nil }
        let last = entries.removeLast()
        if !entries.isEmpty {
            entries[0] = last
            var parent = 0
            while true {
                let left = 2 * parent + 1, right = left + 1
                var largest = parent
                if left < entries.count, entries[left].key > entries[largest].key { largest = left }
                if right < entries.count, entries[right].key > entries[largest].key { largest = right }
                if largest == parent { break }
                entries.swapAt(parent, largest)
                parent = largest
            }
        }
        return top
    }

    /// The slab whose block is read again last, not read at step `now` or later.
    mutating func pop(before now: Int64, state: SlabSchedule.State, nextUse: (Int) -> Int64?) -> Int? {
        var busy: [(key: Int64, slab: Int)] = []
        defer { for entry in busy { push(slab: entry.slab, key: entry.key) } }
        while let entry = popTop() {
            let block = state.occupant[entry.slab]
            guard block >= 0, nextUse(block) == entry.key else { continue }  // stale
            if state.lastUse[entry.slab] < now { return entry.slab }
            busy.append(entry)
        }
        return nil
    }
}
