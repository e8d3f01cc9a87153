import Foundation

/// Bytes a model and its workspaces will take, counted before anything is allocated.
///
/// A user's numbers (`--hidden 40000000`, `--samples 100000`, `--batch` in the
/// trillions) used to reach the allocator, which aborts the process ("failed to
/// allocate 20480000000 bytes"), or an integer product, which traps on overflow. Every
/// size here is computed with overflow-checked arithmetic (nil: more than an Int holds),
/// and `NodeMemory.require` turns a need larger than the node into one line.
public enum MemoryEstimate {
    /// The product of `factors`, nil when it overflows.
    public static func product(_ factors: Int...) -> Int? { product(factors) }

    public static func product(_ factors: [Int]) -> Int? {
        var result = 1
        for factor in factors {
            let (value, overflow) = result.multipliedReportingOverflow(by: factor)
            if overflow { return nil }
            result = value
        }
        return result
    }

    /// The sum of `terms`, nil when one is nil or it overflows.
    public static func sum(_ terms: [Int?]) -> Int? {
        var result = 0
        for term in terms {
            guard let term else { return nil }
            let (value, overflow) = result.addingReportingOverflow(term)
            if overflow { return nil }
            result = value
        }
        return result
    }

    /// Bytes of `floats` Float32 values, nil when either overflows.
    public static func bytes(floats: Int?) -> Int? {
        floats.flatMap { product($0, MemoryLayout<Float>.size) }
    }
}

extension ModelArchitecture {
    /// (in, out) of every Dense layer, in `ModelLayers` order: encoder, head, decoder, output.
    var denseShapes: [(inFeatures: Int, outFeatures: Int)] {
        let widths = [dataDimension] + hiddenSizes
        let encoder = zip(widths, widths.dropFirst()).map { ($0, $1) }
        let head = (widths.last!, 2 * latentDimension)
        let decoderWidths = [latentDimension] + hiddenSizes.reversed()
        let decoder = zip(decoderWidths, decoderWidths.dropFirst()).map { ($0, $1) }
        let output = (decoderWidths.last!, dataDimension)
        return encoder + [head] + decoder + [output]
    }

    /// The number of parameters `ModelLayers` lays out, nil when it overflows an Int
    /// (where laying them out would trap).
    public var checkedParameterCount: Int? {
        if let convolution {
            return MemoryEstimate.sum([convolution.checkedParameterCount(latentDimension: latentDimension),
                                       learnedVarianceFloor == nil ? 0 : dataDimension])
        }
        let layers = denseShapes.map { shape in
            MemoryEstimate.product(shape.inFeatures, shape.outFeatures).flatMap { MemoryEstimate.sum([$0, shape.outFeatures]) }
        }
        return MemoryEstimate.sum(layers + [learnedVarianceFloor == nil ? 0 : dataDimension])
    }
}

extension ELBOObjective {
    /// An upper estimate of the Float32 values the objective allocates for `maxRows` rows
    /// and `samples` draws each, nil when the count overflows.
    ///
    /// Each layer stack holds every layer's output and output gradient and a scratch as
    /// wide as its widest layer (`LayerStack`), the encoder's for `maxRows` rows, the
    /// decoder's for every draw; the active-unit encoder a second copy of the encoder's
    /// outputs and a weight block; the posterior sample a few [draws, Z] buffers.
    public static func workspaceFloats(architecture: ModelArchitecture, samples: Int, maxRows: Int) -> Int? {
        let (z, d) = (architecture.latentDimension, architecture.dataDimension)
        let hidden = architecture.hiddenSizes
        guard let draws = MemoryEstimate.product(maxRows, samples) else { return nil }
        if let convolution = architecture.convolution {
            return MemoryEstimate.sum([convolution.checkedWorkspaceFloats(rows: maxRows, draws: draws, latentDimension: z),
                                       MemoryEstimate.product(draws, z, 4), 2 * d])
        }
        let widest = (hidden + [2 * z, d]).max()!
        let encoderWidths = MemoryEstimate.sum(hidden.map { $0 } + [2 * z])
        let decoderWidths = MemoryEstimate.sum(hidden.map { $0 } + [d])
        let weights = architecture.denseShapes.prefix(hidden.count + 1).map { MemoryEstimate.product($0.inFeatures, $0.outFeatures) }
        return MemoryEstimate.sum([
            encoderWidths.flatMap { MemoryEstimate.product(maxRows, $0, 3) },   // outputs, gradients, active copies
            MemoryEstimate.product(maxRows, widest),                             // the encoder's scratch
            MemoryEstimate.sum(weights),                                         // the active-weight block, at most
            decoderWidths.flatMap { MemoryEstimate.product(draws, $0, 2) },      // outputs and gradients
            MemoryEstimate.product(draws, widest),                               // the decoder's scratch
            MemoryEstimate.product(draws, z, 4),                                 // noise, codes, their gradients
            2 * d,
        ])
    }
}

extension TrainingConfiguration {
    /// Bytes one rank allocates to train on at most `rowsPerRank` rows per step: the
    /// parameters, the gradient buffer, a copy at start-up, the optimizer's state, the
    /// objective's workspace and the batch. Nil when the count overflows.
    public func trainingBytes(rowsPerRank: Int) -> Int? {
        guard let parameters = architecture.checkedParameterCount else { return nil }
        return MemoryEstimate.bytes(floats: MemoryEstimate.sum([
            MemoryEstimate.product(parameters, 3 + optimizer.stateBufferCount),
            ELBOObjective.workspaceFloats(architecture: architecture, samples: samples, maxRows: rowsPerRank),
            MemoryEstimate.product(rowsPerRank, architecture.dataDimension + 2),
        ]))
    }
}
