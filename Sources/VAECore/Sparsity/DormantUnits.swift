import CVAEKernels
import Foundation

/// The units of the first encoder layer that no training row can switch on.
///
/// The layer is ReLU and fed by the data; these units are left out of its forward GEMM
/// (docs/performance.md, "Dormant units").
///
/// A ReLU unit that is negative on every training row gets no gradient; once its Adam
/// updates fall below half an ulp of its weights, they stop changing, and it stays off
/// for good. In the default model about half of the 400 units end like this within two
/// epochs; `ActiveUnits` already skips them in every later layer and in the backward
/// pass, and this skips them in the one GEMM left, the first layer's forward (~40% of
/// its FLOPs then). The result is what the dense forward gives:
///
/// - A unit becomes dormant only after one whole epoch in which (a) its weights and bias
///   stayed bitwise the same, checked before every forward, and (b) every training row
///   was seen (summed over ranks) and its largest pre-activation `c_max` met
///   `c_max + 2 gamma (|b| + X sum|w|) < 0`, X the largest |x| seen and gamma the
///   rounding bound of a dot product of in + 1 terms, in any order: whatever order
///   OpenBLAS sums in, the row's pre-activation is negative and its ReLU 0.
/// - It stays dormant while its weights stay bitwise the same, checked before every
///   forward; the first change makes it live again (its pre-activations are computed).
///   The check compares only the bias of a unit whose weight rows no update since the
///   last check wrote (Adam's quiet pass, on every rank): the rows are then those of the
///   last comparison.
/// - The live units' sums are the dense GEMM's bits only if the BLAS kernel's per-element
///   order does not depend on the matrix width. `compactProductMatchesDense` checks that
///   once per run (OpenBLAS's AVX-512 kernels pass, its AVX2 ones do not); where it fails,
///   the trainer does not use this, so resuming stays bitwise.
///
/// The rows of other data (a test set) are not covered: only training steps use this.
/// With weight decay the weights move every step, so no unit becomes dormant.
/// Made once per run; the per-step calls allocate nothing.
public final class DormantUnits {
    public let layer: Dense
    public let maxRows: Int

    private enum State: UInt8 { case live, candidate, dormant }
    private var states: [State]
    /// Dormant units whose weight rows the optimizer was told hold a zero gradient (`quietWeightRanges`).
    private var quietUnits: [Bool]
    /// Whether an update may have written a quiet unit's weights since the last `verify`.
    ///
    /// Set by `noteUpdate`. While not, `verify` compares only their biases (the weights are
    /// those it last compared). True until the first `verify`.
    private var quietRowsMayHaveChanged = true
    /// [out, in + 1]: each unit's weights, then its bias, as of the epoch's start.
    ///
    /// A dormant unit's: as of the start of the epoch that made it dormant.
    private let snapshot: FloatBuffer
    /// The epoch's observations, [out + 1], which the trainer maximises over ranks.
    ///
    /// Per unit, the largest pre-activation seen (+infinity once the unit's weights moved);
    /// then the largest |x| of the rows. The trainer takes their maximum over ranks before
    /// `endEpoch`.
    public let observations: FloatBuffer
    /// Rows this rank passed through `forward` this epoch.
    public private(set) var rowsObserved = 0
    /// The units the forward computes, ascending; the first `liveCount` are valid.
    private let liveIndices: UnsafeMutablePointer<Int32>
    public private(set) var liveCount: Int
    public var dormantCount: Int { layer.outFeatures - liveCount }

    private let liveParameters: FloatBuffer  // [out x in + out]: the live units' rows of W, then their biases
    private let liveOutput: FloatBuffer      // [maxRows, out]: pre-activations of the live units
    private let liveColumnMax: FloatBuffer   // [out]

    public init(layer: Dense, maxRows: Int) {
        precondition(maxRows >= 1, "maxRows must be at least 1")
        self.layer = layer
        self.maxRows = maxRows
        let units = layer.outFeatures
        states = [State](repeating: .live, count: units)
        quietUnits = [Bool](repeating: false, count: units)
        snapshot = FloatBuffer(count: units * (layer.inFeatures + 1))
        observations = FloatBuffer(count: units + 1)
        liveIndices = .allocate(capacity: max(units, 1))
        for unit in 0..<units { liveIndices[unit] = Int32(unit) }
        liveCount = units
        liveParameters = FloatBuffer(count: units * (layer.inFeatures + 1))
        liveOutput = FloatBuffer(count: maxRows * units)
        liveColumnMax = FloatBuffer(count: units)
    }

    deinit { liveIndices.deallocate() }

    /// Starts an epoch's observation: every unit not dormant becomes a candidate.
    ///
    /// Its weights are remembered as they are now.
    public func beginEpoch(parameters: UnsafePointer<Float>) {
        let width = layer.inFeatures
        for unit in 0..<layer.outFeatures where states[unit] != .dormant {
            let saved = snapshot.pointer + unit * (width + 1)
            saved.update(from: parameters + layer.weightOffset + unit * width, count: width)
            saved[width] = parameters[layer.biasOffset + unit]
            states[unit] = .candidate
            observations[unit] = -.infinity
        }
        observations[layer.outFeatures] = 0
        rowsObserved = 0
    }

