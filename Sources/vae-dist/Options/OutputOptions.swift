import ArgumentParser

/// Options every converter shares.
struct OutputOptions: ParsableArguments {
    /// `--out` as in every other command; `-o` and `--output` are kept as aliases.
    @Option(name: [.customLong("out"), .customShort("o"), .customLong("output")],
            help: "The HDF5 data file to write (replaced atomically if it exists).")
    var output: String

    @Option(help: "gzip level 1...9 for /features, 0 for no compression.")
    var compressionLevel: Int = 4

    var gzipLevel: Int? { compressionLevel == 0 ? nil : compressionLevel }

    func validate() throws {
        try validateOutputFile(output, option: "--out", example: "data/train.h5")
        guard (0...9).contains(compressionLevel) else {
            throw ValidationError("--compression-level must be 0 (none) to 9, got \(compressionLevel)")
        }
    }
}
