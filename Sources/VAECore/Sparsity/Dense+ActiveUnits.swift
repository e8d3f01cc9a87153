import CVAEKernels

/// The Dense passes restricted to the active units of ReLU layers (`ActiveUnits`).
///
/// The sums run over the active units only, since the others contribute exact zeros.
extension Dense {
    /// `forward` for the compact [rows, inputUnits.count] output of a ReLU layer.
    ///
    /// The sum over the input runs over the active units only, with their columns of W
    /// gathered into `weightScratch` [out, inputUnits.count]. nil units: the dense `forward`.
    public func forward(
        input: UnsafePointer<Float>, inputUnits: ActiveUnits?, rows: Int, parameters: UnsafePointer<Float>,
        weightScratch: UnsafeMutablePointer<Float>, output: UnsafeMutablePointer<Float>
    ) {
        guard let inputUnits else {
            forward(input: input, rows: rows, parameters: parameters, output: output)
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
    }

    /// `backward` with the input and/or the output restricted to active units.
    ///
    /// `input` is [rows, nIn] and `outputGradient` [rows, nOut], where nIn and nOut are
    /// the units' counts (or the full width for nil units), and `inputGradient`, when
    /// asked for, is written [rows, nIn]. dW is computed as the [nOut, nIn] block in
    /// `weightScratch` (at least out x in floats) and scattered into the flat gradient
    /// with zeros elsewhere: exactly what the dense backward writes there, since those
    /// rows and columns are sums of zeros. Always overwrites.
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

    /// `backwardData` with the input and/or the output restricted to active units.
    ///
    /// dX [rows, nIn] = dY [rows, nOut] W[active out, active in], the block of W gathered
    /// into `weightScratch`; nil units mean the full width. Both nil: the dense `backwardData`.
    public func backwardData(
        outputGradient: UnsafePointer<Float>, outputUnits: ActiveUnits?, rows: Int, parameters: UnsafePointer<Float>,
        inputUnits: ActiveUnits?, weightScratch: UnsafeMutablePointer<Float>, inputGradient: UnsafeMutablePointer<Float>
    ) {
        guard inputUnits != nil || outputUnits != nil else {
            backwardData(outputGradient: outputGradient, rows: rows, parameters: parameters, inputGradient: inputGradient)
            return
        }
        let activeIn = inputUnits?.count ?? inFeatures
        let activeOut = outputUnits?.count ?? outFeatures
        vae_gather_block(parameters + weightOffset, inFeatures, outputUnits.map { UnsafePointer($0.indices) }, activeOut,
                         inputUnits.map { UnsafePointer($0.indices) }, activeIn, weightScratch)
        sgemm(transposeA: false, transposeB: false, m: rows, n: activeIn, k: activeOut,
              a: outputGradient, lda: activeOut, b: weightScratch, ldb: activeIn,
              beta: 0, c: inputGradient, ldc: activeIn)
    }
}
