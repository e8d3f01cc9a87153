import CZlib
import Foundation
import XCTest

/// A fresh directory for one test, removed when the test ends.
public func makeScratchDirectory(_ testCase: XCTestCase) throws -> String {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("vae-test-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(atPath: path) }
    return path
}

/// Names of the files in a directory, sorted (empty when it does not exist).
public func fileNames(_ directory: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []).sorted()
}

/// Every file under some directories (or single files) with its bytes, by path relative
/// to the first: taken before and after a failing command to prove that it changed nothing.
public typealias FileSnapshot = [String: Data]

/// The files under `paths` now. Directories appear as `<directory>`, symbolic links as
/// `-> TARGET` (not followed), special files by their kind; nothing is opened but regular files.
public func snapshot(_ paths: String...) -> FileSnapshot {
    var files: FileSnapshot = [:]
    for root in paths {
        let prefix = root == paths[0] ? "" : root + ":"
        files[prefix + "."] = entry(root)
        guard let enumerator = FileManager.default.enumerator(atPath: root) else { continue }
        while let relative = enumerator.nextObject() as? String {
            files[prefix + relative] = entry(root + "/" + relative)
        }
    }
    return files
}

private func entry(_ path: String) -> Data {
    var status = stat()
    guard lstat(path, &status) == 0 else { return Data("<missing>".utf8) }
    switch status.st_mode & S_IFMT {
    case S_IFREG: return FileManager.default.contents(atPath: path) ?? Data("<unreadable>".utf8)
    case S_IFDIR: return Data("<directory>".utf8)
    case S_IFLNK: return Data("-> \((try? FileManager.default.destinationOfSymbolicLink(atPath: path)) ?? "?")".utf8)
    default: return Data("<special \(status.st_mode & S_IFMT)>".utf8)
    }
}

/// Asserts that `after` holds the same files as `before`, each byte-identical; a failure
/// names each file that appeared, vanished or changed (with the CRC-32 before and after).
public func assertFilesUnchanged(_ before: FileSnapshot, _ after: FileSnapshot, _ context: @autoclosure () -> String = "",
                                 file: StaticString = #filePath, line: UInt = #line) {
    let appeared = Set(after.keys).subtracting(before.keys).sorted()
    let vanished = Set(before.keys).subtracting(after.keys).sorted()
    let changed = before.keys.filter { after[$0] != nil && after[$0] != before[$0] }.sorted()
        .map { "\($0) (crc32 \(crc32Hex(before[$0]!)) -> \(crc32Hex(after[$0]!)))" }
    if !appeared.isEmpty || !vanished.isEmpty || !changed.isEmpty {
        XCTFail("files changed: appeared \(appeared), vanished \(vanished), changed \(changed)\n\(context())",
                file: file, line: line)
    }
}

/// The zlib CRC-32 of `data`, as 8 hex digits.
public func crc32Hex(_ data: Data) -> String {
    let value = data.withUnsafeBytes { buffer -> UInt in
        CZlib.crc32(0, buffer.bindMemory(to: UInt8.self).baseAddress, uInt(buffer.count))
    }
    return String(format: "%08x", value)
}