    /// The trainer's report of each update.
    ///
    /// `wroteQuietRows` unless the optimizer, on every rank, wrote none of the ranges of
    /// `quietWeightRanges`. Reports accumulate until the next `verify` (a rank with no rows in
    /// a step runs no forward, so no `verify`).
    public func noteUpdate(wroteQuietRows: Bool) {
        quietRowsMayHaveChanged = quietRowsMayHaveChanged || wroteQuietRows
    }

    /// Makes the next `verify` compare every unit's weights.
    public func distrustQuietRows() {
        quietRowsMayHaveChanged = true
    }

    /// Makes live every unit whose weights or bias are no longer bitwise its snapshot's.
    ///
    /// That is every dormant or candidate unit that moved. `forward` calls this first; the
    /// trainer calls it again after the epoch's last update.
    public func verify(parameters: UnsafePointer<Float>) {
        let width = layer.inFeatures
        let trustQuietRows = !quietRowsMayHaveChanged
        quietRowsMayHaveChanged = false
        var liveSetChanged = false
        for unit in 0..<layer.outFeatures where states[unit] != .live {
            let saved = snapshot.pointer + unit * (width + 1)
            let weights = parameters + layer.weightOffset + unit * width
            let unchanged = (trustQuietRows && quietUnits[unit]
                             || memcmp(saved, weights, width * MemoryLayout<Float>.stride) == 0)
                && saved[width].bitPattern == parameters[layer.biasOffset + unit].bitPattern
            if unchanged { continue }
            if states[unit] == .dormant { liveSetChanged = true }
            states[unit] = .live
            quietUnits[unit] = false
            observations[unit] = .infinity
        }
        if liveSetChanged { rebuildLiveIndices() }
    }

