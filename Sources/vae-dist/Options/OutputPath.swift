import ArgumentParser

/// Refuses an output option that names no file (empty, or a path ending in "/"), naming
/// the option: an empty `--out` otherwise surfaced as "cannot rename ./..tmp-... onto it".
func validateOutputFile(_ path: String?, option: String, example: String) throws {
    guard let path else { return }
    guard !path.isEmpty, !path.hasSuffix("/") else {
        throw ValidationError("\(option) must name a file, e.g. \(example), got '\(path)'")
    }
}

/// The same for an output directory (`train --out`): it must not be empty.
func validateOutputDirectory(_ path: String?, option: String) throws {
    guard let path, path.isEmpty else { return }
    throw ValidationError("\(option) must name a directory, e.g. runs/first, got ''")
}
