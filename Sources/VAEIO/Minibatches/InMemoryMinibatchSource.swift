import Foundation

/// Holds all N rows in memory as stored (uint8 stays uint8: 4x less than Float32),
/// validated once at load; each step scatters its rows, scaled.
///
/// The ranks of a node can hold one copy between them (`NodeSharing`): each loads its
/// share of the rows into the shared memory, and every rank reads any row from it.
public final class InMemoryMinibatchSource: MinibatchSource {
    public let data: ShardSet
    public var rowCount: Int { data.rowCount }
    public var featureCount: Int { data.featureCount }
    public let sharing: NodeSharing
    /// Bytes held for the data (by the node, when shared): the stored feature array.
    public var residentBytes: Int { data.featureBytes }
    /// The first file, for the callers that hold one file.
    public var dataFile: DataFile { data.files[0] }

    private let rows: UnsafeRawPointer  // [N, D] as stored
    private let decoder: FeatureDecoder
    private var plan: [[Int]] = []
    private var nextStep = 0

    /// Loads the rows (this rank's share of them when the memory is shared: collective over the node).
    public init(data: ShardSet, bernoulli: Bool, sharing: NodeSharing = PrivateMemory(), loadThreads: Int? = nil) throws {
        self.data = data
        self.sharing = sharing
        decoder = FeatureDecoder(featureCount: data.featureCount, featureType: data.featureType, scale: data.scale,
                                 requireUnitInterval: bernoulli)
        let region = try sharing.allocate(byteCount: data.featureBytes)
        rows = UnsafeRawPointer(region)
        let share = (sharing.localRank * data.rowCount / sharing.localSize)..<((sharing.localRank + 1) * data.rowCount / sharing.localSize)
        var failure: Error?
        do {
            try Self.load(share, of: data, decoder: decoder, into: region,
                          threads: loadThreads ?? StreamingMinibatchSource.defaultLoadThreads(ranksSharing: sharing.localSize))
        } catch {
            failure = error
        }
        // Every rank waits for the others' shares, even after failing its own (nobody is left waiting).
        try sharing.synchronize()
        if let failure { throw failure }
    }

    public convenience init(dataFile: DataFile, bernoulli: Bool) throws {
        try self.init(data: ShardSet(dataFile), bernoulli: bernoulli)
    }

    /// Reads rows `share` into `region` (which holds all rows), several blocks at once.
    private static func load(_ share: Range<Int>, of data: ShardSet, decoder: FeatureDecoder,
                             into region: UnsafeMutableRawPointer, threads: Int) throws {
        guard !share.isEmpty else { return }
        let blocks = StorageBlocks(pieces: data.pieces, rowBytes: data.rowBytes)
        let first = blocks.locate(row: share.lowerBound).block
        let last = blocks.locate(row: share.upperBound - 1).block
        let work = BlockQueue(first...last)
        let datasets = OpenDatasets()
        let destination = SharedRegion(base: region)
        DispatchQueue.concurrentPerform(iterations: max(1, min(threads, last - first + 1))) { _ in
            let loader = BlockLoader(blocks: blocks, decoder: decoder, datasets: datasets)
            let slab = UnsafeMutableRawPointer.allocate(byteCount: blocks.slabBytes, alignment: 64)
            defer { slab.deallocate() }
            while let index = work.next() {
                do {
                    try loader.load(index, into: slab)
                } catch {
                    work.fail(error, block: index)
                    continue
                }
                let blockRows = blocks.rows(ofBlock: index).clamped(to: share)
                guard !blockRows.isEmpty else { continue }
                let offset = blocks.locate(row: blockRows.lowerBound).offset
                (destination.base + blockRows.lowerBound * blocks.rowBytes)
                    .copyMemory(from: slab + offset, byteCount: blockRows.count * blocks.rowBytes)
            }
        }
        if let failure = work.failure { throw failure }
    }

    public func beginEpoch(_ plan: ReadingPlan) throws {
        try validatePlan(plan.rows, file: data.description)
        self.plan = plan.rows
        nextStep = 0
    }

    public func nextBatch(into destination: UnsafeMutablePointer<Float>) throws -> Int {
        guard nextStep < plan.count else {
            throw DataError(file: data.description, "nextBatch called after the last of \(plan.count) steps of this epoch's plan")
        }
        let stepRows = plan[nextStep]
        nextStep += 1
        switch data.featureType {
        case .uint8:
            decoder.copyRows(uint8: rows.assumingMemoryBound(to: UInt8.self), rows: stepRows, to: destination)
        case .float32:
            let values = rows.assumingMemoryBound(to: Float.self)
            for (position, row) in stepRows.enumerated() {
                decoder.copyRow(float32: values, sourceRow: row, to: destination, destinationRow: position)
            }
        }
        return stepRows.count
    }
}

/// Memory the loading threads write disjoint rows of.
private struct SharedRegion: @unchecked Sendable {
    let base: UnsafeMutableRawPointer
}

/// Block indices handed out to loading threads, and the failure of the first failing
/// block (the same one whichever thread got there first).
final class BlockQueue: @unchecked Sendable {
    private let lock = NSLock()
    private var remaining: ClosedRange<Int>.Iterator
    private var failedBlock = Int.max
    private(set) var failure: Error?

    init(_ blocks: ClosedRange<Int>) { remaining = blocks.makeIterator() }

    /// The next block, none after a failure (blocks go out in order: all below it are out).
    func next() -> Int? {
        lock.lock()
        defer { lock.unlock() }
        guard let block = remaining.next(), block < failedBlock else { return nil }
        return block
    }

    func fail(_ error: Error, block: Int) {
        lock.lock()
        if block < failedBlock {
            failedBlock = block
            failure = error
        }
        lock.unlock()
    }
}
