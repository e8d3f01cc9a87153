import Foundation

/// Where a rank's minibatches come from. The trainer computes, per epoch, the
/// rows this rank reads at each step; the source delivers them scaled to Float32.
public protocol MinibatchSource: AnyObject {
    var rowCount: Int { get }          // N rows in the data set
    var featureCount: Int { get }      // D
    /// The job ranks sharing this source's read-ahead, in local-rank order, when several
    /// do: `beginEpoch` then needs their rows too (`ReadingPlan.nodeRows`); nil otherwise.
    var nodeWorldRanks: [Int]? { get }
    /// Starts an epoch (on every rank sharing the source at once).
    func beginEpoch(_ plan: ReadingPlan) throws
    /// Writes the next step's rows, in plan order, as float32 row-major [rows, D] into `destination`
    /// (which has room for at least plan.rows[s].count * D floats); returns the row count. Called
    /// once per step of the plan, steps without rows included (a shared read-ahead counts them).
    func nextBatch(into destination: UnsafeMutablePointer<Float>) throws -> Int
}

extension MinibatchSource {
    public var nodeWorldRanks: [Int]? { nil }

    /// Starts an epoch read by this rank alone: `plan[s]` lists the rows of step s, in batch order.
    public func beginEpoch(plan: [[Int]]) throws { try beginEpoch(ReadingPlan(rows: plan)) }
}

/// How a source holds the data.
public enum ReadingMode: String, CaseIterable, Sendable {
    /// In memory when the features fit the budget, else streaming.
    case auto
    /// All N rows in memory, as stored (uint8 stays uint8).
    case memory
    /// Rows read on demand through a bounded read-ahead queue.
    case streaming
}

/// Picks and builds the source for a data set.
/// - Parameters:
///   - memoryBudget: bytes the data may take (the node's, when `sharing` spans several ranks):
///     in memory, the whole feature array; streaming, the read-ahead.
///   - bernoulli: reject values outside [0, 1] after scaling.
///   - sharing: the node's ranks holding one copy or one read-ahead together (collective).
public func makeMinibatchSource(
    data: ShardSet, mode: ReadingMode = .auto, memoryBudget: Int, bernoulli: Bool,
    sharing: NodeSharing = PrivateMemory()
) throws -> MinibatchSource {
    let inMemory = switch mode {
    case .memory: true
    case .streaming: false
    case .auto: data.featureBytes <= memoryBudget
    }
    if inMemory { return try InMemoryMinibatchSource(data: data, bernoulli: bernoulli, sharing: sharing) }
    return try StreamingMinibatchSource(data: data, memoryBudget: memoryBudget, bernoulli: bernoulli, sharing: sharing)
}

/// One file read by this rank alone.
public func makeMinibatchSource(
    dataFile: DataFile, mode: ReadingMode = .auto, memoryBudget: Int, bernoulli: Bool
) throws -> MinibatchSource {
    try makeMinibatchSource(data: ShardSet(dataFile), mode: mode, memoryBudget: memoryBudget, bernoulli: bernoulli)
}

/// The default data budget of a node: a quarter of its physical memory (the rest is the
/// models, MPI buffers and the OS cache), for all of its ranks together.
public func defaultMemoryBudget() -> Int {
    Int(ProcessInfo.processInfo.physicalMemory / 4)
}

extension MinibatchSource {
    /// Checks a plan against the file before an epoch starts.
    func validatePlan(_ plan: [[Int]], file: String) throws {
        for (step, rows) in plan.enumerated() {
            for row in rows where row < 0 || row >= rowCount {
                throw DataError(file: file, object: DataFile.featuresPath,
                                "step \(step) asks for row \(row), but the file has rows 0..<\(rowCount)")
            }
        }
    }
}
