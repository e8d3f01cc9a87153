/// Whether a GEMM engine computes each row of a layer's products with the same bits
/// however the rows are split into calls: the property that lets N ranks reproduce one
/// rank bit for bit (each rank multiplies only its own rows).
///
/// For a dense layer W [out, in] and R rows, three products must hold up:
/// (a) the forward Y = X W^T (+ C) and the input gradient dX = dY W, per row: rows [i, i + r)
///     of a call on R rows equal a call on just those r rows, and so does the input
///     gradient `NarrowInputDense` computes through its transpose (W^T dY^T, rows as columns);
/// (b) the weight gradient dW = dY^T X, per unit: units [u, u + s) of the full product
///     equal a call for just those s units.
/// A kernel can fail this by switching algorithms with the size of a call (OpenBLAS's
/// small-matrix path at m n k <= 100^3; oneDNN's GEMV for one row and its float32 kernel
/// choice; docs/performance.md, "oneDNN"). Made-up data: the order of a sum depends only
/// on the shapes, the kernel and the threads. Made once per run at start-up (like
/// `DormantUnits.compactProductMatchesDense`); it allocates.
public enum GEMMRowInvariance {
    /// The first product, layer and row or unit count found to break the property.
    public struct Failure: Equatable, Sendable, CustomStringConvertible {
        public var product: String
        public var inFeatures: Int, outFeatures: Int
        public var count: Int

        public var description: String {
            "\(product) of a \(inFeatures) -> \(outFeatures) layer differs for \(count) "
                + (product == "dW" ? "unit" : "row") + (count == 1 ? "" : "s")
        }
    }

    /// A dense layer's shape and how the model computes its input gradient.
    public struct Layer: Hashable, Sendable {
        public enum InputGradient: Hashable, Sendable {
            /// The image-fed first layer: the data needs none.
            case none
            case direct
            /// `NarrowInputDense` (the decoder's latent-fed layer).
            case throughTranspose
        }
        public var inFeatures: Int, outFeatures: Int
        public var inputGradient: InputGradient

        public init(inFeatures: Int, outFeatures: Int, inputGradient: InputGradient) {
            (self.inFeatures, self.outFeatures, self.inputGradient) = (inFeatures, outFeatures, inputGradient)
        }
    }

    /// The layers of `architecture`'s encoder, head and decoder, as `ELBOObjective` runs them.
    public static func layers(of architecture: ModelArchitecture) -> [Layer] {
        let widths = [architecture.dataDimension] + architecture.hiddenSizes + [2 * architecture.latentDimension]
        let decoderWidths = [architecture.latentDimension] + architecture.hiddenSizes.reversed() + [architecture.dataDimension]
        let encoder = zip(widths, widths.dropFirst()).enumerated().map {
            Layer(inFeatures: $1.0, outFeatures: $1.1, inputGradient: $0 == 0 ? .none : .direct)
        }
        let decoder = zip(decoderWidths, decoderWidths.dropFirst()).enumerated().map {
            Layer(inFeatures: $1.0, outFeatures: $1.1, inputGradient: $0 == 0 ? .throughTranspose : .direct)
        }
        return encoder + decoder
    }

    /// nil when `engine` keeps every row's (and unit's) bits for each of `rowCounts` rows
    /// against a call on the largest of them, on every layer; else the first failure.
    public static func check(engine: any GEMMEngine, layers: [Layer], rowCounts: [Int]) -> Failure? {
        guard let total = rowCounts.max(), total >= 1 else { return nil }
        var state: UInt64 = 0x2545_F491_4F6C_DD1D
        func values(_ count: Int) -> [Float] {
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(state >> 40) / Float(1 << 24) - 0.5
            }
        }
        for layer in Set(layers).sorted(by: { [$0.inFeatures, $0.outFeatures].lexicographicallyPrecedes([$1.inFeatures, $1.outFeatures]) }) {
            let (width, units) = (layer.inFeatures, layer.outFeatures)
            let x = values(total * width), w = values(units * width), dy = values(total * units)
            let bias = values(total * units)
            func product(_ name: String, rows: Int, offset: Int) -> [Float] {
                switch name {
                case "forward":  // Y [rows, out] = bias + X W^T
                    var y = Array(bias[(offset * units)..<((offset + rows) * units)])
                    engine.multiply(transposeA: false, transposeB: true, m: rows, n: units, k: width, alpha: 1,
                                    a: Array(x[(offset * width)...]), lda: width, b: w, ldb: width,
                                    beta: 1, c: &y, ldc: units)
                    return y
                case "dX":  // [rows, in] = dY W
                    var dx = [Float](repeating: 0, count: rows * width)
                    engine.multiply(transposeA: false, transposeB: false, m: rows, n: width, k: units, alpha: 1,
                                    a: Array(dy[(offset * units)...]), lda: units, b: w, ldb: width,
                                    beta: 0, c: &dx, ldc: width)
                    return dx
                default:  // "dX through the transpose": [in, rows] = W^T dY^T, returned row by row
                    var transposed = [Float](repeating: 0, count: width * rows)
                    engine.multiply(transposeA: true, transposeB: true, m: width, n: rows, k: units, alpha: 1,
                                    a: w, lda: width, b: Array(dy[(offset * units)...]), ldb: units,
                                    beta: 0, c: &transposed, ldc: rows)
                    return (0..<rows).flatMap { row in (0..<width).map { transposed[$0 * rows + row] } }
                }
            }
            let inputGradient = switch layer.inputGradient {
            case .none: [String]()
            case .direct: ["dX"]
            case .throughTranspose: ["dX through the transpose"]
            }
            for name in ["forward"] + inputGradient {
                let full = product(name, rows: total, offset: 0)
                let rowLength = name == "forward" ? units : width
                for rows in Set(rowCounts) where rows < total {
                    for offset in [0, total - rows] {
                        let part = product(name, rows: rows, offset: offset)
                        let expected = full[(offset * rowLength)..<((offset + rows) * rowLength)]
                        if !zip(part, expected).allSatisfy({ $0.bitPattern == $1.bitPattern }) {
                            return Failure(product: name, inFeatures: width, outFeatures: units, count: rows)
                        }
                    }
                }
            }
            // (b): dW [out, in] = dY^T X over all the rows, for slices of the units.
            var fullGradient = [Float](repeating: 0, count: units * width)
            engine.multiply(transposeA: true, transposeB: false, m: units, n: width, k: total, alpha: 1,
                            a: dy, lda: units, b: x, ldb: width, beta: 0, c: &fullGradient, ldc: width)
            for slice in Set([1, 2, 16, units / 2, units - 1]) where slice >= 1 && slice < units {
                for first in [0, units - slice] {
                    var part = [Float](repeating: 0, count: slice * width)
                    engine.multiply(transposeA: true, transposeB: false, m: slice, n: width, k: total, alpha: 1,
                                    a: Array(dy[first...]), lda: units, b: x, ldb: width, beta: 0, c: &part, ldc: width)
                    let expected = fullGradient[(first * width)..<((first + slice) * width)]
                    if !zip(part, expected).allSatisfy({ $0.bitPattern == $1.bitPattern }) {
                        return Failure(product: "dW", inFeatures: width, outFeatures: units, count: slice)
                    }
                }
            }
        }
        return nil
    }
}
