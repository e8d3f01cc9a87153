import Foundation

extension ShardSet {
    /// The data files `specification` names, in the set's order:
    /// - a glob (`*`, `?` or `[` in it): the matching paths, sorted byte by byte (write
    ///   shard numbers zero-padded, as `prepare --shard-rows` does, and that is their order);
    /// - a list file (ending in `.txt` or `.list`): one path per line, in the file's order;
    ///   relative paths are relative to the list file's directory; blank lines and lines
    ///   starting with `#` are skipped;
    /// - anything else: that one file.
    public static func paths(_ specification: String) throws -> [String] {
        if specification.contains(where: { "*?[".contains($0) }) { return try globbed(specification) }
        let lowered = specification.lowercased()
        if lowered.hasSuffix(".txt") || lowered.hasSuffix(".list") { return try listed(specification) }
        return [specification]
    }

    private static func globbed(_ pattern: String) throws -> [String] {
        var matches = glob_t()
        defer { globfree(&matches) }
        let status = glob(pattern, 0, nil, &matches)
        guard status == 0 else {
            if status == GLOB_NOMATCH { throw DataError(file: pattern, "no file matches this pattern") }
            throw DataError(file: pattern, "cannot expand this pattern (glob status \(status))")
        }
        let paths = (0..<Int(matches.gl_pathc)).compactMap { matches.gl_pathv[$0].map { String(cString: $0) } }
        // Byte order, not the locale's collation: the same order on every node.
        return paths.sorted { Array($0.utf8).lexicographicallyPrecedes(Array($1.utf8)) }
    }

    private static func listed(_ listPath: String) throws -> [String] {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: listPath, isDirectory: &isDirectory) else {
            throw DataError(file: listPath, "no such file")
        }
        guard !isDirectory.boolValue else { throw DataError(file: listPath, "is a directory, expected a list of data files") }
        // A FIFO would block the read forever.
        guard (try? FileManager.default.attributesOfItem(atPath: listPath)[.type] as? FileAttributeType) == .typeRegular else {
            throw DataError(file: listPath, "is not a regular file; expected a list of data files, one per line")
        }
        guard let text = try? String(contentsOfFile: listPath, encoding: .utf8) else {
            throw DataError(file: listPath, "cannot be read as UTF-8 text; expected a list of data files, one per line")
        }
        let directory = (listPath as NSString).deletingLastPathComponent
        let paths = text.split(whereSeparator: \.isNewline)
            .map { $0.trimmingCharacters(in: .whitespaces) }
            .filter { !$0.isEmpty && !$0.hasPrefix("#") }
            .map { $0.hasPrefix("/") || directory.isEmpty ? $0 : (directory as NSString).appendingPathComponent($0) }
        guard !paths.isEmpty else {
            throw DataError(file: listPath, "lists no data files; expected one path per line")
        }
        return paths
    }
}
