import VAECore

/// The exchange of the reproducible step: rows, then units (docs/parallel.md).
///
/// Each rank computes its rows' per-row tensors (`SplitStep.computeRows`) into the rows
/// block of its node's window; once the block holds every row of the global batch, each
/// rank computes the weight gradients of the parameters it owns over all of them and
/// updates those parameters. A step, "synchronize" being a barrier of the node's ranks:
///
///     first layer's forward; every rank writes its status, stop request and the layer's
///         active-unit flags
///     synchronize A                    every rank combines them (the same on every rank)
///         [several nodes: allreduce of those sums]; a failure ends every rank here
///     [further ReLU layers: the same for their flags]
///     the rest of the forward and the data backward, into the rows block
///         [several nodes: each rank allgathers its rows with its column]
///     synchronize B                    the block holds every row
///     rank r computes dW, db of its range over all rows, in one GEMM per layer; every
///         rank adds the rows' loss terms in row order
///     [clipping or --on-nonfinite skip: sums of squares per tensor row, synchronize C,
///         added in row order]
///     rank r updates its range; writes its verdict
///     synchronize D                    the parameters are complete; verdicts combined
///
/// Ownership follows tensor rows (`SplitStep.ownershipBoundaries`), so a weight row's
/// gradient is one owner's whole GEMM row. Every node computes every gradient (its ranks
/// one range each) from the same rows, so the nodes' copies of the parameters stay
/// identical without exchanging them. With `SoloNodeGroup` (no shared memory) every rank
/// is a node: it computes every weight gradient itself, and only the rows travel.
final class RowSharingExchange: GradientExchange {
    let communicator: any Communicator
    let group: any NodeGroup
    let memory: any NodeSharedMemory
    let split: SplitStep
    let parameterCount: Int
    let parameters: FloatBuffer
    /// This rank's gradient of the parameters it owns (the rest is not written) | FusedTail.
    let localGradient: FloatBuffer
    /// The parameters this rank's weight backward and update cover.
    let ownRange: Range<Int>
    private(set) var exchangeSeconds = 0.0

    private let stateRegions: [FloatBuffer]
    private var nextStateRegion = 0
    /// [node ranks][16]: status, stop request.
    private let headers: UnsafeMutablePointer<Float>
    /// Per ReLU hidden layer, [node ranks][units, rounded to 16]: this step's active flags.
    private let flags: [UnsafeMutablePointer<Float>]
    private let flagStride: Int
    /// [2 + widest hidden]: the combined header and flags.
    private let combined: UnsafeMutablePointer<Float>
    /// The sum of squares of each block of the flat gradient (tensor rows), in the window.
    private let blockSums: UnsafeMutablePointer<Double>
    /// Blocks of the flat parameters, in order, and the ones inside `ownRange`.
    private let blocks: [Range<Int>]
    private let ownBlocks: Range<Int>
    /// [node ranks][16]: bit 0 a non-finite gradient, bit 1 a quiet range written.
    private let verdicts: UnsafeMutablePointer<Float>
    /// Scratch of the across-node allgather: [nodes] counts and displacements.
    private let counts: UnsafeMutablePointer<Int32>
    private let displacements: UnsafeMutablePointer<Int32>

    // This step.
    private var globalRows = 0
    private var beta: Float = 1
    private var stopRequested = false
    private var headerAgreed = false
    private var stopRequests = 0

    var rank: Int { group.nodeRank }
    var size: Int { group.nodeSize }

    var summary: String {
        if group is SoloNodeGroup {
            return "rows allgathered (MPI); every rank computes every weight gradient over all rows"
        }
        let nodes = group.nodeCount
        return "rows shared in memory, \(nodes) node\(nodes == 1 ? "" : "s") x \(size) rank\(size == 1 ? "" : "s"): "
            + "each rank computes the weight gradients of 1/\(size) of the parameters over all rows"
            + (nodes > 1 ? ", the rows allgathered across the nodes" : "")
    }

