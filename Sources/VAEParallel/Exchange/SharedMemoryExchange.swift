import CVAEKernels
import VAECore

/// The gradient exchange of ranks that share a node's memory: a reduce-scatter in place.
///
/// On each node one shared-memory window holds the parameters, the optimizer's state,
/// one fused gradient slot per rank of the node ([gradients | loss sums | stop |
/// status], as the allreduce path's buffer) and each rank's partial sum of squares.
/// Node rank r owns the r-th of k contiguous ranges of the parameters (k ranks per
/// node). A step, "synchronize" being a barrier of the node's ranks:
///
///     every rank writes its slot            (forward and backward)
///     synchronize                            1: every slot of the node is complete
///     every rank adds the slots' tails        (loss sums, stop requests, failure status)
///         [several nodes: allreduce of those 5 floats across the nodes]
///     rank r sums range r over the slots, in rank order, into its own slot
///         [several nodes: allreduce of range r with the other nodes' node rank r]
///         and writes that range's sum of squares
///     synchronize                            2: every range is reduced
///     every rank adds the k partial sums of squares (finiteness, clipping)
///     rank r applies the optimizer to range r (parameters and state in the window)
///         and writes whether its range of the gradient was finite (and whether it
///         wrote a range hinted quiet)
///     synchronize                            3: the parameters are complete
///     every rank reads the k verdicts (the same answer on every rank)
///
/// Synchronize 2 and the sums of squares are there for what needs the whole gradient
/// before the update: clipping's norm, and `--on-nonfinite skip`. Without them (the
/// defaults) rank r goes from summing range r straight to updating it, since it reads
/// only what it reduced itself, and the optimizer's verdicts stand in for the finiteness
/// check: two synchronizes per step.
///
/// On one node that is a reduce-scatter with no copy and no message, 1/k of the
/// optimizer work per rank (the ZeRO-1 idea), and an allgather for free: the next
/// forward reads the window. Across nodes only the ranges travel, each rank sending
/// 1/k of its node's gradient; every node's copy of the parameters gets the same
/// updates. Every rank writes only its own slot, its own partial and its own range,
/// and reads another rank's writes only after a synchronize; between synchronizes 1
/// and 2 slots are only read (other ranges) or written by their owner (own range), so
/// no rank can overwrite what another still reads.
final class SharedMemoryExchange: GradientExchange {
    let communicator: any Communicator
    let group: any NodeGroup
    let memory: any NodeSharedMemory
    let parameterCount: Int
    /// The parameters every rank's forward reads.
    let parameters: FloatBuffer
    /// Every rank's fused gradient slot; `slots[rank]` is this rank's.
    let slots: [FloatBuffer]
    /// The parameters this rank reduces and updates.
    let ownRange: Range<Int>
    /// Seconds spent synchronizing and reducing (the step's communication), for benchmarks.
    private(set) var exchangeSeconds = 0.0

    private let stateRegions: [FloatBuffer]
    private var nextStateRegion = 0
    /// Per rank, a cache line apart.
    ///
    /// [0] the partial sum of squares, [1] 1 if the rank's update met a non-finite
    /// gradient.
    private let partialSums: UnsafeMutablePointer<Double>
    private let slotPointers: UnsafeMutablePointer<UnsafeMutablePointer<Float>?>
    private let tailSums: UnsafeMutablePointer<Float>  // the node's tail sums, reduced across nodes
    private static let partialStride = 64 / MemoryLayout<Double>.stride

    /// This rank's place on its node, and the node's rank count.
    var rank: Int { group.nodeRank }
    var size: Int { group.nodeSize }

    /// What `open` gives: the exchange, or why not (the same on every rank).
    enum Opening {
        case opened(SharedMemoryExchange)
        case unavailable(String)
    }

    /// Collective.
    ///
    /// Groups the ranks by node and makes each node's window, or says why it cannot (one
    /// process, nodes with different numbers of ranks, one rank per node when
    /// `requireSharing`, or too little shared memory on some node: checked first, since a
    /// window that does not fit ends in a bus error when first touched).
    static func open(communicator: any Communicator, parameterCount: Int, stateBuffers: Int,
                     requireSharing: Bool) throws -> Opening {
        guard communicator.size > 1 else { return .unavailable("one process") }
        guard let group = try communicator.makeNodeGroup() else {
            return .unavailable("the nodes hold different numbers of ranks; it needs the same number of ranks on every node")
        }
        if requireSharing && group.nodeSize == 1 { return .unavailable("one rank per node shares nothing") }
        let bytes = byteCount(parameterCount: parameterCount, ranks: group.nodeSize, stateBuffers: stateBuffers)
        // Every rank takes the same path: one node short of room sends every rank elsewhere.
        let shortage = group.sharedMemoryShortage(byteCount: bytes)
        if try communicator.allreduce(Int64(shortage == nil ? 0 : 1), .max) != 0 {
            return .unavailable(shortage ?? "another node lacks room for the shared-memory exchange")
        }
        return .opened(try SharedMemoryExchange(communicator: communicator, group: group, parameterCount: parameterCount,
                                                byteCount: bytes, stateBuffers: stateBuffers))
    }

