import CVAEKernels

/// Turns stored feature rows into the Float32 the model sees, and checks them.
/// Data scaling (docs/algorithm.md): uint8 x -> Float(Double(x) * scale);
/// float32 is used as it is.
struct FeatureDecoder: Sendable {
    let featureCount: Int
    let featureType: FeatureType
    /// The data file's scale for uint8 features.
    let scale: Double
    /// Float(Double(byte) * scale) for every byte value, for validation and its messages
    /// (copyRow computes the same formula, vectorised).
    let byteTable: [Float]
    /// Bernoulli likelihood: every value must be within [0, 1] after scaling.
    let requireUnitInterval: Bool
    /// Byte values that scale outside [0, 1]; empty when every byte is fine.
    private let badBytes: [Bool]

    init(dataFile: DataFile, requireUnitInterval: Bool) {
        self.init(featureCount: dataFile.featureCount, featureType: dataFile.featureType, scale: dataFile.scale,
                  requireUnitInterval: requireUnitInterval)
    }

    init(featureCount: Int, featureType: FeatureType, scale: Double, requireUnitInterval: Bool) {
        self.featureCount = featureCount
        self.featureType = featureType
        self.scale = scale
        let table = (0..<256).map { Float(Double($0) * scale) }
        byteTable = table
        self.requireUnitInterval = requireUnitInterval
        badBytes = table.map { requireUnitInterval && !($0 >= 0 && $0 <= 1) }
    }

    /// Checks stored rows of `file`; `rowIndex(i)` is the file's row of the i-th row in `values`.
    func validate(uint8 values: UnsafeBufferPointer<UInt8>, file: String, rowIndex: (Int) -> Int) throws {
        guard badBytes.contains(true) else { return }
        for (position, byte) in values.enumerated() where badBytes[Int(byte)] {
            let row = rowIndex(position / featureCount)
            throw DataError(file: file, object: DataFile.featuresPath, row: row,
                            "column \(position % featureCount) is \(byteTable[Int(byte)]) after scaling (byte \(byte)); "
                            + "a Bernoulli likelihood needs every value within [0, 1] (use a Gaussian likelihood, or fix the scale)")
        }
    }

    func validate(float32 values: UnsafeBufferPointer<Float>, file: String, rowIndex: (Int) -> Int) throws {
        for (position, value) in values.enumerated() {
            if !value.isFinite {
                throw DataError(file: file, object: DataFile.featuresPath, row: rowIndex(position / featureCount),
                                "column \(position % featureCount) is \(value); float features must be finite (no NaN or Inf)")
            }
            if requireUnitInterval && !(value >= 0 && value <= 1) {
                throw DataError(file: file, object: DataFile.featuresPath, row: rowIndex(position / featureCount),
                                "column \(position % featureCount) is \(value); a Bernoulli likelihood needs every value "
                                + "within [0, 1] (use a Gaussian likelihood, or rescale the data)")
            }
        }
    }

    /// Copies stored row `sourceRow` of `source` to row `destinationRow` of `destination`, scaled.
    @inline(__always)
    func copyRow(uint8 source: UnsafePointer<UInt8>, sourceRow: Int, to destination: UnsafeMutablePointer<Float>, destinationRow: Int) {
        // The byte table's formula, computed in a vectorised C loop: a lookup per byte is scalar.
        vae_scale_bytes(source + sourceRow * featureCount, destination + destinationRow * featureCount,
                        featureCount, scale)
    }

    /// Copies stored rows `rows` of `source` to the first rows of `destination`, scaled;
    /// the same values as `copyRow` for each, with the next rows fetched from memory ahead.
    func copyRows(uint8 source: UnsafePointer<UInt8>, rows: [Int], to destination: UnsafeMutablePointer<Float>) {
        rows.withUnsafeBufferPointer { indices in
            indices.withMemoryRebound(to: Int64.self) { indices in
                vae_scale_byte_rows(source, featureCount, indices.baseAddress, indices.count, scale, destination)
            }
        }
    }

    @inline(__always)
    func copyRow(float32 source: UnsafePointer<Float>, sourceRow: Int, to destination: UnsafeMutablePointer<Float>, destinationRow: Int) {
        (destination + destinationRow * featureCount).update(from: source + sourceRow * featureCount, count: featureCount)
    }
}