    /// Collective: the window of `group`'s node for `split`'s rows, the parameters and `stateBuffers`.
    init(communicator: any Communicator, group: any NodeGroup, split: SplitStep, stateBuffers: Int) throws {
        self.communicator = communicator
        self.group = group
        self.split = split
        let parameterCount = split.layout.totalCount
        self.parameterCount = parameterCount
        let hiddenFlags = split.activeUnits?.count ?? 0
        flagStride = ((split.activeUnits?.map(\.capacity).max() ?? 0) + 15) / 16 * 16
        let nodeRanks = group.nodeSize
        blocks = Self.blocks(boundaries: split.ownershipBoundaries)
        // Parameters, state, rows, headers, flags per ReLU layer, block sums, verdicts.
        let regionFloats = [parameterCount] + Array(repeating: parameterCount, count: stateBuffers)
            + [split.rows.floatCount, nodeRanks * 16] + Array(repeating: nodeRanks * max(flagStride, 1), count: hiddenFlags)
            + [2 * blocks.count, nodeRanks * 16]
        let bytes = regionFloats.map { Self.regionFloats($0) * 4 }.reduce(0, +)
        memory = try group.allocateSharedMemory(byteCount: bytes)
        let floats = memory.base.assumingMemoryBound(to: Float.self)
        var starts: [UnsafeMutablePointer<Float>] = []
        var offset = 0
        for count in regionFloats {
            starts.append(floats + offset)
            offset += Self.regionFloats(count)
        }
        let memory = self.memory
        parameters = FloatBuffer(viewing: starts[0], count: parameterCount, owner: memory)
        stateRegions = (0..<stateBuffers).map { FloatBuffer(viewing: starts[1 + $0], count: parameterCount, owner: memory) }
        var next = 1 + stateBuffers
        split.bind(starts[next])
        headers = starts[next + 1]
        next += 2
        flags = Array(starts[next..<(next + hiddenFlags)])
        next += hiddenFlags
        blockSums = UnsafeMutableRawPointer(starts[next]).assumingMemoryBound(to: Double.self)
        verdicts = starts[next + 1]
        precondition(offset * 4 <= bytes, "window layout overruns its bytes")

        let compacted = split.compactedWeightRanges
        let costs = blocks.map { block in
            Double(block.count) * (compacted.contains { $0.contains(block.lowerBound) } ? Self.activeFraction : 1)
        }
        let boundaries = Self.ownedBoundaries(blocks: blocks, costs: costs, ranks: nodeRanks, count: parameterCount)
        let ownRange = boundaries[group.nodeRank]..<boundaries[group.nodeRank + 1]
        self.ownRange = ownRange
        let blocks = self.blocks
        let firstBlock = blocks.firstIndex { $0.lowerBound >= ownRange.lowerBound } ?? blocks.count
        let lastBlock = blocks.firstIndex { $0.lowerBound >= ownRange.upperBound } ?? blocks.count
        ownBlocks = firstBlock..<lastBlock
        localGradient = FloatBuffer(count: parameterCount + FusedTail.count)
        combined = .allocate(capacity: 2 + flagStride)
        combined.initialize(repeating: 0, count: 2 + flagStride)
        counts = .allocate(capacity: group.nodeCount)
        counts.initialize(repeating: 0, count: group.nodeCount)
        displacements = .allocate(capacity: group.nodeCount)
        displacements.initialize(repeating: 0, count: group.nodeCount)
    }

    /// Regions start on 4 KiB: no two ranks' writes share a cache line (or page).
    private static func regionFloats(_ count: Int) -> Int { (count + 1023) / 1024 * 1024 }

    deinit {
        combined.deallocate()
        counts.deallocate()
        displacements.deallocate()
    }

    /// The blocks of the flat buffer between consecutive boundaries: each a tensor row.
    static func blocks(boundaries: [Int]) -> [Range<Int>] {
        zip(boundaries, boundaries.dropFirst()).map { $0..<$1 }.filter { !$0.isEmpty }
    }

    /// The share of a ReLU layer's units taken as active when balancing the owners' work.
    static let activeFraction = 0.5

