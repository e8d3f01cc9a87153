/// A 64-byte aligned block of Float32.
///
/// Owned and zero-initialised, or a view into memory someone else owns (a node's
/// shared-memory window). Parameters, gradients, optimizer moments and layer activations
/// each live in one of these, allocated once per run: hot loops only read and write
/// through `pointer`, never allocate.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>
    /// Keeps a view's memory alive; nil when this buffer owns its memory.
    private let owner: AnyObject?

    public init(count: Int) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(
            byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        pointer.initialize(repeating: 0, count: max(count, 1))
        owner = nil
    }

    /// A view of `count` floats at `pointer`, valid while `owner` lives; not zeroed.
    public init(viewing pointer: UnsafeMutablePointer<Float>, count: Int, owner: AnyObject) {
        precondition(count >= 0, "FloatBuffer count must be non-negative")
        precondition(Int(bitPattern: pointer) % 64 == 0, "a FloatBuffer view must be 64-byte aligned")
        self.count = count
        self.pointer = pointer
        self.owner = owner
    }

    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { pointer.update(from: $0.baseAddress!, count: values.count) }
    }

    deinit { if owner == nil { pointer.deallocate() } }

    public var buffer: UnsafeMutableBufferPointer<Float> {
        UnsafeMutableBufferPointer(start: pointer, count: count)
    }

    public subscript(index: Int) -> Float {
        get { pointer[index] }
        set { pointer[index] = newValue }
    }

    public func zero() { pointer.update(repeating: 0, count: count) }

    public func copy(from other: FloatBuffer) {
        precondition(other.count == count, "FloatBuffer copy between different sizes")
        pointer.update(from: other.pointer, count: count)
    }

    public var array: [Float] { Array(buffer) }
}
