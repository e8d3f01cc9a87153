/// Where one training step's per-row tensors live: every rank's rows of the global batch.
///
/// The weight gradient of a dense layer is dY^T X summed over all rows of the global batch,
/// so the rank that owns a range of its units needs X and dY of every row. Each rank
/// computes its rows' tensors straight into these regions, at its rows' positions in the
/// global batch; the exchange then shares them (one node's shared memory, or an
/// allgather), and every rank reads the whole. One region per tensor, [rows, width]
/// row-major; a region compacted to a ReLU layer's active units stores its rows with that
/// step's active count as their width (the same on every rank).
public struct StepRows: Sendable {
    /// One tensor's rows: `rowsPerDatapoint` rows per row of the global batch (the decoder's
    /// draws), at most `width` floats each.
    public struct Region: Sendable, Equatable {
        public let name: String
        /// First float of the region in the block.
        public let offset: Int
        public let rowsPerDatapoint: Int
        public let width: Int
        /// The index of the encoder layer whose active units compact it, nil when dense.
        public let activeUnitsOfLayer: Int?
    }

    public let regions: [Region]
    /// Floats the block holds for a global batch of `globalBatch` rows.
    public let floatCount: Int
    public let globalBatch: Int

    init(globalBatch: Int, tensors: [(name: String, rowsPerDatapoint: Int, width: Int, activeUnitsOfLayer: Int?)]) {
        var regions: [Region] = []
        var offset = 0
        for tensor in tensors {
            regions.append(Region(name: tensor.name, offset: offset, rowsPerDatapoint: tensor.rowsPerDatapoint,
                                  width: tensor.width, activeUnitsOfLayer: tensor.activeUnitsOfLayer))
            // Regions start on 16 floats (64 bytes): no two share a cache line.
            offset += (globalBatch * tensor.rowsPerDatapoint * tensor.width + 15) / 16 * 16
        }
        self.regions = regions
        self.globalBatch = globalBatch
        floatCount = offset
    }

    public func region(named name: String) -> Region {
        guard let region = regions.first(where: { $0.name == name }) else { preconditionFailure("no region \(name)") }
        return region
    }
}
