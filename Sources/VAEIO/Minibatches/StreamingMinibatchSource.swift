import CVAECPU
import CVAEKernels
import Foundation
import VAECore

/// Reads each step's rows from a read-ahead of whole storage blocks, within a memory
/// budget whatever the data's size.
///
/// Per epoch the node's reading plan becomes a `SlabSchedule`: which block goes into which
/// slab of the read-ahead, and when. Loader threads (`LoadWorkers`) read and decode the
/// blocks ahead of the trainer, several at once; the trainer's thread waits only for a
/// step's blocks, then scales its rows into the batch. A block a window of the block
/// shuffle reads is decoded once, not once per row.
///
/// The ranks of a node can share one read-ahead (`NodeSharing`): each computes the same
/// schedule, loads every k-th block of it and reads the others' blocks from the shared
/// slabs, so a node decodes each block once whatever its rank count.
public final class StreamingMinibatchSource: MinibatchSource {
    public let data: ShardSet
    public let memoryBudget: Int
    public var rowCount: Int { data.rowCount }
    public var featureCount: Int { data.featureCount }
    public let sharing: NodeSharing
    public var nodeWorldRanks: [Int]? { sharing.localSize > 1 ? sharing.worldRanks : nil }
    /// Threads loading this rank's share of the blocks.
    public let loadThreads: Int
    /// Slabs the budget holds, each the size of the largest storage block.
    public let slabCapacity: Int
    public var slabBytes: Int { memory.slabBytes }
    /// Bytes held apart from the slabs: the loaders' scratch buffers of every rank of the node.
    public let scratchBytes: Int

    /// The most bytes the read-ahead held since the source was made: slabs in use plus
    /// the loaders' scratch (or the gathering reader's queue). Never above `memoryBudget`.
    public var highWaterBytes: Int { max(slabsInUse * memory.slabBytes + scratchBytes, gatheringHighWater.value) }
    /// Whether the current epoch gathers rows step by step: its steps read more blocks than the slabs hold.
    public var isGathering: Bool { gathering != nil }

    private let blocks: StorageBlocks
    private let decoder: FeatureDecoder
    private let memory: SlabMemory
    private let loaders: [BlockLoader]
    private var state: SlabSchedule.State
    private var slabsInUse = 0
    private var workers: LoadWorkers?
    private var gathering: GatheringReader?
    private let gatheringHighWater = HighWater()
    /// Global steps this rank has read (across epochs): the counter the loaders wait on.
    private var completedSteps: Int64 = 0
    private var epoch = EpochReading()

    /// What the trainer's thread reads in the current epoch.
    private struct EpochReading {
        var rowPointers: [UnsafeRawPointer] = []
        /// Step s's rows are rowPointers[stepStart[s] ..< stepStart[s + 1]].
        var stepStart: [Int] = [0]
        /// Step s may read once each of these slabs carries its tag.
        var waits: [[(slab: Int, tag: Int64)]] = []
        var nextStep = 0
        var stepCount: Int { waits.count }
    }

    /// - Parameters:
    ///   - memoryBudget: bytes the read-ahead may hold: the node's, when shared.
    ///   - sharing: the node's ranks sharing the read-ahead (collective: every one makes its source
    ///     with the same data and budget); `PrivateMemory` for a rank reading alone.
    public init(data: ShardSet, memoryBudget: Int, bernoulli: Bool, sharing: NodeSharing = PrivateMemory(),
                loadThreads: Int? = nil) throws {
        self.data = data
        self.memoryBudget = memoryBudget
        self.sharing = sharing
        let blocks = StorageBlocks(pieces: data.pieces, rowBytes: data.rowBytes)
        let decoder = FeatureDecoder(featureCount: data.featureCount, featureType: data.featureType, scale: data.scale,
                                     requireUnitInterval: bernoulli)
        self.blocks = blocks
        self.decoder = decoder
        let sizes = Self.sizes(blocks, memoryBudget: memoryBudget, ranksSharing: sharing.localSize, loadThreads: loadThreads)
        self.loadThreads = sizes.threads
        scratchBytes = sizes.scratchBytes
        slabCapacity = sizes.slabs
        memory = try SlabMemory(sharing: sharing, slabCount: slabCapacity, slabBytes: blocks.slabBytes)
        let threads = sizes.threads
        let datasets = OpenDatasets()
        loaders = (0..<threads).map { _ in BlockLoader(blocks: blocks, decoder: decoder, datasets: datasets) }
        state = SlabSchedule.State(slabs: slabCapacity, blocks: blocks.blocks.count)
    }

