/// One SGEMM call of a training step, as `Dense` issues it (row-major).
///
/// C [m, n] = op(A) [m, k] x op(B) [k, n].
public struct GEMMShape: Codable, Equatable, Sendable {
    public let name: String
    public let transposeA: Bool
    public let transposeB: Bool
    public let m: Int
    public let n: Int
    public let k: Int
    /// Accumulates into C (the forward pass adds to the bias already in C).
    public let accumulate: Bool

    public var flops: Double { 2 * Double(m) * Double(n) * Double(k) }
}

/// The GEMMs of one training step of a model, derived from its architecture the way `ELBOObjective` runs it.
///
/// Every dense layer forward (encoder and head on the `rows` datapoints, decoder on rows
/// x L draws), then backward dW = dY^T X for every layer and dX = dY W for every layer
/// but the image-fed first one (the data needs no gradient). For 784-400-20 at 128 rows:
/// 166.7 MFLOP forward, 419.8 MFLOP per step, 3.28 MFLOP per row.
public enum ModelGEMMs {
    struct Layer {
        let name: String
        let inFeatures: Int
        let outFeatures: Int
        let rows: Int
        let needsInputGradient: Bool
    }

    static func layers(_ architecture: ModelArchitecture, rows: Int, samples: Int) -> [Layer] {
        var layers: [Layer] = []
        var width = architecture.dataDimension
        for (i, hidden) in architecture.hiddenSizes.enumerated() {
            layers.append(Layer(name: "encoder.fc\(i + 1)", inFeatures: width, outFeatures: hidden, rows: rows,
                                needsInputGradient: i > 0))
            width = hidden
        }
        let z = architecture.latentDimension
        layers.append(Layer(name: "encoder.mu+logvar", inFeatures: width, outFeatures: 2 * z, rows: rows,
                            needsInputGradient: !architecture.hiddenSizes.isEmpty))
        width = z
        let draws = rows * samples
        for (i, hidden) in architecture.hiddenSizes.reversed().enumerated() {
            layers.append(Layer(name: "decoder.fc\(i + 1)", inFeatures: width, outFeatures: hidden, rows: draws,
                                needsInputGradient: true))
            width = hidden
        }
        layers.append(Layer(name: "decoder.out", inFeatures: width, outFeatures: architecture.dataDimension,
                            rows: draws, needsInputGradient: true))
        return layers
    }

    /// Every GEMM of one step on `rows` datapoints with `samples` draws each, in call order.
    public static func step(_ architecture: ModelArchitecture, rows: Int, samples: Int = 1) -> [GEMMShape] {
        // A convolutional model's GEMMs are read from its layers.
        if architecture.convolution != nil { return LayerGEMMs.step(architecture, rows: rows, samples: samples) }
        let all = layers(architecture, rows: rows, samples: samples)
        var shapes = all.map {
            GEMMShape(name: "\($0.name) forward", transposeA: false, transposeB: true,
                      m: $0.rows, n: $0.outFeatures, k: $0.inFeatures, accumulate: true)
        }
        for layer in all.reversed() {
            shapes.append(GEMMShape(name: "\(layer.name) dW", transposeA: true, transposeB: false,
                                    m: layer.outFeatures, n: layer.inFeatures, k: layer.rows, accumulate: false))
            if layer.needsInputGradient {
                shapes.append(GEMMShape(name: "\(layer.name) dX", transposeA: false, transposeB: false,
                                        m: layer.rows, n: layer.inFeatures, k: layer.outFeatures, accumulate: false))
            }
        }
        return shapes
    }

    /// GEMM FLOPs per datapoint per step (exact: every shape is linear in the row count).
    public static func flopsPerSample(_ architecture: ModelArchitecture, samples: Int = 1) -> Double {
        step(architecture, rows: 1, samples: samples).reduce(0) { $0 + $1.flops }
    }
}
