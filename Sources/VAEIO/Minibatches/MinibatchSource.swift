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

/// Parses a byte count such as "512M", "2G", "64KiB" or "1000000" (binary units).
public func parseByteCount(_ text: String) -> Int? {
    let trimmed = text.trimmingCharacters(in: .whitespaces).uppercased()
    let units: [(String, Int)] = [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("TIB", 1 << 40),
                                  ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("TB", 1 << 40),
                                  ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("T", 1 << 40), ("B", 1)]
    for (suffix, multiplier) in units where trimmed.hasSuffix(suffix) {
        guard let number = Double(trimmed.dropLast(suffix.count)), number >= 0 else { return nil }
        return Int(number * Double(multiplier))
    }
    return Int(trimmed).flatMap { $0 >= 0 ? $0 : nil }
}

/// "64.0 MiB" and friends, for messages.
public func formatByteCount(_ bytes: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 { value /= 1024; unit += 1 }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f", value) + " " + units[unit]
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
