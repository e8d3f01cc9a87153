import ArgumentParser
import Foundation
import VAEIO
import VAEParallel

/// Options every converter shares.
struct OutputOptions: ParsableArguments {
    /// `--out` as in every other command; `-o` and `--output` are kept as aliases.
    @Option(name: [.customLong("out"), .customShort("o"), .customLong("output")],
            help: "The HDF5 data file to write (replaced atomically if it exists).")
    var output: String

    @Option(help: "gzip level 1...9 for /features, 0 for no compression.")
    var compressionLevel: Int = 4

    @Option(help: "Write shards of this many rows (rounded up to whole chunks) instead of one file: OUT-00000.h5, OUT-00001.h5, ... (train --data 'OUT-*.h5' reads them as one data set).")
    var shardRows: Int?

    @OptionGroup(title: "Progress")
    var progress: ProgressOptions

    var gzipLevel: Int? { compressionLevel == 0 ? nil : compressionLevel }

    /// Runs `convert` with a progress reporter fed by its `PrepareProgress` calls
    /// (`unit`: what done and total count, "rows" or, for CSV, "bytes").
    func withProgress<T>(_ title: String, unit: String = "rows", _ convert: (@escaping PrepareProgress) throws -> T) rethrows -> T {
        var reporter: ProgressReporter?
        let style = progress.style, start = Date()
        defer { reporter?.finish() }
        return try convert { done, total, rows in
            if reporter == nil {
                // Made at the first report, which brings the total; timed from the start.
                reporter = ProgressReporter(style: style, title: title, total: total, unit: unit, rateUnit: "rows/s", now: start)
            }
            reporter?.update(done: done, items: rows)
        }
    }

    func validate() throws {
        try validateOutputFile(output, option: "--out", example: "data/train.h5")
        guard (0...9).contains(compressionLevel) else {
            throw ValidationError("--compression-level must be 0 (none) to 9, got \(compressionLevel)")
        }
        if let shardRows, shardRows < 1 { throw ValidationError("--shard-rows must be at least 1, got \(shardRows)") }
    }

    /// Runs a converter (with progress, as `withProgress`) writing to the path it is given:
    /// `--out` itself, or, with `--shard-rows`, a hidden file in the output's directory that
    /// is then split into shards.
    func prepare(_ title: String, unit: String = "rows",
                 _ convert: (_ output: String, _ onProgress: @escaping PrepareProgress) throws -> PrepareSummary) throws {
        guard let shardRows else {
            Console.print("prepared \(try withProgress(title, unit: unit) { try convert(output, $0) })")
            return
        }
        let directory = (output as NSString).deletingLastPathComponent
        var isDirectory: ObjCBool = false
        guard directory.isEmpty || (FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) && isDirectory.boolValue) else {
            throw DataError(file: output, "output directory \(directory) does not exist")
        }
        let whole = (directory.isEmpty ? "" : directory + "/")
            + ".\((output as NSString).lastPathComponent).tmp-shards-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? FileManager.default.removeItem(atPath: whole) }
        _ = try withProgress(title, unit: unit) { try convert(whole, $0) }
        for summary in try DataPreparation.writeShards(of: whole, output: output, shardRows: shardRows, gzipLevel: gzipLevel) {
            Console.print("prepared \(summary)")
        }
    }
}