    /// Where each of `ranks` ranges starts: near equal costs, on block boundaries.
    ///
    /// A block's cost is its weight backward's FLOPs, which its float count measures (every
    /// row of a layer sums over the same rows), halved where the units are compacted
    /// (`SplitStep.compactedWeightRanges`). The last boundary is `count`.
    static func ownedBoundaries(blocks: [Range<Int>], costs: [Double], ranks: Int, count: Int) -> [Int] {
        guard ranks > 1 else { return [0, count] }
        let total = costs.reduce(0, +)
        var boundaries = [0]
        var block = 0, done = 0.0
        for rank in 1..<ranks {
            let target = total * Double(rank) / Double(ranks)
            // Whole blocks while they end at or before the target, then the nearer edge of the next.
            while block < blocks.count && done + costs[block] <= target {
                done += costs[block]
                block += 1
            }
            if block < blocks.count && target - done > done + costs[block] - target {
                done += costs[block]
                block += 1
            }
            boundaries.append(block < blocks.count ? blocks[block].lowerBound : count)
        }
        boundaries.append(count)
        return boundaries
    }

    // MARK: The step

    /// Starts a step of `globalRows` rows at KL weight `beta`; `stopRequested` travels with
    /// its first exchange.
    func beginStep(globalRows: Int, beta: Float, stopRequested: Bool) {
        self.globalRows = globalRows
        self.beta = beta
        self.stopRequested = stopRequested
        headerAgreed = false
    }

    /// Combines every rank's active-unit flags of ReLU layer `layer` (OR); the first
    /// exchange of a step also carries the ranks' status and stop requests.
    func agree(_ units: ActiveUnits, layer: Int) throws {
        let own = flags[layer] + rank * flagStride
        let local = units.localFlags
        for unit in 0..<units.capacity { own[unit] = local[unit] != 0 ? 1 : 0 }
        try exchangeHeader(localFailure: nil, flagsOf: layer, width: units.capacity)
        for unit in 0..<units.capacity { local[unit] = combined[2 + unit] > 0 ? 1 : 0 }
        units.adopt(flags: local)
    }

    /// Synchronize A: the header (status, stop) when not yet agreed this step, with the
    /// flags of `layer` (nil: a header alone, as wide as the first layer's exchange).
    private func exchangeHeader(localFailure: String?, flagsOf layer: Int?, width: Int) throws {
        let start = monotonicSeconds()
        let carriesHeader = !headerAgreed
        if carriesHeader {
            headers[rank * 16] = localFailure == nil ? 0 : 1
            headers[rank * 16 + 1] = stopRequested ? 1 : 0
        }
        try memory.synchronize()
        let count = 2 + width
        combined.update(repeating: 0, count: count)
        for other in 0..<size {
            if carriesHeader {
                combined[0] += headers[other * 16]
                combined[1] += headers[other * 16 + 1]
            }
            if let layer {
                let slot = flags[layer] + other * flagStride
                for unit in 0..<width { combined[2 + unit] += slot[unit] }
            }
        }
        try group.allreduceAcrossNodes(UnsafeMutableBufferPointer(start: combined, count: count))
        exchangeSeconds += monotonicSeconds() - start
        guard carriesHeader else { return }
        headerAgreed = true
        if combined[0] != 0 {
            try communicator.resolveFailure(localFailure: localFailure, reducedStatus: combined[0])
        }
        stopRequests = Int(combined[1])
    }

    func decoderGradientsReady() {}

