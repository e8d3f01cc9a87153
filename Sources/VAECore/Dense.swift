/// A fully connected layer y = x W^T + b over the flat parameter buffer,
/// with W stored [out, in] like PyTorch's nn.Linear.
public struct Dense: Sendable, Equatable {
    public let inFeatures: Int
    public let outFeatures: Int
    /// Offsets of W [out, in] and b [out] in the flat parameter (and gradient) buffer.
    public let weightOffset: Int
    public let biasOffset: Int

    public init(inFeatures: Int, outFeatures: Int, weightOffset: Int, biasOffset: Int) {
        self.inFeatures = inFeatures
        self.outFeatures = outFeatures
        self.weightOffset = weightOffset
        self.biasOffset = biasOffset
    }

    /// output [rows, out] = input [rows, in] W^T + b; then the activation, if any,
    /// in the same pass over the output.
    public func forward(
        input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
        output: UnsafeMutablePointer<Float>, activation: Activation? = nil
    ) {
        let bias = parameters + biasOffset
        for row in 0..<rows {
            (output + row * outFeatures).update(from: bias, count: outFeatures)
        }
        sgemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
              a: input, lda: inFeatures, b: parameters + weightOffset, ldb: inFeatures,
              beta: 1, c: output, ldc: outFeatures)
        activation?.forward(output, count: rows * outFeatures)
    }

    /// Given dL/d(pre-activation output) [rows, out]: writes dW and db into the
    /// flat gradient buffer (overwriting, or adding when `accumulate`), and
    /// dL/d(input) [rows, in] when `inputGradient` is non-nil. The first layer
    /// passes nil: the data needs no gradient.
    public func backward(
        input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, rows: Int,
        parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?, accumulate: Bool = false
    ) {
        // dW [out, in] = dY^T [out, rows] x [rows, in]
        sgemm(transposeA: true, transposeB: false, m: outFeatures, n: inFeatures, k: rows,
              a: outputGradient, lda: outFeatures, b: input, ldb: inFeatures,
              beta: accumulate ? 1 : 0, c: gradients + weightOffset, ldc: inFeatures)
        let biasGradient = gradients + biasOffset
        if !accumulate { biasGradient.update(repeating: 0, count: outFeatures) }
        for row in 0..<rows {
            let gradientRow = outputGradient + row * outFeatures
            for j in 0..<outFeatures { biasGradient[j] += gradientRow[j] }
        }
        if let inputGradient {
            // dX [rows, in] = dY [rows, out] W [out, in]
            sgemm(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
                  a: outputGradient, lda: outFeatures, b: parameters + weightOffset, ldb: inFeatures,
                  beta: 0, c: inputGradient, ldc: inFeatures)
        }
    }
}
