import Foundation
import XCTest

/// The repository root (this file is Tests/VAEIOTests/PNGTestSupport.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().path

/// A PNG as an independent decoder sees it.
struct DecodedPNG: Decodable {
    let width: Int
    let height: Int
    let bit_depth: Int
    let color_type: Int
    let channels: Int
    let chunks: [String]
    let pixels: [UInt8]?
}

/// Whether python3 can import `module` (tests that need it skip, saying so, when it cannot).
func pythonCanImport(_ module: String) -> Bool {
    (try? runProcess("/usr/bin/env", ["python3", "-c", "import \(module)"]).status) == 0
}

/// Decodes `path` with scripts/check_png.py: chunk CRCs, IHDR/IDAT/IEND order, zlib
/// inflate and scanline unfiltering in Python's zlib, independent of PNGEncoder.
func decodePNGIndependently(_ path: String, file: StaticString = #filePath, line: UInt = #line) throws -> DecodedPNG {
    guard pythonCanImport("zlib") else { throw XCTSkip("python3 is not available: the independent PNG check needs it") }
    let result = try runProcess("/usr/bin/env", ["python3", repositoryRoot + "/scripts/check_png.py", path, "--pixels"])
    XCTAssertEqual(result.status, 0, "check_png.py rejected \(path): \(result.stderr)", file: file, line: line)
    return try JSONDecoder().decode(DecodedPNG.self, from: Data(result.stdout.utf8))
}