    /// Loader threads, their scratch and the slabs a budget holds. Each loader holds a stored
    /// chunk and a scratch slab, on every rank of the node; a budget too small for the
    /// default threads and a slab beside them gets one loader; one without room for a slab
    /// gathers every epoch's rows (`beginEpoch` says whether it holds a step).
    private static func sizes(_ blocks: StorageBlocks, memoryBudget: Int, ranksSharing: Int,
                              loadThreads: Int?) -> (threads: Int, scratchBytes: Int, slabs: Int) {
        let control = 4096 * (2 + ranksSharing)
        var threads = loadThreads ?? defaultLoadThreads(ranksSharing: ranksSharing)
        if memoryBudget - control < (2 * ranksSharing * threads + 1) * blocks.slabBytes { threads = 1 }
        let scratch = ranksSharing * threads * 2 * blocks.slabBytes
        let slabs = max(0, min((memoryBudget - scratch - control) / max(1, blocks.slabBytes), blocks.blocks.count))
        return (threads, scratch, slabs)
    }

    /// Bytes of the read-ahead's shared region for `data` within `memoryBudget`: at most the
    /// budget, and no more than every block of the data once.
    public static func sharedBytes(data: ShardSet, memoryBudget: Int, ranksSharing: Int) -> Int {
        let blocks = StorageBlocks(pieces: data.pieces, rowBytes: data.rowBytes)
        let slabs = sizes(blocks, memoryBudget: memoryBudget, ranksSharing: ranksSharing, loadThreads: nil).slabs
        return 4096 * (2 + ranksSharing) + slabs * ((blocks.slabBytes + 63) / 64 * 64)
    }

    /// One file read by this rank alone.
    public convenience init(dataFile: DataFile, memoryBudget: Int, bernoulli: Bool) throws {
        try self.init(data: ShardSet(dataFile), memoryBudget: memoryBudget, bernoulli: bernoulli)
    }

    deinit {
        workers?.cancelAndWait()
        gathering?.cancelAndWait()
    }

    /// Loader threads per rank: the node's CPUs shared by its ranks, at most 4 (decoding
    /// is a small share of a training step; more threads only contend).
    public static func defaultLoadThreads(ranksSharing: Int) -> Int {
        max(1, min(4, ProcessInfo.processInfo.activeProcessorCount / max(1, ranksSharing)))
    }

    /// Steps the schedule plans loads ahead for: the read-ahead holds twice the blocks of
    /// any run of this many steps (when the budget allows), so loads run well ahead.
    static let readAheadSteps = 32

    public func beginEpoch(_ plan: ReadingPlan) throws {
        // Every rank of the node is here: the previous epoch's loads are over (or cancelled,
        // when it was cut short) before anyone plans slabs again.
        let finishedPrevious = epoch.nextStep == epoch.stepCount
        workers?.cancelAndWait()
        workers = nil
        gathering?.cancelAndWait()
        gathering = nil
        if !finishedPrevious { state.forgetBlocks(completedSteps: completedSteps) }
        epoch = EpochReading()
        try sharing.synchronize()

        try validatePlan(plan.rows, file: data.description)
        try validatePlan(plan.nodeRows, file: data.description)
        let stepBlocks = plan.nodeRows.map { rows in Array(Set(rows.map { blocks.locate(row: $0).block })).sorted() }
        if let largest = stepBlocks.map(\.count).max(), largest > slabCapacity {
            try beginGathering(plan.rows)
            return
        }
        slabsInUse = max(slabsInUse, min(slabCapacity, max(stepBlocks.map(\.count).max() ?? 1,
                                                            2 * Self.mostBlocks(in: stepBlocks, steps: Self.readAheadSteps,
                                                                                blockCount: blocks.blocks.count))))
        let schedule: SlabSchedule
        do {
            schedule = try SlabSchedule(stepBlocks: stepBlocks, firstStep: completedSteps, slabCount: slabsInUse, state: &state)
        } catch SlabScheduleError.tooFewSlabs(let step, let count, let slabs) {
            throw DataError(file: data.description, "internal error: step \(step) reads \(count) blocks, more than the \(slabs) slabs")
        }
        epoch = reading(plan.rows, stepBlocks: stepBlocks, schedule: schedule)
        let mine = schedule.loads.enumerated().filter { $0.offset % sharing.localSize == sharing.localRank }.map(\.element)
        workers = LoadWorkers(loads: mine, memory: memory, localRank: sharing.localRank, loaders: loaders)
    }

    /// An epoch whose steps read more blocks than the slabs hold: this rank's rows, gathered
    /// step by step within its share of the budget.
    private func beginGathering(_ rows: [[Int]]) throws {
        let fixed = 3 * blocks.slabBytes
        let share = memoryBudget / sharing.localSize - fixed
        if let largest = rows.max(by: { $0.count < $1.count }) {
            let needed = GatheringReader.stepBytes(largest, rowBytes: blocks.rowBytes)
            guard needed <= share else {
                throw DataError(file: data.description, object: DataFile.featuresPath,
                                "memory budget \(formatByteCount(memoryBudget)) is too small for streaming: a step of \(largest.count) rows "
                                + "needs \(formatByteCount(needed)) besides \(formatByteCount(fixed)) for decoding a storage block; "
                                + "raise the budget to at least \(formatByteCount((needed + fixed) * sharing.localSize))")
            }
        }
        epoch.waits = rows.map { _ in [] }
        gathering = GatheringReader(plan: rows, blocks: blocks, loader: loaders[0], capacity: share, fixedBytes: fixed,
                                    highWater: gatheringHighWater)
    }

