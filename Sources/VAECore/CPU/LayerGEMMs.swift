import VAECore

/// The GEMMs of one training step of a model as its layers issue them, any layers.
///
/// Read from the layer stacks themselves, so a convolution's GEMMs are counted at the
/// shapes it calls: Conv2d over the rows' grid pixels P = rows x grid, K = taps x in
/// (forward P x out x K, data backward P x K x out, weights out x K x P); ConvTranspose2d
/// the transposes (forward P x taps out x in, data backward P x in x taps out, weights
/// taps out x in x P). The layer fed the data computes no data backward. `ModelGEMMs`
/// takes this account for a convolutional model; the MLP's stays its dense reference shapes.
public enum LayerGEMMs {
    /// Every GEMM of one step on `rows` datapoints with `samples` draws each, in call order.
    public static func step(_ architecture: ModelArchitecture, rows: Int, samples: Int = 1) -> [GEMMShape] {
        let layers = ModelLayers(architecture)
        var forward: [GEMMShape] = []
        var backward: [GEMMShape] = []
        for (prefix, stack, stackRows) in [("encoder", layers.encoder, rows), ("decoder", layers.decoder, rows * samples)] {
            var fedByData = prefix == "encoder"
            var stackBackward: [GEMMShape] = []
            for (index, layer) in stack.enumerated() {
                let name = "\(prefix) \(index) \(type(of: layer))"
                let shapes = gemms(of: layer, rows: stackRows, name: name, dataBackward: !fedByData)
                forward += shapes.forward
                stackBackward = shapes.backward + stackBackward
                if layer.outputUnits > 0 { fedByData = false }
            }
            backward = stackBackward + backward
        }
        return forward + backward
    }

    /// GEMM FLOPs per datapoint per step (every shape is linear in the row count).
    public static func flopsPerSample(_ architecture: ModelArchitecture, samples: Int = 1) -> Double {
        step(architecture, rows: 1, samples: samples).reduce(0) { $0 + $1.flops }
    }

    private static func gemms(of layer: any Layer, rows: Int, name: String, dataBackward: Bool)
        -> (forward: [GEMMShape], backward: [GEMMShape]) {
        func shape(_ pass: String, _ transposeA: Bool, _ transposeB: Bool, _ m: Int, _ n: Int, _ k: Int,
                   accumulate: Bool = false) -> GEMMShape {
            GEMMShape(name: "\(name) \(pass)", transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                      accumulate: accumulate)
        }
        switch layer {
        case let dense as Dense:
            return ([shape("forward", false, true, rows, dense.outFeatures, dense.inFeatures, accumulate: true)],
                    [shape("dW", true, false, dense.outFeatures, dense.inFeatures, rows)]
                        + (dataBackward ? [shape("dX", false, false, rows, dense.inFeatures, dense.outFeatures)] : []))
        case let narrow as NarrowInputDense:
            let dense = narrow.dense
            return ([shape("forward", false, true, rows, dense.outFeatures, dense.inFeatures, accumulate: true)],
                    [shape("dW", true, false, dense.outFeatures, dense.inFeatures, rows)]
                        + (dataBackward ? [shape("dX^T", true, true, dense.inFeatures, rows, dense.outFeatures)] : []))
        case let conv as Conv2d:
            let (pixels, patch) = (rows * conv.geometry.gridPixels, conv.geometry.taps * conv.inChannels)
            return ([shape("forward", false, true, pixels, conv.outChannels, patch, accumulate: true)],
                    [shape("dW", true, false, conv.outChannels, patch, pixels)]
                        + (dataBackward ? [shape("dX patches", false, false, pixels, patch, conv.outChannels)] : []))
        case let conv as ConvTranspose2d:
            let (pixels, patch) = (rows * conv.geometry.gridPixels, conv.geometry.taps * conv.outChannels)
            return ([shape("forward patches", false, false, pixels, patch, conv.inChannels)],
                    [shape("dW^T", true, false, patch, conv.inChannels, pixels)]
                        + (dataBackward ? [shape("dX", false, true, pixels, conv.inChannels, patch)] : []))
        default:
            return ([], [])
        }
    }
}
