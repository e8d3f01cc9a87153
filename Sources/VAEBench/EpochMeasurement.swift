/// One epoch as one rank saw it.
public struct EpochMeasurement: Codable, Equatable, Sendable {
    public let epoch: Int
    public let steps: Int
    /// The trainEpoch call on this rank, and the slowest rank's (what the job waits for).
    public let seconds: Double
    public let slowestRankSeconds: Double
    public let samplesPerSecond: Double
    /// Steady-state steps (the 2nd to the last; the first also starts the epoch).
    public let stepSeconds: Spread
    public let allreduceSeconds: Spread
    public let computeSeconds: Spread
    /// Means over the steady-state steps: step = compute + allreduce exactly.
    public let meanStepSeconds: Double
    public let meanAllreduceSeconds: Double
    /// Allreduce time over step time, summed over the steady-state steps.
    public let allreduceShare: Double
    /// Allocations during the steady-state steps and during the epoch's start (schedule, plan).
    public let steadyStateAllocations: UInt64?
    public let steadyStateAllocatedBytes: UInt64?
    public let epochStartAllocations: UInt64?
    public let trainNegativeELBO: Double
    /// First-layer units left out of the forward during this epoch (`DormantUnits`); nil when not tracked.
    public let dormantUnits: Int?
}
