import CVAEKernels

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

    /// dL/d(input) [rows, in] = dY [rows, out] W [out, in], computed as its transpose
    /// W^T dY^T into `scratch` [in, rows] and copied back: the same sums, with the rows as
    /// the GEMM's column-major M. OpenBLAS 0.3.21's small-matrix kernel (m n k <= 100^3)
    /// mallocs on every call whose column-major M leaves 1-8 past a multiple of 16; for
    /// the latent gradient that M would be Z (20 by default), so a rank holding fewer
    /// than 128 rows (every rank of `mpirun -n 2` at batch 128, or the last short batch)
    /// allocated on every step. The rows are 64, 96, 128...: multiples of 16.
    public func inputGradientThroughTranspose(
        outputGradient: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
        scratch: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>
    ) {
        // scratch [in, rows] = W^T [in, out] x dY^T [out, rows]
        sgemm(transposeA: true, transposeB: true, m: inFeatures, n: rows, k: outFeatures,
              a: parameters + weightOffset, lda: inFeatures, b: outputGradient, ldb: outFeatures,
              beta: 0, c: scratch, ldc: rows)
        for row in 0..<rows {
            for column in 0..<inFeatures { inputGradient[row * inFeatures + column] = scratch[column * rows + row] }
        }
    }

    // MARK: Restricted to the active units of ReLU layers (ActiveUnits)

    /// `forward` for an input that is the compact [rows, inputUnits.count] output of a
    /// ReLU layer: the sum over the input runs over the active units only, with their
    /// columns of W gathered into `weightScratch` [out, inputUnits.count]. nil units:
    /// the dense `forward`.
    public func forward(
        input: UnsafePointer<Float>, inputUnits: ActiveUnits?, rows: Int, parameters: UnsafePointer<Float>,
        weightScratch: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>, activation: Activation? = nil
    ) {
        guard let inputUnits else {
            forward(input: input, rows: rows, parameters: parameters, output: output, activation: activation)
            return
        }
        precondition(inputUnits.capacity == inFeatures, "active units of a layer of another width")
        let active = inputUnits.count
        let bias = parameters + biasOffset
        for row in 0..<rows {
            (output + row * outFeatures).update(from: bias, count: outFeatures)
        }
        vae_gather_block(parameters + weightOffset, inFeatures, nil, outFeatures, inputUnits.indices, active,
                         weightScratch)
        sgemm(transposeA: false, transposeB: true, m: rows, n: outFeatures, k: active,
              a: input, lda: active, b: weightScratch, ldb: active, beta: 1, c: output, ldc: outFeatures)
        activation?.forward(output, count: rows * outFeatures)
    }

    /// `backward` with the input and/or the output restricted to active units:
    /// `input` is [rows, nIn] and `outputGradient` [rows, nOut], where nIn and nOut
    /// are the units' counts (or the full width for nil units), and `inputGradient`,
    /// when asked for, is written [rows, nIn]. dW is computed as the [nOut, nIn] block
    /// in `weightScratch` (at least out x in floats) and scattered into the flat
    /// gradient with zeros elsewhere: exactly what the dense backward writes there,
    /// since those rows and columns are sums of zeros. Always overwrites.
    public func backward(
        input: UnsafePointer<Float>, inputUnits: ActiveUnits?, outputGradient: UnsafePointer<Float>,
        outputUnits: ActiveUnits?, rows: Int, parameters: UnsafePointer<Float>,
        gradients: UnsafeMutablePointer<Float>, weightScratch: UnsafeMutablePointer<Float>,
        inputGradient: UnsafeMutablePointer<Float>?
    ) {
        if inputUnits == nil && outputUnits == nil {
            backward(input: input, outputGradient: outputGradient, rows: rows, parameters: parameters,
                     gradients: gradients, inputGradient: inputGradient)
            return
        }
        precondition(inputUnits.map { $0.capacity == inFeatures } ?? true, "input units of another width")
        precondition(outputUnits.map { $0.capacity == outFeatures } ?? true, "output units of another width")
        let activeIn = inputUnits?.count ?? inFeatures
        let activeOut = outputUnits?.count ?? outFeatures
        let inIndices = inputUnits.map { UnsafePointer($0.indices) }
        let outIndices = outputUnits.map { UnsafePointer($0.indices) }

        // dW block [nOut, nIn] = dY^T [nOut, rows] x [rows, nIn]
        sgemm(transposeA: true, transposeB: false, m: activeOut, n: activeIn, k: rows,
              a: outputGradient, lda: activeOut, b: input, ldb: activeIn,
              beta: 0, c: weightScratch, ldc: activeIn)
        vae_scatter_block(weightScratch, outIndices, activeOut, inIndices, activeIn,
                          gradients + weightOffset, outFeatures, inFeatures)

        // Same order of additions as the dense backward: the same bits.
        let biasGradient = gradients + biasOffset
        biasGradient.update(repeating: 0, count: outFeatures)
        for row in 0..<rows {
            let gradientRow = outputGradient + row * activeOut
            if let outIndices {
                for c in 0..<activeOut { biasGradient[Int(outIndices[c])] += gradientRow[c] }
            } else {
                for j in 0..<outFeatures { biasGradient[j] += gradientRow[j] }
            }
        }

        if let inputGradient {
            // dX [rows, nIn] = dY [rows, nOut] W[active out, active in] [nOut, nIn]
            vae_gather_block(parameters + weightOffset, inFeatures, outIndices, activeOut, inIndices, activeIn,
                             weightScratch)
            sgemm(transposeA: false, transposeB: false, m: rows, n: activeIn, k: activeOut,
                  a: outputGradient, lda: activeOut, b: weightScratch, ldb: activeIn,
                  beta: 0, c: inputGradient, ldc: activeIn)
        }
    }
}
