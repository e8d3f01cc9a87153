/// Equal-sized images (tiles) laid out in a grid, as one 8-bit image.
///
/// Tile values are intensities in [0, 1], row-major [tileHeight, tileWidth,
/// channels]; each becomes the byte round(255 v), clamped to 0...255 (NaN is 0).
/// Tiles are `separator` pixels apart, and bands of `rowsPerBand` rows are
/// `bandSeparator` pixels apart (reconstructions use bands of input row over
/// reconstruction row). There is no outer border: the image is
/// `columns * tileWidth + (columns - 1) * separator` pixels wide, and as tall
/// as the rows and the gaps between them make it.
public struct ImageGrid: Sendable {
    public let tileHeight: Int
    public let tileWidth: Int
    public let channels: Int
    public let rows: Int
    public let columns: Int
    public let separator: Int
    public let rowsPerBand: Int
    public let bandSeparator: Int
    /// Row-major [pixelHeight, pixelWidth, channels].
    public private(set) var pixels: [UInt8]

    /// - Parameter background: intensity of the separators and of cells no tile is placed in.
    public init(tileHeight: Int, tileWidth: Int, channels: Int = 1, rows: Int, columns: Int,
                separator: Int = 2, rowsPerBand: Int? = nil, bandSeparator: Int? = nil, background: Float = 0.5) {
        precondition(tileHeight >= 1 && tileWidth >= 1 && rows >= 1 && columns >= 1, "an image grid needs at least one pixel and one cell")
        precondition(channels == 1 || channels == 3, "tiles are grayscale (1 channel) or RGB (3 channels)")
        precondition(separator >= 0 && (bandSeparator ?? 0) >= 0, "separators cannot be negative")
        self.tileHeight = tileHeight
        self.tileWidth = tileWidth
        self.channels = channels
        self.rows = rows
        self.columns = columns
        self.separator = separator
        self.rowsPerBand = max(1, rowsPerBand ?? rows)
        self.bandSeparator = bandSeparator ?? separator
        pixels = []
        pixels = [UInt8](repeating: Self.byte(background), count: pixelWidth * pixelHeight * channels)
    }

    public var pixelWidth: Int { columns * tileWidth + (columns - 1) * separator }
    public var pixelHeight: Int { rows * tileHeight + (0..<(rows - 1)).reduce(0) { $0 + gap(afterRow: $1) } }
    public var colorType: PNGColorType { channels == 1 ? .grayscale : .rgb }

    /// Pixels between row `row` and row `row + 1`.
    func gap(afterRow row: Int) -> Int { (row + 1) % rowsPerBand == 0 ? bandSeparator : separator }

    /// The pixel offsets of cell (row, column)'s top-left corner.
    public func origin(row: Int, column: Int) -> (y: Int, x: Int) {
        let y = row * tileHeight + (0..<row).reduce(0) { $0 + gap(afterRow: $1) }
        return (y, column * (tileWidth + separator))
    }

    /// Writes one tile, `tileHeight * tileWidth * channels` intensities, into cell (row, column).
    public mutating func place(_ tile: UnsafeBufferPointer<Float>, row: Int, column: Int) {
        precondition(row >= 0 && row < rows && column >= 0 && column < columns, "cell (\(row), \(column)) is outside the \(rows)x\(columns) grid")
        precondition(tile.count == tileHeight * tileWidth * channels, "a tile has \(tileHeight * tileWidth * channels) values, got \(tile.count)")
        let (top, left) = origin(row: row, column: column)
        let rowValues = tileWidth * channels
        let width = pixelWidth
        for y in 0..<tileHeight {
            let start = ((top + y) * width + left) * channels
            for i in 0..<rowValues { pixels[start + i] = Self.byte(tile[y * rowValues + i]) }
        }
    }

    public mutating func place(_ tile: [Float], row: Int, column: Int) {
        tile.withUnsafeBufferPointer { place($0, row: row, column: column) }
    }

    /// The PNG file of the grid, each pixel drawn as `scale` x `scale` pixels (a 28x28
    /// tile is small on a modern screen; nearest neighbour keeps the pixels honest).
    public func png(scale: Int = 1) throws -> [UInt8] {
        precondition(scale >= 1, "a scale of at least 1")
        guard scale > 1 else { return try PNGEncoder.encode(width: pixelWidth, height: pixelHeight, colorType: colorType, pixels: pixels) }
        let width = pixelWidth * scale
        var enlarged = [UInt8](repeating: 0, count: width * pixelHeight * scale * channels)
        for y in 0..<(pixelHeight * scale) {
            for x in 0..<width {
                let source = ((y / scale) * pixelWidth + x / scale) * channels
                for channel in 0..<channels { enlarged[(y * width + x) * channels + channel] = pixels[source + channel] }
            }
        }
        return try PNGEncoder.encode(width: width, height: pixelHeight * scale, colorType: colorType, pixels: enlarged)
    }

    /// Writes the grid as a PNG, atomically.
    public func writePNG(to path: String, scale: Int = 1) throws {
        try writeFileAtomically(to: path, bytes: try png(scale: scale))
    }

    /// Intensity in [0, 1] to a byte: round to nearest, clamp; NaN becomes 0.
    @inline(__always)
    public static func byte(_ value: Float) -> UInt8 {
        guard value > 0 else { return 0 }
        guard value < 1 else { return 255 }
        return UInt8((value * 255).rounded())
    }
}