    /// This rank's row addresses and waits for each step.
    private func reading(_ rows: [[Int]], stepBlocks: [[Int]], schedule: SlabSchedule) -> EpochReading {
        var reading = EpochReading()
        reading.rowPointers.reserveCapacity(rows.reduce(0) { $0 + $1.count })
        for (step, stepRows) in rows.enumerated() {
            var waits: [(slab: Int, tag: Int64)] = []
            for row in stepRows {
                let (block, offset) = blocks.locate(row: row)
                // stepBlocks[step] is sorted and lines up with the schedule's reads of that step.
                let position = Self.index(of: block, in: stepBlocks[step])
                let read = schedule.stepSlabs[step][position]
                reading.rowPointers.append(UnsafeRawPointer(memory.slab(read.slab) + offset))
                if !waits.contains(where: { $0.slab == read.slab }) { waits.append(read) }
            }
            reading.stepStart.append(reading.rowPointers.count)
            reading.waits.append(waits)
        }
        return reading
    }

    public func nextBatch(into destination: UnsafeMutablePointer<Float>) throws -> Int {
        let step = epoch.nextStep
        guard step < epoch.stepCount else {
            throw DataError(file: data.description, "nextBatch called after the last of \(epoch.stepCount) steps of this epoch's plan")
        }
        if let gathering {
            let count = try gathering.next(into: destination, decoder: decoder)
            finishStep()
            return count
        }
        for wait in epoch.waits[step] { try waitFor(wait) }
        let rows = epoch.stepStart[step]..<epoch.stepStart[step + 1]
        epoch.rowPointers.withUnsafeBufferPointer { pointers in
            let first = pointers.baseAddress! + rows.lowerBound
            switch decoder.featureType {
            case .uint8:
                first.withMemoryRebound(to: UnsafePointer<UInt8>?.self, capacity: rows.count) {
                    vae_scale_byte_row_pointers($0, rows.count, featureCount, decoder.scale, destination)
                }
            case .float32:
                first.withMemoryRebound(to: UnsafePointer<Float>?.self, capacity: rows.count) {
                    vae_copy_float_row_pointers($0, rows.count, featureCount, destination)
                }
            }
        }
        finishStep()
        return rows.count
    }

    /// This rank is done with the step's slabs: loads waiting for them may go ahead.
    private func finishStep() {
        epoch.nextStep += 1
        completedSteps += 1
        memory.setCompletedSteps(completedSteps, ofRank: sharing.localRank)
    }

    /// Waits for a slab's load; a failed load ends the step with the loader's message.
    private func waitFor(_ wait: (slab: Int, tag: Int64)) throws {
        var polls = 0
        while true {
            let tag = memory.tag(ofSlab: wait.slab)
            if tag == wait.tag { return }
            if tag == -wait.tag {
                let failure = memory.failure()
                let message = failure?.message ?? "a storage block could not be read"
                if let failure, failure.localRank != sharing.localRank {
                    throw DataError(file: data.description, "rank \(sharing.worldRanks[failure.localRank]) of this node, loading "
                                    + "a block this rank needs: \(message)")
                }
                throw ReadFailure(message: message)
            }
            vae_wait_a_moment(polls < 256 ? 0 : 20)
            polls += 1
        }
    }

    /// The most distinct blocks any `steps` consecutive steps read.
    static func mostBlocks(in stepBlocks: [[Int]], steps: Int, blockCount: Int) -> Int {
        var count = [Int32](repeating: 0, count: blockCount)
        var distinct = 0
        var most = 0
        for (step, blocks) in stepBlocks.enumerated() {
            for block in blocks {
                if count[block] == 0 { distinct += 1 }
                count[block] += 1
            }
            if step >= steps {
                for block in stepBlocks[step - steps] {
                    count[block] -= 1
                    if count[block] == 0 { distinct -= 1 }
                }
            }
            most = max(most, distinct)
        }
        return most
    }

    private static func index(of value: Int, in sorted: [Int]) -> Int {
        var low = 0
        var high = sorted.count
        while low < high {
            let middle = (low + high) / 2
            if sorted[middle] < value { low = middle + 1 } else { high = middle }
        }
        return low
    }
}

/// A loader's error, surfacing at the step that needed its block (the message as it was).
struct ReadFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
