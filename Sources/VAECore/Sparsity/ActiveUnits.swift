import CVAEKernels

/// The units of a ReLU layer that are active on the current batch.
///
/// Unit j is active when some row's output is not 0 (positive, or NaN). An inactive unit
/// outputs 0 on every row, so ReLU's derivative (0 at 0) zeroes its gradient on every
/// row: its row of dW and its bias gradient are exactly 0, and the next layer's sums over
/// it add only zeros. Layers therefore work on compact [rows, count] activations and skip
/// those units' FLOPs (docs/performance.md).
///
/// The list also takes the first few inactive units (exact: their columns are 0)
/// to make its count a multiple of `granule`: OpenBLAS's small-matrix kernel
/// (AVX-512, taken when m n k <= 100^3) mallocs on every call whose column-major
/// M leaves 1-8 rows past a multiple of 16, which the head's input gradient
/// [rows, active] would hit on one step in ten, breaking "no allocation per step".
///
/// The index list is made once per layer; `find` allocates nothing.
public final class ActiveUnits {
    /// The layer's width: the most units that can be active.
    public let capacity: Int
    /// The count is a multiple of this, or the whole layer.
    public static let granule = 16
    /// The active units, ascending; the first `count` entries are valid.
    public let indices: UnsafeMutablePointer<Int32>
    public private(set) var count = 0
    private let flags: UnsafeMutablePointer<Int32>

    public init(capacity: Int) {
        precondition(capacity >= 0 && capacity <= Int(Int32.max), "unit count out of range")
        self.capacity = capacity
        indices = .allocate(capacity: max(capacity, 1))
        indices.initialize(repeating: 0, count: max(capacity, 1))
        flags = .allocate(capacity: max(capacity, 1))
        flags.initialize(repeating: 0, count: max(capacity, 1))
    }

    deinit {
        indices.deallocate()
        flags.deallocate()
    }

    /// Finds the active units of `output` [rows, capacity], a ReLU layer's output.
    public func find(in output: UnsafePointer<Float>, rows: Int) {
        count = vae_nonzero_columns(output, rows, capacity, Self.granule, flags, indices)
    }

    /// Whether each unit is nonzero on some row of `output` [rows, capacity], in `flags`.
    ///
    /// One rank's half of a decision over a global batch: the ranks combine their flags
    /// (OR) and each `adopt`s the result, so every rank compacts its rows by the units
    /// one process would find on all of them.
    public func findFlags(in output: UnsafePointer<Float>, rows: Int) {
        vae_column_flags(output, rows, capacity, flags)
    }

    /// [capacity] flags: this rank's from `findFlags`, to be combined by the caller.
    public var localFlags: UnsafeMutablePointer<Int32> { flags }

    /// The active units from `combined` [capacity] flags (nonzero: active), padded as `find` pads.
    public func adopt(flags combined: UnsafePointer<Int32>) {
        if combined != UnsafePointer(flags) { flags.update(from: combined, count: capacity) }
        count = vae_indices_of_flags(flags, capacity, Self.granule, indices)
    }

    /// compact [rows, count] = the active columns of `full` [rows, capacity].
    public func gatherColumns(of full: UnsafePointer<Float>, rows: Int, into compact: UnsafeMutablePointer<Float>) {
        vae_gather_block(full, capacity, nil, rows, indices, count, compact)
    }
}
