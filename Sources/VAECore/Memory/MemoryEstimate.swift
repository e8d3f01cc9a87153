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
    /// (in, out) of every Dense layer, in `buildLayers` order: encoder, head, decoder, output.
    var layerShapes: [(inFeatures: Int, outFeatures: Int)] {
        let widths = [dataDimension] + hiddenSizes
        let encoder = zip(widths, widths.dropFirst()).map { ($0, $1) }
        let head = (widths.last!, 2 * latentDimension)
        let decoderWidths = [latentDimension] + hiddenSizes.reversed()
        let decoder = zip(decoderWidths, decoderWidths.dropFirst()).map { ($0, $1) }
        let output = (decoderWidths.last!, dataDimension)
        return encoder + [head] + decoder + [output]
    }

    /// The number of parameters `buildLayers` lays out, nil when it overflows an Int.
    public var checkedParameterCount: Int? {
        let layers = layerShapes.map { shape in
            MemoryEstimate.product(shape.inFeatures, shape.outFeatures).flatMap { MemoryEstimate.sum([$0, shape.outFeatures]) }
        }
        return MemoryEstimate.sum(layers + [learnedVarianceFloor == nil ? 0 : dataDimension])
    }
}

extension ELBOObjective {
    /// The Float32 values `init(architecture:settings:maxRows:)` allocates for its
    /// workspaces (the sizes there, added up), nil when the count overflows.
    public static func workspaceFloats(architecture: ModelArchitecture, samples: Int, maxRows: Int) -> Int? {
        let layers = architecture.layerShapes
        let hidden = architecture.hiddenSizes
        let (z, d) = (architecture.latentDimension, architecture.dataDimension)
        guard let draws = MemoryEstimate.product(maxRows, samples) else { return nil }
        let encoderRows = hidden.map { MemoryEstimate.product(maxRows, $0, 2) }       // activations, active copies
        let widestWeight = layers.prefix(hidden.count + 1).map { MemoryEstimate.product($0.inFeatures, $0.outFeatures) }
        let decoderRows = hidden.map { MemoryEstimate.product(draws, $0) }
        return MemoryEstimate.sum(encoderRows + decoderRows + [
            MemoryEstimate.sum(widestWeight),                                 // the active-weight scratch, at most
            MemoryEstimate.product(maxRows, 2 * z, 2),                        // head output and gradient
            MemoryEstimate.product(draws, z, 4),                              // noise, latent, gradient, transposed
            MemoryEstimate.product(draws, d),                                 // decoder output
            MemoryEstimate.product(draws, hidden.max() ?? 0, 2),              // gradient scratch
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