    /// Bytes of the window.
    ///
    /// Parameters, state buffers, the ranks' slots ([P | FusedTail]), and a cache line
    /// per rank for the partial sums of squares.
    static func byteCount(parameterCount: Int, ranks: Int, stateBuffers: Int) -> Int {
        let regions = (1 + stateBuffers) * regionBytes(floats: parameterCount)
            + ranks * regionBytes(floats: parameterCount + FusedTail.count)
        return regions + ranks * 64
    }

    /// Regions start on page boundaries: no two ranks' writes share a cache line (or page).
    private static func regionBytes(floats: Int) -> Int {
        (floats * MemoryLayout<Float>.stride + 4095) / 4096 * 4096
    }

    /// The r-th of `size` contiguous ranges of `count`, with boundaries on 16 floats (64 bytes).
    static func ownedRange(rank: Int, size: Int, count: Int) -> Range<Int> {
        let lines = (count + 15) / 16
        let first = lines * rank / size * 16, last = lines * (rank + 1) / size * 16
        return min(first, count)..<min(last, count)
    }

    /// Collective: allocates the node's window.
    private init(communicator: any Communicator, group: any NodeGroup, parameterCount: Int, byteCount: Int,
                 stateBuffers: Int) throws {
        let memory = try group.allocateSharedMemory(byteCount: byteCount)
        self.communicator = communicator
        self.group = group
        self.memory = memory
        self.parameterCount = parameterCount
        var offset = 0
        func region(_ floats: Int) -> FloatBuffer {
            let view = FloatBuffer(viewing: (memory.base + offset).assumingMemoryBound(to: Float.self),
                                   count: floats, owner: memory)
            offset += Self.regionBytes(floats: floats)
            return view
        }
        parameters = region(parameterCount)
        stateRegions = (0..<stateBuffers).map { _ in region(parameterCount) }
        slots = (0..<group.nodeSize).map { _ in region(parameterCount + FusedTail.count) }
        partialSums = (memory.base + offset).assumingMemoryBound(to: Double.self)
        ownRange = Self.ownedRange(rank: group.nodeRank, size: group.nodeSize, count: parameterCount)
        slotPointers = .allocate(capacity: slots.count)
        for (index, slot) in slots.enumerated() { slotPointers[index] = slot.pointer }
        tailSums = .allocate(capacity: FusedTail.count)
        tailSums.initialize(repeating: 0, count: FusedTail.count)
    }

    deinit {
        slotPointers.deallocate()
        tailSums.deallocate()
    }

    /// This rank's slot: the fused buffer its forward and backward write.
    var localSlot: FloatBuffer { slots[rank] }
    var localGradient: FloatBuffer { localSlot }

    var summary: String {
        let nodes = group.nodeCount
        return "shared memory, \(nodes) node\(nodes == 1 ? "" : "s") x \(size) rank\(size == 1 ? "" : "s"): "
            + "each rank sums and updates 1/\(size) of the parameters"
            + (nodes > 1 ? ", its range allreduced across the nodes" : "")
    }

    /// The optimizer with its state buffers in the window, one per `allocate` call.
    func makeOptimizer(_ configuration: TrainingConfiguration) -> any Optimizer {
        configuration.makeOptimizer(parameterCount: parameterCount) { [self] count in
            precondition(count == parameterCount && nextStateRegion < stateRegions.count,
                         "the window holds \(stateRegions.count) state buffers of the parameters' size")
            defer { nextStateRegion += 1 }
            // The state starts at zero (the window's memory is fresh, but say it); `publish` shows it.
            let region = stateRegions[nextStateRegion]
            (region.pointer + ownRange.lowerBound).update(repeating: 0, count: ownRange.count)
            return region
        }
    }

