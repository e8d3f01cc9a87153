import Foundation

/// Where a rank's minibatches come from. The trainer computes, per epoch, the
/// rows this rank reads at each step; the source delivers them scaled to Float32.
public protocol MinibatchSource: AnyObject {
    var rowCount: Int { get }          // N rows in the file
    var featureCount: Int { get }      // D
    /// Starts an epoch. `plan[s]` lists the data-file rows this rank reads at step s, in batch order.
    func beginEpoch(plan: [[Int]]) throws
    /// Writes the next step's rows, in plan order, as float32 row-major [rows, D] into `destination`
    /// (which has room for at least plan[s].count * D floats); returns the row count.
    func nextBatch(into destination: UnsafeMutablePointer<Float>) throws -> Int
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

/// Picks and builds the source for a data file.
/// - Parameters:
///   - memoryBudget: bytes this rank may hold for data (in memory: the whole feature array; streaming: the read-ahead).
///   - bernoulli: reject values outside [0, 1] after scaling.
public func makeMinibatchSource(
    dataFile: DataFile, mode: ReadingMode = .auto, memoryBudget: Int, bernoulli: Bool
) throws -> MinibatchSource {
    switch mode {
    case .memory:
        return try InMemoryMinibatchSource(dataFile: dataFile, bernoulli: bernoulli)
    case .streaming:
        return try StreamingMinibatchSource(dataFile: dataFile, memoryBudget: memoryBudget, bernoulli: bernoulli)
    case .auto:
        if dataFile.featureBytes <= memoryBudget {
            return try InMemoryMinibatchSource(dataFile: dataFile, bernoulli: bernoulli)
        }
        return try StreamingMinibatchSource(dataFile: dataFile, memoryBudget: memoryBudget, bernoulli: bernoulli)
    }
}

/// A default data budget per rank: a quarter of physical memory shared by the
/// ranks on this node (the rest is the model, MPI buffers and the OS cache).
public func defaultMemoryBudget(ranksOnThisNode: Int = 1) -> Int {
    Int(ProcessInfo.processInfo.physicalMemory / 4) / max(1, ranksOnThisNode)
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
