import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

final class PNGEncoderTests: XCTestCase {
    /// Deterministic bytes covering 0...255.
    private func pattern(_ count: Int, seed: UInt64) -> [UInt8] {
        var state = seed
        return (0..<count).map { _ in
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return UInt8(state >> 56)
        }
    }

    private func writePNG(_ pixels: [UInt8], width: Int, height: Int, colorType: PNGColorType) throws -> String {
        let directory = try makeScratchDirectory(self)
        addTeardownBlock { try? FileManager.default.removeItem(atPath: directory) }
        let path = directory + "/image.png"
        try PNGEncoder.write(to: path, width: width, height: height, colorType: colorType, pixels: pixels)
        return path
    }

    func testGrayscalePixelsRoundTripThroughAnIndependentDecoder() throws {
        let pixels = pattern(37 * 23, seed: 1)
        let decoded = try decodePNG(try writePNG(pixels, width: 37, height: 23, colorType: .grayscale))
        XCTAssertEqual([decoded.width, decoded.height, decoded.bit_depth, decoded.color_type], [37, 23, 8, 0])
        XCTAssertEqual(decoded.pixels, pixels)
        XCTAssertEqual(decoded.chunks, ["IHDR", "IDAT", "IEND"])
    }

    func testRGBPixelsRoundTripThroughAnIndependentDecoder() throws {
        let pixels = pattern(5 * 9 * 3, seed: 2)
        let decoded = try decodePNG(try writePNG(pixels, width: 5, height: 9, colorType: .rgb))
        XCTAssertEqual([decoded.width, decoded.height, decoded.bit_depth, decoded.color_type], [5, 9, 8, 2])
        XCTAssertEqual(decoded.pixels, pixels)
    }

    func testLargeImageSpreadsOverSeveralIDATChunksAndStillDecodes() throws {
        // Noise does not compress: 700 x 500 bytes deflate to more than one 256 KiB IDAT.
        let pixels = pattern(700 * 500, seed: 3)
        let decoded = try decodePNG(try writePNG(pixels, width: 700, height: 500, colorType: .grayscale))
        XCTAssertGreaterThan(decoded.chunks.filter { $0 == "IDAT" }.count, 1)
        XCTAssertEqual(decoded.pixels, pixels)
    }

    func testPILDecodesTheSamePixels() throws {
        let pixels = pattern(31 * 17 * 3, seed: 4)
        let path = try writePNG(pixels, width: 31, height: 17, colorType: .rgb)
        let script = "import sys; from PIL import Image; im = Image.open(sys.argv[1]); im.load(); "
            + "print(im.size[0], im.size[1], im.mode); print(','.join(map(str, im.tobytes())))"
        let result = try Prerequisites.runPython(["-c", script, path], modules: ["PIL"], for: "PIL decoding")
        assertSucceeded(result)
        let lines = result.standardOutput.split(separator: "\n")
        XCTAssertEqual(lines.first, "31 17 RGB")
        XCTAssertEqual(lines.dropFirst().first?.split(separator: ",").map { UInt8($0)! }, pixels)
    }

    func testDebianFileRecognisesAnEightBitGrayscalePNG() throws {
        let fileTool = try Prerequisites.tool("file", package: "file", for: "file's view of the PNG")
        let path = try writePNG(pattern(12 * 34, seed: 5), width: 12, height: 34, colorType: .grayscale)
        let result = try runProcess(fileTool, ["-b", path])
        XCTAssertTrue(result.standardOutput.hasPrefix("PNG image data, 12 x 34, 8-bit grayscale"), result.standardOutput)
    }

    func testChunksHaveTheLayoutAndCRCsOfTheStandard() throws {
        let png = try PNGEncoder.encode(width: 2, height: 3, colorType: .grayscale, pixels: [0, 255, 1, 2, 3, 4])
        XCTAssertEqual(Array(png.prefix(8)), [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A])
        // IHDR: length 13, width 2, height 3, depth 8, gray, deflate, filter 0, no interlace.
        XCTAssertEqual(Array(png[8..<29]),
                       [0, 0, 0, 13] + Array("IHDR".utf8) + [0, 0, 0, 2, 0, 0, 0, 3, 8, 0, 0, 0, 0])
        // Every PNG ends with the same IEND chunk, whose CRC is the published AE 42 60 82.
        XCTAssertEqual(Array(png.suffix(12)), [0, 0, 0, 0] + Array("IEND".utf8) + [0xAE, 0x42, 0x60, 0x82])
    }

    func testWrongPixelCountIsRefused() {
        assertThrows(try PNGEncoder.encode(width: 4, height: 4, colorType: .rgb, pixels: [UInt8](repeating: 0, count: 16)),
                     containing: ["needs 48 bytes", "got 16"])
        assertThrows(try PNGEncoder.encode(width: 0, height: 4, colorType: .grayscale, pixels: []), containing: ["out of range"])
    }

    func testWriteLeavesNoTemporaryFileAndReplacesTheOldImage() throws {
        let path = try writePNG([1, 2, 3, 4], width: 2, height: 2, colorType: .grayscale)
        try PNGEncoder.write(to: path, width: 1, height: 1, colorType: .grayscale, pixels: [9])
        let directory = (path as NSString).deletingLastPathComponent
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: directory), ["image.png"])
        XCTAssertEqual(try decodePNG(path).pixels, [9])
        assertThrows(try PNGEncoder.write(to: directory + "/missing/x.png", width: 1, height: 1, colorType: .grayscale, pixels: [0]),
                     containing: ["x.png", "does not exist"])
    }
}
