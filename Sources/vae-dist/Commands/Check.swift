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

    @Argument(help: "The HDF5 data file, or several as one data set: a glob such as 'shards/train-*.h5' (quoted) or a list file (.txt, one path per line).")
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

    @Option(help: "Seed of the row order (epoch 0's order, as training draws it).")
    var seed: UInt64 = 0

    @Option(help: "Row order: blocks (storage blocks shuffled, then rows within windows of blocks) or rows (all rows shuffled), as train's --shuffle.")
    var shuffle: ShuffleMode = .blocks

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
        let data = try ShardSet.open(file)
        // A step holds at most every row: a larger --batch-size sizes nothing by itself.
        let batchSize = min(self.batchSize, max(1, data.rowCount))
        let source = try makeMinibatchSource(data: data, mode: reading, memoryBudget: budget, bernoulli: bernoulli)
        let ordering: EpochOrdering = shuffle == .rows ? .rows : .blocks(data.storageBlockShuffle)
        let schedule = EpochSchedule(epoch: 0, rowCount: data.rowCount, globalBatch: batchSize, lastBatch: .partial,
                                     streams: RandomStreams(seed: seed), ordering: ordering)
        let plan = schedule.plan(rank: 0, size: 1)
        let start = Date()
        try source.beginEpoch(plan: plan)
        let batch = UnsafeMutablePointer<Float>.allocate(capacity: batchSize * data.featureCount)
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

        Console.print("\(data.description): \(data.featureType.rawValue) [\(data.rowCount), \(data.featureCount)], "
              + "\(formatByteCount(data.featureBytes)) of features, all rows valid\(bernoulli ? " for a Bernoulli likelihood" : "")")
        for dataFile in data.files {
            let name = data.files.count == 1 ? "checksum" : "checksum of \(dataFile.path):"
            switch dataFile.checksum {
            case .verified(let header)?:
                Console.print("\(name) crc32 \(header.checksumHex) of the file's \(header.coveredByteCount) bytes after its header: verified")
            case .absent?, nil:
                Console.print("\(name) none (not written by vae-dist `prepare`, or by a vae-dist before checksums): not verified")
            }
        }
        let order = shuffle == .rows ? "rows shuffled" : "blocks of \(data.storageBlockShuffle.blockRows) rows shuffled, "
            + "rows within windows of \(data.storageBlockShuffle.windowBlocks) blocks"
        let mode = (source as? StreamingMinibatchSource).map {
            "streaming, \($0.isGathering ? "gathering each step's rows" : "whole blocks read ahead"), \($0.loadThreads) loader\($0.loadThreads == 1 ? "" : "s")"
        } ?? "in memory"
        Console.print("read \(rows) rows in \(plan.count) steps of \(batchSize) (\(order); \(mode)) in "
              + String(format: "%.2f s, %.0f rows/s", seconds, Double(rows) / seconds))
        if let streaming = source as? StreamingMinibatchSource {
            Console.print("memory budget \(formatByteCount(budget)) (\(budget) bytes), reader high-water \(formatByteCount(streaming.highWaterBytes)) (\(streaming.highWaterBytes) bytes)")
        } else {
            Console.print("memory budget \(formatByteCount(budget)), held in memory \(formatByteCount(data.featureBytes))")
        }
        if let peak = peakResidentBytes() {
            Console.print("process peak resident memory (VmHWM) \(formatByteCount(peak)) (\(peak) bytes)")
        }
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