    func reduce(localFailure: String?, needsSumOfSquares: Bool) throws -> ReducedStep {
        if !headerAgreed {
            // A failed rank, or a model without ReLU layers: the step's first exchange,
            // as wide as the healthy ranks' (the first layer's flags, here zero).
            let width = split.activeUnits?.first?.capacity ?? 0
            if let first = flags.first { (first + rank * flagStride).update(repeating: 0, count: width) }
            try exchangeHeader(localFailure: localFailure, flagsOf: flags.isEmpty ? nil : 0, width: width)
        }
        try shareRows()
        split.weightBackward(globalRows: globalRows, owned: ownRange, parameters: parameters.pointer,
                             gradients: localGradient.pointer)
        let terms = split.lossTerms(globalRows: globalRows, beta: beta)
        var reduced = ReducedStep()
        (reduced.loss, reduced.reconstruction, reduced.kl) = (terms.loss, terms.reconstruction, terms.kl)
        reduced.stopRequests = stopRequests
        if needsSumOfSquares {
            try sumBlocksOfSquares()
            var total = 0.0
            for block in blocks.indices { total += blockSums[block] }
            reduced.sumOfSquares = total
        }
        return reduced
    }

    /// Synchronize B, after each rank's rows have reached the other nodes.
    private func shareRows() throws {
        let start = monotonicSeconds()
        defer { exchangeSeconds += monotonicSeconds() - start }
        if group.nodeCount > 1 {
            let worldSize = communicator.size
            for region in split.rows.regions {
                let rowFloats = region.rowsPerDatapoint * split.width(of: region)
                for (member, worldRank) in group.columnWorldRanks.enumerated() {
                    let rows = EpochSchedule.rankRange(batchSize: globalRows, rank: worldRank, size: worldSize)
                    counts[member] = Int32(rows.count * rowFloats)
                    displacements[member] = Int32(rows.lowerBound * rowFloats)
                }
                try group.allgatherAcrossNodes(split.pointer(region, row: 0), counts: counts,
                                               displacements: displacements)
            }
        }
        try memory.synchronize()
    }

    /// Synchronize C: each rank's blocks' sums of squares, then every rank reads them all.
    private func sumBlocksOfSquares() throws {
        for block in ownBlocks {
            let range = blocks[block]
            blockSums[block] = GradientClipping.sumOfSquares(localGradient.pointer + range.lowerBound, count: range.count)
        }
        let start = monotonicSeconds()
        try memory.synchronize()
        exchangeSeconds += monotonicSeconds() - start
    }

    func update(optimizer: any Optimizer, gradientScale: Float) throws -> UpdateVerdict {
        let finite = optimizer.step(parameters: parameters, gradients: localGradient, gradientScale: gradientScale,
                                    range: ownRange)
        let quiet = (optimizer as? any QuietRangeOptimizer)?.leftQuietRangesUnwritten ?? false
        verdicts[rank * 16] = Float((finite ? 0 : 1) | (quiet ? 0 : 2))
        let start = monotonicSeconds()
        try memory.synchronize()
        exchangeSeconds += monotonicSeconds() - start
        var combinedVerdict = 0
        for other in 0..<size { combinedVerdict |= Int(verdicts[other * 16]) }
        return UpdateVerdict(gradientFinite: combinedVerdict & 1 == 0, quietRangesUnwritten: combinedVerdict & 2 == 0)
    }

    /// Collective: every block's sum of squares, for naming a non-finite tensor.
    func prepareDiagnosis() throws { try sumBlocksOfSquares() }

    func reducedSumOfSquares(_ range: Range<Int>) -> Double {
        var total = 0.0
        for (index, block) in blocks.enumerated() where range.contains(block.lowerBound) { total += blockSums[index] }
        return total
    }

    func makeOptimizer(_ configuration: TrainingConfiguration) -> any Optimizer {
        configuration.makeOptimizer(parameterCount: parameterCount) { [self] count in
            precondition(count == parameterCount && nextStateRegion < stateRegions.count,
                         "the window holds \(stateRegions.count) state buffers of the parameters' size")
            defer { nextStateRegion += 1 }
            let region = stateRegions[nextStateRegion]
            (region.pointer + ownRange.lowerBound).update(repeating: 0, count: ownRange.count)
            return region
        }
    }

    func store(_ values: UnsafePointer<Float>, into buffer: FloatBuffer) {
        (buffer.pointer + ownRange.lowerBound).update(from: values + ownRange.lowerBound, count: ownRange.count)
    }

    func publish() throws { try memory.synchronize() }
}
