/// A 2-D convolution y = W * x + b over channels-last images, by patches and one GEMM.
///
/// W is stored [out, in, kh, kw] like PyTorch's Conv2d, b [out]; rows are images
/// [height, width, in] in and [grid height, grid width, out] out. Each pass packs W to
/// [out, taps x in] (tap-major, as the patches are) in the workspace, so the patch matrix
/// of all rows meets it in one GEMM whose rows are the rows' grid pixels: a row's results
/// do not depend on the other rows. The output units are the output channels.
public struct Conv2d: Layer {
    public let inChannels: Int
    public let outChannels: Int
    public let geometry: ConvolutionGeometry
    /// Offsets of W [out, in, k, k] and b [out] in the flat parameter (and gradient) buffer.
    public let weightOffset: Int
    public let biasOffset: Int

    public init(inChannels: Int, outChannels: Int, geometry: ConvolutionGeometry, weightOffset: Int, biasOffset: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.geometry = geometry
        self.weightOffset = weightOffset
        self.biasOffset = biasOffset
    }

    public var inputWidth: Int { geometry.imagePixels * inChannels }
    public var outputWidth: Int { geometry.gridPixels * outChannels }
    public var outputUnits: Int { outChannels }
    public var weightBackwardReads: WeightBackwardReads? {
        WeightBackwardReads(inputWidth: inputWidth, outputGradientWidth: outputWidth)
    }
    /// Floats of one patch: the taps' input channels.
    private var patchWidth: Int { geometry.taps * inChannels }

    /// The packed weights [out, patch], then the patches [rows x grid pixels, patch].
    public func workspaceCount(rows: Int) -> Int { (outChannels + rows * geometry.gridPixels) * patchWidth }

    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        let (packed, patches) = (workspace, workspace + outChannels * patchWidth)
        packWeights(parameters + weightOffset, into: packed)
        geometry.im2col(input, rows: rows, channels: inChannels, into: patches)
        let pixels = rows * geometry.gridPixels
        let bias = parameters + biasOffset
        for pixel in 0..<pixels { (output + pixel * outChannels).update(from: bias, count: outChannels) }
        // Y [pixels, out] += patches [pixels, patch] x packed^T [patch, out]
        sgemm(transposeA: false, transposeB: true, m: pixels, n: outChannels, k: patchWidth,
              a: patches, lda: patchWidth, b: packed, ldb: patchWidth, beta: 1, c: output, ldc: outChannels)
    }

    public func backwardData(outputGradient: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int,
                             parameters: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
                             workspace: UnsafeMutablePointer<Float>) {
        let (packed, patches) = (workspace, workspace + outChannels * patchWidth)
        packWeights(parameters + weightOffset, into: packed)
        let pixels = rows * geometry.gridPixels
        // dPatches [pixels, patch] = dY [pixels, out] x packed [out, patch]
        sgemm(transposeA: false, transposeB: false, m: pixels, n: patchWidth, k: outChannels,
              a: outputGradient, lda: outChannels, b: packed, ldb: patchWidth, beta: 0, c: patches, ldc: patchWidth)
        inputGradient.update(repeating: 0, count: rows * inputWidth)
        geometry.col2im(patches, rows: rows, channels: inChannels, into: inputGradient)
    }

    public func backwardWeights(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, rows: Int,
                                outputUnits: Range<Int>, gradients: UnsafeMutablePointer<Float>,
                                workspace: UnsafeMutablePointer<Float>) {
        precondition(outputUnits.lowerBound >= 0 && outputUnits.upperBound <= outChannels, "units outside the layer")
        let (packed, patches) = (workspace, workspace + outChannels * patchWidth)
        geometry.im2col(input, rows: rows, channels: inChannels, into: patches)
        let pixels = rows * geometry.gridPixels
        let first = outputUnits.lowerBound
        // dPacked [units, patch] = dY[:, units]^T [units, pixels] x patches [pixels, patch]
        sgemm(transposeA: true, transposeB: false, m: outputUnits.count, n: patchWidth, k: pixels,
              a: outputGradient + first, lda: outChannels, b: patches, ldb: patchWidth,
              beta: 0, c: packed + first * patchWidth, ldc: patchWidth)
        unpackWeightGradient(packed, units: outputUnits, into: gradients + weightOffset)
        biasGradient(outputGradient, pixels: pixels, channels: outChannels, units: outputUnits,
                     into: gradients + biasOffset)
    }

    /// packed[o, tap x in + i] = W[o, i, tap].
    private func packWeights(_ weights: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>) {
        let taps = geometry.taps
        for o in 0..<outChannels {
            for i in 0..<inChannels {
                let source = weights + (o * inChannels + i) * taps
                let target = packed + o * patchWidth + i
                for tap in 0..<taps { target[tap * inChannels] = source[tap] }
            }
        }
    }

    /// dW[o, i, tap] = dPacked[o, tap x in + i] for o in `units`.
    private func unpackWeightGradient(_ packed: UnsafePointer<Float>, units: Range<Int>,
                                      into weights: UnsafeMutablePointer<Float>) {
        let taps = geometry.taps
        for o in units {
            for i in 0..<inChannels {
                let source = packed + o * patchWidth + i
                let target = weights + (o * inChannels + i) * taps
                for tap in 0..<taps { target[tap] = source[tap * inChannels] }
            }
        }
    }
}
