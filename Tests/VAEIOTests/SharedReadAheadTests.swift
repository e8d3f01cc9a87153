import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

/// The ranks of one node played by threads of one process: one memory region, one barrier.
final class ThreadNode: @unchecked Sendable {
    let size: Int
    private let condition = NSCondition()
    private var arrived = 0
    private var generation = 0
    private var regions: [UnsafeMutableRawPointer] = []
    private var allocations: [Int: Int] = [:]  // rank -> allocations made

    init(size: Int) { self.size = size }
    deinit { regions.forEach { $0.deallocate() } }

    func barrier() {
        condition.lock()
        let mine = generation
        arrived += 1
        if arrived == size {
            arrived = 0
            generation += 1
            condition.broadcast()
        } else {
            while generation == mine { condition.wait() }
        }
        condition.unlock()
    }

    /// The i-th allocation of every rank is the same region (made by whoever comes first).
    func allocate(rank: Int, byteCount: Int) -> UnsafeMutableRawPointer {
        condition.lock()
        let index = allocations[rank, default: 0]
        allocations[rank] = index + 1
        if regions.count == index {
            let region = UnsafeMutableRawPointer.allocate(byteCount: max(1, byteCount), alignment: 4096)
            region.initializeMemory(as: UInt8.self, repeating: 0, count: max(1, byteCount))
            regions.append(region)
        }
        let region = regions[index]
        condition.unlock()
        barrier()
        return region
    }

    func sharing(rank: Int) -> NodeSharing { Rank(node: self, localRank: rank) }

    private final class Rank: NodeSharing {
        let node: ThreadNode
        let localRank: Int
        var localSize: Int { node.size }
        var worldRanks: [Int] { Array(0..<node.size) }
        init(node: ThreadNode, localRank: Int) {
            self.node = node
            self.localRank = localRank
        }
        func allocate(byteCount: Int) throws -> UnsafeMutableRawPointer { node.allocate(rank: localRank, byteCount: byteCount) }
        func synchronize() throws { node.barrier() }
    }
}

/// Rank `rank` of `ranks`'s contiguous share of a step.
func share(_ step: [Int], rank: Int, of ranks: Int) -> [Int] {
    Array(step[(rank * step.count / ranks)..<((rank + 1) * step.count / ranks)])
}

final class SharedReadAheadTests: XCTestCase {
    /// Runs `body(rank)` on `ranks` threads at once (their own threads: a pool of one per CPU
    /// would run them in turn, and the barrier would wait forever); their results in rank order.
    func onThreads<T>(_ ranks: Int, _ body: @escaping @Sendable (Int) throws -> T) throws -> [T] {
        let results = ResultBox<T>(count: ranks)
        let done = DispatchGroup()
        for rank in 0..<ranks {
            done.enter()
            Thread {
                results.set(rank, Result { try body(rank) })
                done.leave()
            }.start()
        }
        XCTAssertEqual(done.wait(timeout: .now() + 120), .success, "the ranks did not finish within 2 minutes")
        return try results.values.map { try XCTUnwrap($0).get() }
    }

    /// Every rank's batches from a read-ahead shared by `ranks` threads, each reading its
    /// contiguous share of every global step.
    func sharedBatches(_ data: ShardSet, globalPlan: [[Int]], ranks: Int, budget: Int) throws -> [[[Float]]] {
        let node = ThreadNode(size: ranks)
        return try onThreads(ranks) { rank in
            let source = try StreamingMinibatchSource(data: data, memoryBudget: budget, bernoulli: false,
                                                      sharing: node.sharing(rank: rank), loadThreads: 1)
            var batches: [[Float]] = []
            for _ in 0..<2 {  // two epochs: the slabs carry over
                try source.beginEpoch(ReadingPlan(rows: globalPlan.map { share($0, rank: rank, of: ranks) }, nodeRows: globalPlan))
                XCTAssertFalse(source.isGathering, "every step's blocks fit the slabs")
                var buffer = [Float](repeating: .nan, count: 64 * data.featureCount)
                for step in globalPlan {
                    let count = try buffer.withUnsafeMutableBufferPointer { try source.nextBatch(into: $0.baseAddress!) }
                    XCTAssertEqual(count, share(step, rank: rank, of: ranks).count)
                    batches.append(Array(buffer[0..<(count * data.featureCount)]))
                }
            }
            return batches
        }
    }

