/// db[c] = the sum of dY[pixel, c] over `pixels` rows (or channels-last pixels), c in `units`.
///
/// Pixel by pixel, so a channel's sum has one order whatever the range of units.
func biasGradient(_ outputGradient: UnsafePointer<Float>, pixels: Int, channels: Int, units: Range<Int>,
                  into bias: UnsafeMutablePointer<Float>) {
    for unit in units { bias[unit] = 0 }
    for pixel in 0..<pixels {
        let gradientRow = outputGradient + pixel * channels
        for unit in units { bias[unit] += gradientRow[unit] }
    }
}