    /// Writes this rank's range of `values` into `buffer` (the parameters or a state buffer of the window).
    ///
    /// Once every rank has, `publish()` makes the whole visible.
    func store(_ values: UnsafePointer<Float>, into buffer: FloatBuffer) {
        (buffer.pointer + ownRange.lowerBound).update(from: values + ownRange.lowerBound, count: ownRange.count)
    }

    func publish() throws { try synchronize() }

    /// Nothing to start early: the slots are summed after synchronize 1.
    func decoderGradientsReady() {}

    func synchronize() throws {
        let start = monotonicSeconds()
        defer { exchangeSeconds += monotonicSeconds() - start }
        try memory.synchronize()
    }

    /// Synchronizes 1 and 2 of the step.
    ///
    /// The communicator settles a failure reported in a slot's status (every rank
    /// throws the same `RankFailure`). Without `needsSumOfSquares` (no clipping,
    /// `--on-nonfinite stop`) there is no synchronize 2 and no sum of squares: a rank's
    /// update reads only the range it reduced itself, and `update` reports whether every
    /// rank's range was finite.
    func reduce(localFailure: String?, needsSumOfSquares: Bool = true) throws -> ReducedStep {
        let local = localSlot
        local[parameterCount + FusedTail.status] = localFailure == nil ? 0 : 1
        try synchronize()
        let start = monotonicSeconds()
        tailSums.update(repeating: 0, count: FusedTail.count)
        for slot in slots {
            for i in 0..<FusedTail.count { tailSums[i] += slot[parameterCount + i] }
        }
        try group.allreduceAcrossNodes(UnsafeMutableBufferPointer(start: tailSums, count: FusedTail.count))
        let status = tailSums[FusedTail.status]
        if status != 0 {
            try communicator.resolveFailure(localFailure: localFailure, reducedStatus: status)
        }
        let nodeSumOfSquares = vae_sum_slots(slotPointers, size, rank, ownRange.lowerBound, ownRange.count,
                                             needsSumOfSquares && group.nodeCount == 1 ? 1 : 0)
        let range = local.pointer + ownRange.lowerBound
        if group.nodeCount > 1 {
            try group.allreduceAcrossNodes(UnsafeMutableBufferPointer(start: range, count: ownRange.count))
        }
        guard needsSumOfSquares else {
            exchangeSeconds += monotonicSeconds() - start
            return ReducedStep(tail: tailSums, sumOfSquares: nil)
        }
        partialSums[rank * Self.partialStride] = group.nodeCount > 1
            ? GradientClipping.sumOfSquares(range, count: ownRange.count) : nodeSumOfSquares
        exchangeSeconds += monotonicSeconds() - start
        try synchronize()
        var sumOfSquares = 0.0
        for other in 0..<size { sumOfSquares += partialSums[other * Self.partialStride] }
        return ReducedStep(tail: tailSums, sumOfSquares: sumOfSquares)
    }

    /// Synchronize 3: this rank's share of the update, then every rank sees all of it.
    ///
    /// Returns what the ranks' steps reported, combined: each publishes its optimizer's
    /// verdict before the synchronize, so every rank gets the same answer.
    func update(optimizer: any Optimizer, gradientScale: Float) throws -> UpdateVerdict {
        let finite = optimizer.step(parameters: parameters, gradients: localSlot, gradientScale: gradientScale,
                                    range: ownRange)
        // Beside the rank's partial sum, not over it: a slower rank may still be reading that.
        // Bit 0: a non-finite gradient; bit 1: a quiet range written.
        let quietRangesUnwritten = (optimizer as? any QuietRangeOptimizer)?.leftQuietRangesUnwritten ?? false
        partialSums[rank * Self.partialStride + 1] = Double((finite ? 0 : 1) | (quietRangesUnwritten ? 0 : 2))
        try synchronize()
        var combined = 0
        for other in 0..<size { combined |= Int(partialSums[other * Self.partialStride + 1]) }
        return UpdateVerdict(gradientFinite: combined & 1 == 0, quietRangesUnwritten: combined & 2 == 0)
    }

    /// The sum of squares of the reduced gradients in `range` after `reduce`.
    ///
    /// Each range is reduced into its owner's slot; for naming the tensor that went non-finite.
    func reducedSumOfSquares(_ range: Range<Int>) -> Double {
        var total = 0.0
        for owner in 0..<size {
            let piece = range.clamped(to: Self.ownedRange(rank: owner, size: size, count: parameterCount))
            if !piece.isEmpty {
                total += GradientClipping.sumOfSquares(slots[owner].pointer + piece.lowerBound, count: piece.count)
            }
        }
        return total
    }
}
