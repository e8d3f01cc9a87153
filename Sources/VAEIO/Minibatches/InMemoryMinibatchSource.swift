/// Holds all N rows in memory as stored (uint8 stays uint8: 4x less than
/// Float32), validated once at load; each step scatters its rows, scaled.
public final class InMemoryMinibatchSource: MinibatchSource {
    public let dataFile: DataFile
    public var rowCount: Int { dataFile.rowCount }
    public var featureCount: Int { dataFile.featureCount }
    /// Bytes held for the data: the stored feature array.
    public var residentBytes: Int { dataFile.featureBytes }

    private enum Storage {
        case uint8([UInt8])    // [N, D]
        case float32([Float])  // [N, D]
    }
    private let storage: Storage
    private let decoder: FeatureDecoder
    private var plan: [[Int]] = []
    private var nextStep = 0

    public init(dataFile: DataFile, bernoulli: Bool) throws {
        self.dataFile = dataFile
        let decoder = FeatureDecoder(dataFile: dataFile, requireUnitInterval: bernoulli)
        self.decoder = decoder
        let file = try HDF5File.open(dataFile.path)
        let features = try file.root().openDataset(DataFile.featuresPath)
        switch dataFile.featureType {
        case .uint8:
            let values = try features.read(as: UInt8.self)
            try values.withUnsafeBufferPointer { try decoder.validate(uint8: $0, rowIndex: { $0 }) }
            storage = .uint8(values)
        case .float32:
            let values = try features.read(as: Float.self)
            try values.withUnsafeBufferPointer { try decoder.validate(float32: $0, rowIndex: { $0 }) }
            storage = .float32(values)
        }
        try file.close()
    }

    public func beginEpoch(plan: [[Int]]) throws {
        try validatePlan(plan, file: dataFile.path)
        self.plan = plan
        nextStep = 0
    }

    public func nextBatch(into destination: UnsafeMutablePointer<Float>) throws -> Int {
        guard nextStep < plan.count else {
            throw DataError(file: dataFile.path, "nextBatch called after the last of \(plan.count) steps of this epoch's plan")
        }
        let rows = plan[nextStep]
        nextStep += 1
        switch storage {
        case .uint8(let values):
            values.withUnsafeBufferPointer { source in
                decoder.copyRows(uint8: source.baseAddress!, rows: rows, to: destination)
            }
        case .float32(let values):
            values.withUnsafeBufferPointer { source in
                for (position, row) in rows.enumerated() {
                    decoder.copyRow(float32: source.baseAddress!, sourceRow: row, to: destination, destinationRow: position)
                }
            }
        }
        return rows.count
    }
}
