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
    }
}
