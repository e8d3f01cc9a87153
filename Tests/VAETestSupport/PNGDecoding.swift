import Foundation
import XCTest

/// A PNG as scripts/check_png.py decodes it: chunk CRCs, IHDR/IDAT/IEND order, zlib
/// inflate and scanline unfiltering in Python's zlib, independent of PNGEncoder.
public struct DecodedPNG: Decodable {
    public let width: Int
    public let height: Int
    public let bit_depth: Int
    public let color_type: Int
    public let channels: Int
    public let chunks: [String]
    public let pixels: [UInt8]?

    /// The gray value at (y, x).
    public func gray(_ y: Int, _ x: Int) -> UInt8 { pixels![(y * width + x) * channels] }
}

/// Decodes `path`; without `pixels` only the structure is checked (the pure-Python
/// unfiltering is slow for large images).
public func decodePNG(_ path: String, pixels: Bool = true, file: StaticString = #filePath, line: UInt = #line) throws -> DecodedPNG {
    let result = try Prerequisites.runPython([repositoryRoot + "/scripts/check_png.py", path] + (pixels ? ["--pixels"] : []),
                                             modules: ["zlib"], for: "the independent PNG decoding", file: file, line: line)
    assertSucceeded(result, "check_png.py rejected \(path)", file: file, line: line)
    return try JSONDecoder().decode(DecodedPNG.self, from: Data(result.standardOutput.utf8))
}

/// What a pixel intensity becomes, written out independently of ImageGrid.byte.
public func expectedByte(_ value: Float) -> UInt8 {
    UInt8(min(max((Double(value) * 255).rounded(.toNearestOrAwayFromZero), 0), 255))
}
