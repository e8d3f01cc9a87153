import Foundation
import XCTest
import VAETestSupport
@testable import VAEIO

final class ImageGridTests: XCTestCase {
    func testGridSizeIsTilesPlusSeparatorsWithoutOuterBorder() {
        let grid = ImageGrid(tileHeight: 5, tileWidth: 7, rows: 3, columns: 4, separator: 2)
        XCTAssertEqual(grid.pixelWidth, 4 * 7 + 3 * 2)
        XCTAssertEqual(grid.pixelHeight, 3 * 5 + 2 * 2)
        XCTAssertEqual(grid.pixels.count, grid.pixelWidth * grid.pixelHeight)
    }

    func testBandsAreFurtherApartThanRowsWithinABand() {
        let grid = ImageGrid(tileHeight: 4, tileWidth: 4, rows: 6, columns: 2, separator: 2, rowsPerBand: 2, bandSeparator: 8)
        // rows 0-1 | 2-3 | 4-5: gaps 2, 8, 2, 8, 2.
        XCTAssertEqual(grid.pixelHeight, 6 * 4 + 3 * 2 + 2 * 8)
        XCTAssertEqual(grid.origin(row: 2, column: 1).y, 2 * 4 + 2 + 8)
        XCTAssertEqual(grid.origin(row: 3, column: 1).y, 3 * 4 + 2 + 8 + 2)
        XCTAssertEqual(grid.origin(row: 3, column: 1).x, 4 + 2)
    }

    func testTilesLandInTheirCellsAndSeparatorsKeepTheBackground() throws {
        var grid = ImageGrid(tileHeight: 2, tileWidth: 3, rows: 2, columns: 2, separator: 1, background: 0.5)
        grid.place([0, 0.2, 0.4, 0.6, 0.8, 1], row: 1, column: 1)
        let width = grid.pixelWidth  // 7
        XCTAssertEqual([grid.pixelWidth, grid.pixelHeight], [7, 5])
        // Cell (1, 1) starts at y = 3, x = 4.
        XCTAssertEqual(Array(grid.pixels[(3 * width + 4)..<(3 * width + 7)]), [0, 51, 102])
        XCTAssertEqual(Array(grid.pixels[(4 * width + 4)..<(4 * width + 7)]), [153, 204, 255])
        XCTAssertEqual(grid.pixels[2 * width + 5], 128, "the separator row keeps the background")
        XCTAssertEqual(grid.pixels[0], 128, "an empty cell keeps the background")
        let decoded = try decodePNGIndependentlyOf(grid)
        XCTAssertEqual(decoded.pixels, grid.pixels)
    }

    func testIntensitiesRoundToNearestByteAndClamp() {
        XCTAssertEqual(ImageGrid.byte(0), 0)
        XCTAssertEqual(ImageGrid.byte(1), 255)
        XCTAssertEqual(ImageGrid.byte(0.5), 128, "127.5 rounds half away from zero")
        XCTAssertEqual(ImageGrid.byte(1.0 / 255), 1)
        XCTAssertEqual(ImageGrid.byte(0.4 / 255), 0)
        XCTAssertEqual(ImageGrid.byte(254.6 / 255), 255)
        XCTAssertEqual(ImageGrid.byte(-0.3), 0)
        XCTAssertEqual(ImageGrid.byte(7), 255)
        XCTAssertEqual(ImageGrid.byte(.infinity), 255)
        XCTAssertEqual(ImageGrid.byte(.nan), 0)
    }

    func testRGBTilesKeepTheirChannelsInterleaved() throws {
        var grid = ImageGrid(tileHeight: 1, tileWidth: 2, channels: 3, rows: 1, columns: 2, separator: 1, background: 0)
        grid.place([1, 0, 0, 0, 1, 0], row: 0, column: 1)
        XCTAssertEqual(grid.colorType, .rgb)
        XCTAssertEqual(grid.pixels, [0, 0, 0, 0, 0, 0, 0, 0, 0, 255, 0, 0, 0, 255, 0])
        let decoded = try decodePNGIndependentlyOf(grid)
        XCTAssertEqual([decoded.width, decoded.height, decoded.color_type], [5, 1, 2])
        XCTAssertEqual(decoded.pixels, grid.pixels)
    }

    private func decodePNGIndependentlyOf(_ grid: ImageGrid) throws -> DecodedPNG {
        let directory = try makeScratchDirectory(self)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        try grid.writePNG(to: directory + "/grid.png")
        return try decodePNG(directory + "/grid.png")
    }
}
