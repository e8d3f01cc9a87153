/// A Dense layer over a narrow input, whose input gradient is computed as its transpose.
///
/// The decoder's first layer, fed the latent code. dL/d(input) [rows, in] = dY W is
/// computed as W^T dY^T [in, rows] into the workspace and copied back: the same sums, with
/// the rows as the GEMM's column-major M. OpenBLAS 0.3.21's small-matrix kernel
/// (m n k <= 100^3) mallocs on every call whose column-major M leaves 1-8 past a multiple
/// of 16; for the latent gradient that M would be Z (20 by default), so a rank holding
/// fewer than 128 rows (every rank of `mpirun -n 2` at batch 128, or the last short batch)
/// allocated on every step. Rows come as 64, 96, 128...: multiples of 16. Everything else
/// is the Dense layer's.
public struct NarrowInputDense: Layer {
    public let dense: Dense

    public init(_ dense: Dense) { self.dense = dense }

    public var inputWidth: Int { dense.inFeatures }
    public var outputWidth: Int { dense.outFeatures }
    public var outputUnits: Int { dense.outFeatures }
    public var weightBackwardReads: WeightBackwardReads? { dense.weightBackwardReads }
    public func workspaceCount(rows: Int) -> Int { rows * dense.inFeatures }

    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        dense.forward(input: input, rows: rows, parameters: parameters, output: output)
    }

    public func backwardData(outputGradient: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int,
                             parameters: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
                             workspace: UnsafeMutablePointer<Float>) {
        let (inFeatures, outFeatures) = (dense.inFeatures, dense.outFeatures)
        // workspace [in, rows] = W^T [in, out] x dY^T [out, rows]
        sgemm(transposeA: true, transposeB: true, m: inFeatures, n: rows, k: outFeatures,
              a: parameters + dense.weightOffset, lda: inFeatures, b: outputGradient, ldb: outFeatures,
              beta: 0, c: workspace, ldc: rows)
        for row in 0..<rows {
            for column in 0..<inFeatures { inputGradient[row * inFeatures + column] = workspace[column * rows + row] }
        }
    }

    public func backwardWeights(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, rows: Int,
                                outputUnits: Range<Int>, gradients: UnsafeMutablePointer<Float>,
                                workspace: UnsafeMutablePointer<Float>) {
        dense.backwardWeights(input: input, outputGradient: outputGradient, rows: rows, outputUnits: outputUnits,
                              gradients: gradients)
    }
}
