import Foundation

// Shapes the trainer and the CLI use, built on the protocol's few collectives so that
// every implementation gets them with the same semantics.
extension Communicator {
    /// The reduction of one value over all ranks.
    public func allreduce<Element: CollectiveScalar>(
        _ value: Element, _ reduction: Reduction
    ) throws -> Element {
        var value = value
        try withUnsafeMutablePointer(to: &value) { pointer in
            try allreduce(UnsafeMutableBufferPointer(start: pointer, count: 1), reduction)
        }
        return value
    }

    /// In-place sum over all ranks: the gradient allreduce.
    public func allreduceSum<Element: CollectiveScalar>(
        _ buffer: UnsafeMutableBufferPointer<Element>
    ) throws {
        try allreduce(buffer, .sum)
    }

    /// Copies `root`'s bytes into `bytes` on every other rank; sizes must match.
    public func broadcast(_ bytes: UnsafeMutableRawBufferPointer, from root: Int) throws {
        try broadcast(bytes.bindMemory(to: UInt8.self), from: root)
    }

    /// Returns `root`'s bytes on every rank.
    ///
    /// Only the root's argument is read, so the other ranks need not know the length: it
    /// is broadcast first.
    public func broadcast(_ bytes: [UInt8], from root: Int) throws -> [UInt8] {
        let count = try broadcastCount(bytes.count, from: root)
        var received = rank == root ? bytes : [UInt8](repeating: 0, count: count)
        try received.withUnsafeMutableBufferPointer { try broadcast($0, from: root) }
        return received
    }

    /// Returns `root`'s data on every rank; the other ranks' argument is ignored.
    public func broadcast(_ data: Data, from root: Int) throws -> Data {
        Data(try broadcast([UInt8](data), from: root))
    }

    /// Returns `root`'s string on every rank; the other ranks' argument is ignored.
    public func broadcast(_ string: String, from root: Int) throws -> String {
        String(decoding: try broadcast(Array(string.utf8), from: root), as: UTF8.self)
    }

    /// Gathers rows of `width` floats on `root`, rank 0's rows first; nil on other ranks.
    ///
    /// Row-major, `local.count` a multiple of `width`, the same `width` on every rank:
    /// embeddings computed on shards become one [total rows, width] matrix.
    public func gatherRows(
        _ local: UnsafeBufferPointer<Float>, width: Int, to root: Int
    ) throws -> GatheredRows? {
        precondition(width > 0 && local.count % width == 0,
                     "gatherRows: \(local.count) floats are not whole rows of \(width)")
        guard let gathered = try gatherv(local, to: root) else { return nil }
        return GatheredRows(values: gathered.values, width: width,
                            rowsPerRank: gathered.counts.map { $0 / width })
    }

    private func broadcastCount(_ count: Int, from root: Int) throws -> Int {
        var count = Int64(count)
        try withUnsafeMutablePointer(to: &count) { pointer in
            try broadcast(UnsafeMutableBufferPointer(start: pointer, count: 1), from: root)
        }
        return Int(count)
    }
}