    /// The layer's forward with ReLU, output [rows, out], over the live units only.
    ///
    /// The dormant units' columns are 0. Observes every live unit's pre-activations and the
    /// input's largest |x|; `input` [rows, in] must be training rows.
    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>) {
        precondition(rows <= maxRows, "\(rows) rows exceed the workspace of \(maxRows)")
        verify(parameters: parameters)
        let units = layer.outFeatures
        let width = layer.inFeatures
        let live = liveCount
        let allLive = live == units
        // Every unit live: the dense layer's very call, so the very bits.
        let preActivations = allLive ? output : liveOutput.pointer
        if allLive {
            layer.forward(input: input, rows: rows, parameters: parameters, output: preActivations)
        } else {
            let compact = Self.gatherUnits(of: layer, parameters: parameters, units: UnsafePointer(liveIndices),
                                           count: live, into: liveParameters.pointer)
            compact.forward(input: input, rows: rows, parameters: liveParameters.pointer, output: preActivations)
        }

        liveColumnMax.pointer.update(repeating: -.infinity, count: live)
        vae_relu_column_max(preActivations, rows, live, liveColumnMax.pointer)
        for column in 0..<live {
            let unit = Int(liveIndices[column])
            let (seen, new) = (observations[unit], liveColumnMax[column])
            if new > seen || new.isNaN { observations[unit] = new }
        }
        let largestInput = vae_max_abs(input, rows * width)
        if largestInput > observations[units] || largestInput.isNaN { observations[units] = largestInput }
        rowsObserved += rows

        if !allLive {
            vae_scatter_block(liveOutput.pointer, nil, rows, liveIndices, live, output, rows, units)
        }
    }

    /// Ends the epoch, making dormant every candidate whose margin holds; returns how many.
    ///
    /// `reducedObservations` is the observations' maximum over ranks and `rowsSeen` the rows
    /// observed summed over ranks; only a candidate whose rows covered all `trainingRows`
    /// qualifies.
    @discardableResult
    public func endEpoch(reducedObservations: UnsafePointer<Float>, rowsSeen: Int, trainingRows: Int) -> Int {
        let units = layer.outFeatures
        let width = layer.inFeatures
        guard rowsSeen >= trainingRows, trainingRows > 0 else { return 0 }
        let largestInput = Double(reducedObservations[units])
        guard largestInput.isFinite else { return 0 }
        // gamma_n = n u / (1 - n u), u = 2^-24: the bound on |computed - exact| of a sum of n
        // products, relative to the sum of their magnitudes (Higham, Accuracy and Stability of
        // Numerical Algorithms, 3.1); the bias is one more term, and +1 covers the products.
        let terms = Double(width + 2)
        let unitRoundoff = 0x1p-24
        let gamma = terms * unitRoundoff / (1 - terms * unitRoundoff)
        var armed = 0
        for unit in 0..<units where states[unit] == .candidate {
            let largest = Double(reducedObservations[unit])
            guard largest.isFinite else { continue }
            let saved = snapshot.pointer + unit * (width + 1)
            var magnitude = 0.0
            for i in 0..<width { magnitude += Double(abs(saved[i])) }
            let bound = 2 * gamma * (Double(abs(saved[width])) + largestInput * magnitude)
            if largest + bound < 0 {
                states[unit] = .dormant
                armed += 1
            }
        }
        if armed > 0 { rebuildLiveIndices() }
        return armed
    }

    /// The weight rows of the dormant units for which `qualifies` holds, as ranges.
    ///
    /// Ranges of the flat parameters, ascending, adjacent rows merged (Adam qualifies rows
    /// whose first moments are all +0). Their gradient is exactly 0 on every training step,
    /// so Adam's quiet pass leaves them unwritten (`QuietRangeOptimizer`); these units are
    /// remembered for `verify`.
    public func quietWeightRanges(where qualifies: (Range<Int>) -> Bool) -> [Range<Int>] {
        let width = layer.inFeatures
        var ranges: [Range<Int>] = []
        for unit in 0..<layer.outFeatures {
            let row = (layer.weightOffset + unit * width)..<(layer.weightOffset + (unit + 1) * width)
            quietUnits[unit] = states[unit] == .dormant && qualifies(row)
            guard quietUnits[unit] else { continue }
            if let last = ranges.last, last.upperBound == row.lowerBound {
                ranges[ranges.count - 1] = last.lowerBound..<row.upperBound
            } else {
                ranges.append(row)
            }
        }
        return ranges
    }

    /// A layer of only `units` of `layer`, its parameters gathered into `destination`.
    ///
    /// Their rows of W, then their biases (at least count x (in + 1) floats); the layer's
    /// offsets index `destination`.
    private static func gatherUnits(of layer: Dense, parameters: UnsafePointer<Float>, units: UnsafePointer<Int32>,
                                    count: Int, into destination: UnsafeMutablePointer<Float>) -> Dense {
        let width = layer.inFeatures
        vae_gather_block(parameters + layer.weightOffset, width, units, count, nil, width, destination)
        vae_gather_block(parameters + layer.biasOffset, layer.outFeatures, nil, 1, units, count, destination + count * width)
        return Dense(inFeatures: width, outFeatures: count, weightOffset: 0, biasOffset: count * width)
    }

    private func rebuildLiveIndices() {
        var count = 0
        for unit in 0..<layer.outFeatures where states[unit] != .dormant {
            liveIndices[count] = Int32(unit)
            count += 1
        }
        liveCount = count
    }

    /// Whether this BLAS gives the compact product X W^T the dense product's bits.
    ///
    /// That is, whether each element has the same bits when W holds only some of the units
    /// (the gathered layer `forward` runs, through the same calls) as when it holds all of
    /// them, for each of `rowCounts` rows. Made-up data: the summation order depends only on
    /// the shapes, the kernel and the threads.
    public static func compactProductMatchesDense(layer: Dense, rowCounts: [Int]) -> Bool {
        let (units, width) = (layer.outFeatures, layer.inFeatures)
        guard units >= 2, width >= 1, let maxRows = rowCounts.max(), maxRows >= 1 else { return true }
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Float {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
        let input = FloatBuffer(count: maxRows * width)
        for i in 0..<input.count { let value = next(); input[i] = value < 0 ? 0 : value }
        // The layer alone in its own buffer: W, then b.
        let probe = Dense(inFeatures: width, outFeatures: units, weightOffset: 0, biasOffset: units * width)
        let parameters = FloatBuffer(count: units * (width + 1))
        for i in 0..<parameters.count { parameters[i] = next() * (i < units * width ? 0.1 : 1) }
        let dense = FloatBuffer(count: maxRows * units)
        let compact = FloatBuffer(count: maxRows * units)
        let compactParameters = FloatBuffer(count: units * (width + 1))
        // Every other unit; and all but the first and last (odd widths, shifted columns).
        let subsets: [[Int32]] = [Array(stride(from: 0, to: units, by: 2)).map { Int32($0) },
                                  (1..<(units - 1)).map { Int32($0) }].filter { !$0.isEmpty }
        for rows in Set(rowCounts) where rows >= 1 {
            probe.forward(input: input.pointer, rows: rows, parameters: parameters.pointer, output: dense.pointer)
            for subset in subsets {
                let layerOfSubset = subset.withUnsafeBufferPointer { indices in
                    gatherUnits(of: probe, parameters: parameters.pointer, units: indices.baseAddress!,
                                count: indices.count, into: compactParameters.pointer)
                }
                layerOfSubset.forward(input: input.pointer, rows: rows, parameters: compactParameters.pointer,
                                      output: compact.pointer)
                for row in 0..<rows {
                    for (column, unit) in subset.enumerated()
                    where compact[row * subset.count + column].bitPattern != dense[row * units + Int(unit)].bitPattern {
                        return false
                    }
                }
            }
        }
        return true
    }
}
