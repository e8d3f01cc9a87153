/// A 2-D transposed convolution over channels-last images: the adjoint of a Conv2d.
///
/// W is stored [in, out, kh, kw] like PyTorch's ConvTranspose2d, b [out]; rows are grids
/// [height, width, in] in and images [height', width', out] out, the image's size set by
/// the geometry (with PyTorch's output padding). The forward is one GEMM from the rows'
/// grid pixels to their patches, then the patches added into the image (`col2im`); each
/// pass packs W to [in, taps x out] in the workspace. The output units are the output
/// channels: their weight gradient is computed as rows (tap, out) of dW^T, so a range of
/// them is the same GEMM rows, one call per tap.
public struct ConvTranspose2d: Layer {
    public let inChannels: Int
    public let outChannels: Int
    public let geometry: ConvolutionGeometry
    /// Offsets of W [in, out, k, k] and b [out] in the flat parameter (and gradient) buffer.
    public let weightOffset: Int
    public let biasOffset: Int

    public init(inChannels: Int, outChannels: Int, geometry: ConvolutionGeometry, weightOffset: Int, biasOffset: Int) {
        self.inChannels = inChannels
        self.outChannels = outChannels
        self.geometry = geometry
        self.weightOffset = weightOffset
        self.biasOffset = biasOffset
    }

    public var inputWidth: Int { geometry.gridPixels * inChannels }
    public var outputWidth: Int { geometry.imagePixels * outChannels }
    public var outputUnits: Int { outChannels }
    public var weightBackwardReads: WeightBackwardReads? {
        WeightBackwardReads(inputWidth: inputWidth, outputGradientWidth: outputWidth)
    }
    /// Floats of one patch: the taps' output channels.
    private var patchWidth: Int { geometry.taps * outChannels }

    /// The packed weights [in, patch] (or dW^T [patch, in]), then the patches [rows x grid pixels, patch].
    public func workspaceCount(rows: Int) -> Int { (inChannels + rows * geometry.gridPixels) * patchWidth }

    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        let (packed, patches) = (workspace, workspace + inChannels * patchWidth)
        packWeights(parameters + weightOffset, into: packed)
        let pixels = rows * geometry.gridPixels
        // patches [pixels, patch] = X [pixels, in] x packed [in, patch]
        sgemm(transposeA: false, transposeB: false, m: pixels, n: patchWidth, k: inChannels,
              a: input, lda: inChannels, b: packed, ldb: patchWidth, beta: 0, c: patches, ldc: patchWidth)
        let bias = parameters + biasOffset
        for pixel in 0..<rows * geometry.imagePixels {
            (output + pixel * outChannels).update(from: bias, count: outChannels)
        }
        geometry.col2im(patches, rows: rows, channels: outChannels, into: output)
    }

    public func backwardData(outputGradient: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int,
                             parameters: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
                             workspace: UnsafeMutablePointer<Float>) {
        let (packed, patches) = (workspace, workspace + inChannels * patchWidth)
        packWeights(parameters + weightOffset, into: packed)
        geometry.im2col(outputGradient, rows: rows, channels: outChannels, into: patches)
        // dX [pixels, in] = dPatches [pixels, patch] x packed^T [patch, in]
        sgemm(transposeA: false, transposeB: true, m: rows * geometry.gridPixels, n: inChannels, k: patchWidth,
              a: patches, lda: patchWidth, b: packed, ldb: patchWidth, beta: 0, c: inputGradient, ldc: inChannels)
    }

    public func backwardWeights(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, rows: Int,
                                outputUnits: Range<Int>, gradients: UnsafeMutablePointer<Float>,
                                workspace: UnsafeMutablePointer<Float>) {
        precondition(outputUnits.lowerBound >= 0 && outputUnits.upperBound <= outChannels, "units outside the layer")
        let (transposed, patches) = (workspace, workspace + inChannels * patchWidth)
        geometry.im2col(outputGradient, rows: rows, channels: outChannels, into: patches)
        let pixels = rows * geometry.gridPixels
        // dW^T [(tap, out), in] = dPatches^T [(tap, out), pixels] x X [pixels, in]: rows (tap, o) for o in
        // the units, one GEMM when they are all of them.
        func weightRows(_ block: Range<Int>) {
            sgemm(transposeA: true, transposeB: false, m: block.count, n: inChannels, k: pixels,
                  a: patches + block.lowerBound, lda: patchWidth, b: input, ldb: inChannels,
                  beta: 0, c: transposed + block.lowerBound * inChannels, ldc: inChannels)
        }
        if outputUnits == 0..<outChannels {
            weightRows(0..<patchWidth)
        } else {
            for tap in 0..<geometry.taps {
                weightRows((tap * outChannels + outputUnits.lowerBound)..<(tap * outChannels + outputUnits.upperBound))
            }
        }
        unpackWeightGradient(transposed, units: outputUnits, into: gradients + weightOffset)
        biasGradient(outputGradient, pixels: rows * geometry.imagePixels, channels: outChannels, units: outputUnits,
                     into: gradients + biasOffset)
    }

    /// packed[i, tap x out + o] = W[i, o, tap].
    private func packWeights(_ weights: UnsafePointer<Float>, into packed: UnsafeMutablePointer<Float>) {
        let taps = geometry.taps
        for i in 0..<inChannels {
            for o in 0..<outChannels {
                let source = weights + (i * outChannels + o) * taps
                let target = packed + i * patchWidth + o
                for tap in 0..<taps { target[tap * outChannels] = source[tap] }
            }
        }
    }

    /// dW[i, o, tap] = dW^T[tap x out + o, i] for o in `units`.
    private func unpackWeightGradient(_ transposed: UnsafePointer<Float>, units: Range<Int>,
                                      into weights: UnsafeMutablePointer<Float>) {
        let taps = geometry.taps
        for i in 0..<inChannels {
            for o in units {
                let target = weights + (i * outChannels + o) * taps
                for tap in 0..<taps { target[tap] = transposed[(tap * outChannels + o) * inChannels + i] }
            }
        }
    }
}
