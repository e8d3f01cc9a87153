/// One named tensor inside a flat buffer, row-major, starting at `offset` floats.
///
/// `shape` is PyTorch's: [out, in] for a Dense weight, [out, in, k, k] for a Conv2d's,
/// [in, out, k, k] for a ConvTranspose2d's, [n] for a bias.
public struct TensorSpec: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public var count: Int { shape.reduce(1, *) }
}

/// The names, shapes and offsets of every parameter in the one flat buffer.
///
/// Gradients and optimizer moments use the same layout, so the allreduce, the optimizer, the norm and the
/// checkpoint each touch one contiguous buffer.
public struct ParameterLayout: Sendable, Equatable {
    public private(set) var tensors: [TensorSpec] = []
    public private(set) var totalCount = 0

    public init() {}

    /// Appends a tensor and returns its offset.
    @discardableResult
    public mutating func append(_ name: String, shape: [Int]) -> Int {
        precondition(!tensors.contains { $0.name == name }, "duplicate tensor \(name)")
        let spec = TensorSpec(name: name, shape: shape, offset: totalCount)
        tensors.append(spec)
        totalCount += spec.count
        return spec.offset
    }

    public func tensor(named name: String) -> TensorSpec? { tensors.first { $0.name == name } }

    public func index(of name: String) -> Int? { tensors.firstIndex { $0.name == name } }
}
