/// Appends blocks of input rows to a data file, in the stored order and type:
/// channels moved first (RowLayout), float64 narrowed to float32.
///
/// float64 is numpy's and h5py's default; float32 holds every value a VAE needs,
/// and one that does not fit (beyond 3.4e38) is an error naming its row and index,
/// never a silent infinity. One reorder buffer of a block, reused block after block.
final class RowConverter {
    let writer: DataFileWriter
    let layout: RowLayout
    /// The input's name and shape, for errors.
    let input: String
    let inputShape: [Int]
    private var float32Block: [Float] = []
    private var uint8Block: [UInt8] = []
    private(set) var rowsAppended = 0

    init(writer: DataFileWriter, layout: RowLayout, input: String, inputShape: [Int]) {
        self.writer = writer
        self.layout = layout
        self.input = input
        self.inputShape = inputShape
    }

    /// Input values the block holds past the writer's count: the first row of `values` is row `rowsAppended`.
    func append(uint8 values: UnsafeBufferPointer<UInt8>) throws {
        let rows = values.count / layout.featureCount
        try reorder(values, rows: rows, into: &uint8Block)
        try uint8Block.withUnsafeBufferPointer { try writer.append(uint8Rows: UnsafeBufferPointer(rebasing: $0[0..<values.count])) }
        rowsAppended += rows
    }

    func append(float32 values: UnsafeBufferPointer<Float>) throws {
        if let bad = values.firstIndex(where: { !$0.isFinite }) { throw notFinite(at: bad, value: Double(values[bad])) }
        let rows = values.count / layout.featureCount
        try reorder(values, rows: rows, into: &float32Block)
        try appendFloat32(count: values.count, rows: rows)
    }

    func append(float64 values: UnsafeBufferPointer<Double>) throws {
        if let bad = values.firstIndex(where: { !Float($0).isFinite }) { throw notFinite(at: bad, value: values[bad]) }
        let narrowed = values.map { Float($0) }
        let rows = values.count / layout.featureCount
        try narrowed.withUnsafeBufferPointer { try reorder($0, rows: rows, into: &float32Block) }
        try appendFloat32(count: values.count, rows: rows)
    }

    private func appendFloat32(count: Int, rows: Int) throws {
        try float32Block.withUnsafeBufferPointer { block in
            try writer.append(float32Rows: UnsafeBufferPointer(rebasing: block[0..<count]), sourceRowOffset: rowsAppended) { row, column in
                DataError(file: input, row: row, "value \(column) is not a finite number")
            }
        }
        rowsAppended += rows
    }

    private func reorder<T: Numeric>(_ values: UnsafeBufferPointer<T>, rows: Int, into block: inout [T]) throws {
        precondition(values.count == rows * layout.featureCount, "a block holds whole rows")
        if block.count < values.count { block = [T](repeating: 0, count: values.count) }
        let width = layout.featureCount
        block.withUnsafeMutableBufferPointer { destination in
            for row in 0..<rows {
                layout.store(UnsafeBufferPointer(rebasing: values[(row * width)..<((row + 1) * width)]),
                             into: UnsafeMutableBufferPointer(rebasing: destination[(row * width)..<((row + 1) * width)]))
            }
        }
    }

    private func notFinite(at element: Int, value: Double) -> DataError {
        let row = rowsAppended + element / layout.featureCount
        let index = layout.inputIndex(of: element % layout.featureCount, shape: inputShape)
        let what = value.isFinite ? "\(value) is beyond float32's range (magnitude up to 3.4e38)" : "\(value) is not a finite number"
        return DataError(file: input, row: row, "value \(index) of the row: \(what)")
    }
}
