import VAEParallel

/// A communicator that forwards every call to `base` and adds up the time spent in `allreduce`.
///
/// Wrapped around the trainer's communicator, it splits a step into the gradient
/// allreduce and everything else without a hook in the trainer. The time includes waiting
/// for the slowest rank to arrive (what a step really loses there).
public final class TimedCommunicator: Communicator {
    public let base: any Communicator
    /// Seconds spent in allreduce calls since the last `reset()`.
    public private(set) var allreduceSeconds = 0.0
    public private(set) var allreduceCalls = 0

    public init(_ base: any Communicator) { self.base = base }

    public func reset() {
        allreduceSeconds = 0
        allreduceCalls = 0
    }

    public var rank: Int { base.rank }
    public var size: Int { base.size }
    public var backendDescription: String { base.backendDescription }

    public func allreduce<Element: CollectiveScalar>(
        _ buffer: UnsafeMutableBufferPointer<Element>, _ reduction: Reduction
    ) throws {
        let start = monotonicSeconds()
        defer {
            allreduceSeconds += monotonicSeconds() - start
            allreduceCalls += 1
        }
        try base.allreduce(buffer, reduction)
    }

    public func broadcast<Element: CollectiveScalar>(
        _ buffer: UnsafeMutableBufferPointer<Element>, from root: Int
    ) throws {
        try base.broadcast(buffer, from: root)
    }

    public func gatherv<Element: CollectiveScalar>(
        _ local: UnsafeBufferPointer<Element>, to root: Int
    ) throws -> Gathered<Element>? {
        try base.gatherv(local, to: root)
    }

    /// Timed with the allreduces: both are a step's exchange.
    public func allgather(_ buffer: UnsafeMutablePointer<Float>, counts: UnsafePointer<Int32>,
                          displacements: UnsafePointer<Int32>) throws {
        let start = monotonicSeconds()
        defer {
            allreduceSeconds += monotonicSeconds() - start
            allreduceCalls += 1
        }
        try base.allgather(buffer, counts: counts, displacements: displacements)
    }

    /// Times starting the non-blocking allreduce here and its waits in the returned wrapper.
    ///
    /// With `--overlap-allreduce`, what a step loses is the time it waits.
    public func startAllreduceSum(_ buffer: UnsafeMutableBufferPointer<Float>) throws -> any PendingCollective {
        let start = monotonicSeconds()
        defer {
            allreduceSeconds += monotonicSeconds() - start
            allreduceCalls += 1
        }
        return TimedPendingCollective(try base.startAllreduceSum(buffer), owner: self)
    }

    fileprivate func addWait(_ seconds: Double) { allreduceSeconds += seconds }

    public func barrier() throws { try base.barrier() }
    public func makeNodeGroup(requiringEqualNodes: Bool) throws -> (any NodeGroup)? {
        try base.makeNodeGroup(requiringEqualNodes: requiringEqualNodes)
    }
    public func finalize() throws { try base.finalize() }
    public func abort(message: String, code: Int32) -> Never { base.abort(message: message, code: code) }
}

/// A pending collective whose progress and waits count as allreduce time.
private final class TimedPendingCollective: PendingCollective {
    private let base: any PendingCollective
    private unowned let owner: TimedCommunicator

    init(_ base: any PendingCollective, owner: TimedCommunicator) {
        self.base = base
        self.owner = owner
    }

    func progress() throws -> Bool {
        let start = monotonicSeconds()
        defer { owner.addWait(monotonicSeconds() - start) }
        return try base.progress()
    }

    func wait() throws {
        let start = monotonicSeconds()
        defer { owner.addWait(monotonicSeconds() - start) }
        try base.wait()
    }
}
