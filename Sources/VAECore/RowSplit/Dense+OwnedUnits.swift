/// The weight backward of a range of units over every row of a global batch.
///
/// A rank owns a range of a layer's weight rows (units) and of its bias entries, which may
/// differ (they are different tensors of the flat buffer). Its dW rows are one GEMM on its
/// units, the same call one process makes on all units, cut along M (which leaves every
/// element's bits alone, `ReproducibleGEMM`); its db entries are the column sums of dY over
/// the rows in row order, as one process adds them.
extension Dense {
    /// dW rows `weightUnits` and db entries `biasUnits` into the flat `gradients`, overwritten.
    ///
    /// `input` [rows, nIn] and `outputGradient` [rows, nOut] are compact over `inputUnits` and
    /// `outputUnits` (nil: the full width): a unit outside the active set gets a zero row and
    /// a zero bias, an input outside it a zero column, which is what the dense sums give.
    /// `blockScratch` holds at least out x in floats.
    public func backwardWeights(
        input: UnsafePointer<Float>, inputUnits: ActiveUnits?, outputGradient: UnsafePointer<Float>,
        outputUnits: ActiveUnits?, rows: Int, weightUnits: Range<Int>, biasUnits: Range<Int>,
        gradients: UnsafeMutablePointer<Float>, blockScratch: UnsafeMutablePointer<Float>
    ) {
        precondition(weightUnits.lowerBound >= 0 && weightUnits.upperBound <= outFeatures
                     && biasUnits.lowerBound >= 0 && biasUnits.upperBound <= outFeatures, "units outside the layer")
        let activeIn = inputUnits?.count ?? inFeatures
        let activeOut = outputUnits?.count ?? outFeatures
        let compact = compactRange(of: weightUnits, in: outputUnits)
        let weights = gradients + weightOffset
        if inputUnits == nil && outputUnits == nil {
            if !weightUnits.isEmpty {
                // dW [units, in] = dY[:, units]^T [units, rows] x [rows, in]
                sgemm(transposeA: true, transposeB: false, m: weightUnits.count, n: inFeatures, k: rows,
                      a: outputGradient + weightUnits.lowerBound, lda: outFeatures, b: input, ldb: inFeatures,
                      beta: 0, c: weights + weightUnits.lowerBound * inFeatures, ldc: inFeatures)
            }
        } else {
            if !compact.isEmpty {
                // The block [active units, active inputs] = dY[:, block]^T x X, then into place.
                sgemm(transposeA: true, transposeB: false, m: compact.count, n: activeIn, k: rows,
                      a: outputGradient + compact.lowerBound, lda: activeOut, b: input, ldb: activeIn,
                      beta: 0, c: blockScratch, ldc: activeIn)
            }
            var next = compact.lowerBound
            for unit in weightUnits {
                let row = weights + unit * inFeatures
                row.update(repeating: 0, count: inFeatures)
                guard next < compact.upperBound, Int(outputUnits?.indices[next] ?? Int32(next)) == unit else { continue }
                let block = blockScratch + (next - compact.lowerBound) * activeIn
                if let inputUnits {
                    for column in 0..<activeIn { row[Int(inputUnits.indices[column])] = block[column] }
                } else {
                    row.update(from: block, count: inFeatures)
                }
                next += 1
            }
        }
        let bias = gradients + biasOffset
        for unit in biasUnits { bias[unit] = 0 }
        let compactBias = compactRange(of: biasUnits, in: outputUnits)
        guard !compactBias.isEmpty else { return }
        for row in 0..<rows {
            let gradientRow = outputGradient + row * activeOut
            for c in compactBias {
                bias[Int(outputUnits?.indices[c] ?? Int32(c))] += gradientRow[c]
            }
        }
    }

    /// The positions in `units`' compact list of the active units inside `range` (the list is ascending).
    private func compactRange(of range: Range<Int>, in units: ActiveUnits?) -> Range<Int> {
        guard let units else { return range }
        var first = 0
        while first < units.count && Int(units.indices[first]) < range.lowerBound { first += 1 }
        var last = first
        while last < units.count && Int(units.indices[last]) < range.upperBound { last += 1 }
        return first..<last
    }
}
