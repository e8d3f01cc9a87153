/// One step of an encoder or decoder: a forward over rows and its two backwards.
///
/// Every tensor a layer reads or writes is row-major [rows, width], one row per datapoint
/// (or per (datapoint, draw) in the decoder); its parameters are views of the one flat
/// buffer, and its gradients the same views of the flat gradient buffer. The backward is
/// split in two, as llm.c writes each layer's pair of functions out in full:
///
/// - `backwardData`, dL/d(input) from dL/d(output): row r depends only on row r, so rows
///   may be processed in any grouping.
/// - `backwardWeights`, dW and db for a range of output units (features, or channels) over
///   the rows given: with every unit and every row it is the whole parameter gradient. A
///   data-parallel caller can give each rank a range of units over all rows of a global
///   batch, after sharing the per-row tensors it reads (`weightBackwardReads`).
///
/// `workspace` is scratch memory of at least `workspaceCount(rows:)` floats (im2col
/// columns, a transpose), made once by the caller; nothing allocates per call.
public protocol Layer: Sendable {
    /// Floats per row read by `forward`.
    var inputWidth: Int { get }
    /// Floats per row written by `forward`.
    var outputWidth: Int { get }
    /// Whether the layer may work in place, as elementwise layers do.
    ///
    /// `forward` may then write its output over its input, and `backwardData` its input gradient
    /// over its output gradient; a stack gives both the same buffer.
    var worksInPlace: Bool { get }
    /// Scratch floats the calls need for `rows` rows.
    func workspaceCount(rows: Int) -> Int

    /// output [rows, outputWidth] from input [rows, inputWidth].
    func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                 output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>)

    /// dL/d(input) [rows, inputWidth] from dL/d(output) [rows, outputWidth].
    ///
    /// `output` is what `forward` wrote (an activation's derivative reads it).
    func backwardData(outputGradient: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int,
                      parameters: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
                      workspace: UnsafeMutablePointer<Float>)

    /// The units the weight backward can be split by: output features, or channels.
    ///
    /// 0 for a layer without parameters.
    var outputUnits: Int { get }

    /// The per-row tensors `backwardWeights` reads, nil for a layer without parameters.
    var weightBackwardReads: WeightBackwardReads? { get }

    /// dW and db of the output units in `outputUnits`, overwritten; other units untouched.
    ///
    /// From `rows` rows of the layer's input and of dL/d(output).
    func backwardWeights(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, rows: Int,
                         outputUnits: Range<Int>, gradients: UnsafeMutablePointer<Float>,
                         workspace: UnsafeMutablePointer<Float>)
}

/// What a layer's weight backward reads per row: its input and dL/d(output), in floats.
public struct WeightBackwardReads: Sendable, Equatable {
    public let inputWidth: Int
    public let outputGradientWidth: Int

    public init(inputWidth: Int, outputGradientWidth: Int) {
        self.inputWidth = inputWidth
        self.outputGradientWidth = outputGradientWidth
    }
}

extension Layer {
    public var worksInPlace: Bool { false }
    public func workspaceCount(rows: Int) -> Int { 0 }
}

/// A layer without parameters (activations, reshapes): nothing to do in the weight backward.
public protocol ParameterFreeLayer: Layer {}

extension ParameterFreeLayer {
    public var outputUnits: Int { 0 }
    public var weightBackwardReads: WeightBackwardReads? { nil }
    public func backwardWeights(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, rows: Int,
                                outputUnits: Range<Int>, gradients: UnsafeMutablePointer<Float>,
                                workspace: UnsafeMutablePointer<Float>) {}
}