    func testRanksSharingOneReadAheadReadWhatAnInMemoryCopyHolds() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/shared.h5"
        let rows = 3000, features = 9
        try writeDataFile(path, uint8: (0..<(rows * features)).map { UInt8(($0 * 7) % 256) }, rows: rows, features: features,
                          chunkRows: 40, gzip: 3)
        let data = ShardSet(try DataFile.open(path))
        let memory = try InMemoryMinibatchSource(data: data, bernoulli: false)
        let blockPlan = blockPlan(rows: rows, batch: 64, blockRows: 40)
        let rowPlan = scrambledPlan(rows: rows, batch: 60)
        // Budgets: ample, and tight: 12 slabs of 384 bytes (40 rows of 9 bytes, 64-byte aligned) beside
        // the control words and each rank's loader scratch, so loads wait for every rank to pass a
        // slab's last step (a step reads up to 4 blocks).
        let tight = { (ranks: Int) in 4096 * (2 + ranks) + 2 * ranks * 384 + 12 * 384 }
        for (plan, budget) in [(blockPlan, { (_: Int) in 4 << 20 }), (blockPlan, tight), (rowPlan, { (_: Int) in 4 << 20 })] {
            for ranks in [2, 3] {
                let budget = budget(ranks)
                let shared = try sharedBatches(data, globalPlan: plan, ranks: ranks, budget: budget)
                for rank in 0..<ranks {
                    let rankPlan = plan.map { share($0, rank: rank, of: ranks) }
                    let epoch = try readEpoch(memory, plan: rankPlan)
                    let expected = epoch + epoch
                    XCTAssertEqual(shared[rank].map { $0.map(\.bitPattern) }, expected.map { $0.map(\.bitPattern) },
                                   "rank \(rank) of \(ranks), budget \(budget)")
                }
            }
        }
    }

    func testAFailedLoadEndsEveryRankThatNeedsTheBlockWithTheLoadersMessage() throws {
        let directory = try makeScratchDirectory(self)
        let path = directory + "/bad.h5"
        let rows = 400, features = 3
        var values = [Float](repeating: 0.5, count: rows * features)
        values[310 * features + 1] = .nan
        try writeDataFile(path, float32: values, rows: rows, features: features, chunkRows: 20, gzip: 1)
        let data = ShardSet(try DataFile.open(path))
        let plan = stride(from: 0, to: rows, by: 40).map { Array($0..<($0 + 40)) }
        let node = ThreadNode(size: 2)
        let outcomes = try onThreads(2) { rank -> String in
            let source = try StreamingMinibatchSource(data: data, memoryBudget: 1 << 20, bernoulli: false,
                                                      sharing: node.sharing(rank: rank), loadThreads: 1)
            try source.beginEpoch(ReadingPlan(rows: plan.map { Array($0[(rank * 20)..<((rank + 1) * 20)]) }, nodeRows: plan))
            var buffer = [Float](repeating: 0, count: 20 * features)
            for step in plan.indices {
                do {
                    _ = try buffer.withUnsafeMutableBufferPointer { try source.nextBatch(into: $0.baseAddress!) }
                } catch {
                    return "step \(step): \(error)"
                }
            }
            return "no error"
        }
        // Row 310 is in block 15 (rows 300..<320): step 7 reads it, rank 1's half of that step on rank 1;
        // whichever rank loaded it, the rank reading it reports the row, and rank 0 never reads it.
        XCTAssertEqual(outcomes[0], "no error")
        XCTAssertTrue(outcomes[1].hasPrefix("step 7: "), outcomes[1])
        XCTAssertTrue(outcomes[1].contains("row 310") && outcomes[1].contains("column 1 is nan"), outcomes[1])
    }
}

/// Results written by concurrent threads, one slot each.
final class ResultBox<T>: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Result<T, Error>?]
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Result<T, Error>) {
        lock.lock()
        values[index] = value
        lock.unlock()
    }
}
