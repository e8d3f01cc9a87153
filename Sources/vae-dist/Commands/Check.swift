import ArgumentParser
import Foundation
import VAECore
import VAEIO
import VAEParallel


/// `vae-dist check FILE`.
///
/// Reads every row once through the reader training uses, validating it, and reports
/// throughput and memory: a dry run of the data path before a long job, and the
/// measurement behind the memory budget.
struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Validate a data file by reading every row through the training reader; report speed and memory."
    )

    @Argument(help: "The HDF5 data file.")
    var file: String

    @Flag(help: "Also require every value within [0, 1] after scaling, as a Bernoulli likelihood does.")
    var bernoulli = false

    @Option(help: "How rows are held: auto (in memory when they fit the budget), memory, or streaming.")
    var reading: ReadingMode = .auto

    @Option(help: "Bytes of data this process may hold, e.g. 64M or 2G (default: a quarter of physical memory).")
    var memoryBudget: String?

    /// `--batch` as in train, bench and embed; `--batch-size` is kept as an alias.
    @Option(name: [.customLong("batch"), .customLong("batch-size")], help: "Rows per step.")
    var batchSize: Int = 128

    @Option(help: "Seed of the row order (a fixed shuffle, as one training epoch reads).")
    var seed: UInt64 = 0

    @OptionGroup(title: "Progress")
    var progress: ProgressOptions

    func validate() throws {
        guard batchSize >= 1 else { throw ValidationError("--batch must be at least 1, got \(batchSize)") }
        if let memoryBudget, parseByteCount(memoryBudget) == nil {
            throw ValidationError("--memory-budget must be a byte count like 512M, 2G or 1000000, got '\(memoryBudget)'")
        }
    }

    func run() throws {
        let budget = memoryBudget.flatMap(parseByteCount) ?? defaultMemoryBudget()
        let dataFile = try DataFile.open(file)
        // A step holds at most every row: a larger --batch-size sizes nothing by itself.
        let batchSize = min(self.batchSize, max(1, dataFile.rowCount))
        let source = try makeMinibatchSource(dataFile: dataFile, mode: reading, memoryBudget: budget, bernoulli: bernoulli)
        let order = shuffledRows(count: dataFile.rowCount, seed: seed)
        let plan = stride(from: 0, to: order.count, by: batchSize).map { Array(order[$0..<min($0 + batchSize, order.count)]) }
        let start = Date()
        try source.beginEpoch(plan: plan)
        let batch = UnsafeMutablePointer<Float>.allocate(capacity: batchSize * dataFile.featureCount)
        defer { batch.deallocate() }
        var rows = 0
        let reporter = ProgressReporter(style: progress.style, title: "check", total: plan.count, unit: "steps",
                                        rateUnit: "rows/s", now: start)
        for (step, _) in plan.enumerated() {
            rows += try source.nextBatch(into: batch)
            reporter.update(done: step + 1, items: rows)
        }
        reporter.finish()
        let seconds = Date().timeIntervalSince(start)

        Console.print("\(file): \(dataFile.featureType.rawValue) [\(dataFile.rowCount), \(dataFile.featureCount)], "
              + "\(formatByteCount(dataFile.featureBytes)) of features, all rows valid\(bernoulli ? " for a Bernoulli likelihood" : "")")
        switch dataFile.checksum {
        case .verified(let header)?:
            Console.print("checksum crc32 \(header.checksumHex) of the file's \(header.coveredByteCount) bytes after its header: verified")
        case .absent?, nil:
            Console.print("checksum none (not written by vae-dist `prepare`, or by a vae-dist before checksums): not verified")
        }
        let mode = source is StreamingMinibatchSource ? "streaming" : "in memory"
        Console.print("read \(rows) rows in \(plan.count) steps of \(batchSize) (\(mode)) in " + String(format: "%.2f s, %.0f rows/s", seconds, Double(rows) / seconds))
        if let streaming = source as? StreamingMinibatchSource {
            Console.print("memory budget \(formatByteCount(budget)) (\(budget) bytes), reader high-water \(formatByteCount(streaming.highWaterBytes)) (\(streaming.highWaterBytes) bytes)")
        } else {
            Console.print("memory budget \(formatByteCount(budget)), held in memory \(formatByteCount(dataFile.featureBytes))")
        }
        if let peak = peakResidentBytes() {
            Console.print("process peak resident memory (VmHWM) \(formatByteCount(peak)) (\(peak) bytes)")
        }
    }

    /// Fisher-Yates driven by SplitMix64: a pure function of (seed, count).
    private func shuffledRows(count: Int, seed: UInt64) -> [Int] {
        var state = seed
        func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        var rows = Array(0..<count)
        for index in stride(from: count - 1, to: 0, by: -1) {
            rows.swapAt(index, Int(next() % UInt64(index + 1)))
        }
        return rows
    }

    private func peakResidentBytes() -> Int? {
        guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return nil }
        for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
            let kilobytes = line.split(separator: " ").dropFirst().first.flatMap { Int($0) }
            return kilobytes.map { $0 * 1024 }
        }
        return nil
    }
}
