/// A fully connected layer y = x W^T + b over the flat parameter buffer.
///
/// W is stored [out, in] like PyTorch's nn.Linear, so a checkpoint's tensor loads into
/// one. This is the reference pair of passes; the restricted ones that skip inactive
/// ReLU units are in Dense+ActiveUnits.swift.
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

    /// output [rows, out] = input [rows, in] W^T + b.
    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>) {
        let bias = parameters + biasOffset
        for row in 0..<rows {
            (output + row * outFeatures).update(from: bias, count: outFeatures)
        }
        sgemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: inFeatures,
              a: input, lda: inFeatures, b: parameters + weightOffset, ldb: inFeatures,
              beta: 1, c: output, ldc: outFeatures)
    }

    /// dL/d(input) [rows, in] = dY [rows, out] W [out, in].
    public func backwardData(outputGradient: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                             inputGradient: UnsafeMutablePointer<Float>) {
        sgemm(transposeA: false, transposeB: false, m: rows, n: inFeatures, k: outFeatures,
              a: outputGradient, lda: outFeatures, b: parameters + weightOffset, ldb: inFeatures,
              beta: 0, c: inputGradient, ldc: inFeatures)
    }

    /// dW and db of the output units in `outputUnits`, from `rows` rows; overwritten.
    ///
    /// Rows `outputUnits` of dW = dY^T X and the same entries of db = the column sums of dY,
    /// from the input [rows, in] and dY [rows, out]. The units are the GEMM's rows, so a range
    /// is the same call on fewer of them.
    public func backwardWeights(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, rows: Int,
                                outputUnits: Range<Int>, gradients: UnsafeMutablePointer<Float>) {
        precondition(outputUnits.lowerBound >= 0 && outputUnits.upperBound <= outFeatures, "units outside the layer")
        let first = outputUnits.lowerBound
        // dW [units, in] = dY[:, units]^T [units, rows] x [rows, in]
        sgemm(transposeA: true, transposeB: false, m: outputUnits.count, n: inFeatures, k: rows,
              a: outputGradient + first, lda: outFeatures, b: input, ldb: inFeatures,
              beta: 0, c: gradients + weightOffset + first * inFeatures, ldc: inFeatures)
        biasGradient(outputGradient, pixels: rows, channels: outFeatures, units: outputUnits,
                     into: gradients + biasOffset)
    }

    /// Both backwards: the weight backward of every unit, then the data backward.
    ///
    /// dW and db go into the flat gradient buffer; dL/d(input) [rows, in] only when
    /// `inputGradient` is non-nil (the data needs none).
    public func backward(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, rows: Int,
                         parameters: UnsafePointer<Float>, gradients: UnsafeMutablePointer<Float>,
                         inputGradient: UnsafeMutablePointer<Float>?) {
        backwardWeights(input: input, outputGradient: outputGradient, rows: rows, outputUnits: 0..<outFeatures,
                        gradients: gradients)
        if let inputGradient {
            backwardData(outputGradient: outputGradient, rows: rows, parameters: parameters,
                         inputGradient: inputGradient)
        }
    }
}

extension Dense: Layer {
    public var inputWidth: Int { inFeatures }
    public var outputWidth: Int { outFeatures }
    public var outputUnits: Int { outFeatures }
    public var weightBackwardReads: WeightBackwardReads? {
        WeightBackwardReads(inputWidth: inFeatures, outputGradientWidth: outFeatures)
    }

    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        forward(input: input, rows: rows, parameters: parameters, output: output)
    }

    public func backwardData(outputGradient: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int,
                             parameters: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
                             workspace: UnsafeMutablePointer<Float>) {
        backwardData(outputGradient: outputGradient, rows: rows, parameters: parameters, inputGradient: inputGradient)
    }

    public func backwardWeights(input: UnsafePointer<Float>, outputGradient: UnsafePointer<Float>, rows: Int,
                                outputUnits: Range<Int>, gradients: UnsafeMutablePointer<Float>,
                                workspace: UnsafeMutablePointer<Float>) {
        backwardWeights(input: input, outputGradient: outputGradient, rows: rows, outputUnits: outputUnits,
                        gradients: gradients)
    }
}
