import Foundation
import VAECore

/// A composed picture and the lines to tell the user about it.
public struct Picture: Sendable {
    public var grid: ImageGrid
    public var notes: [String]
}

/// The pictures of `vae-dist sample`, `reconstruct` and `manifold` (docs/pictures.md).
public enum Pictures {
    /// Prior draws use the evaluation-noise stream at rows from 2^31 on (draw 0,
    /// epoch 0): data rows, which key the evaluation noise, never reach them.
    public static let priorRowBase = 1 << 31

    /// The `count` prior draws z ~ N(0, I) of `seed`, times `temperature`, as [count, Z].
    public static func priorDraws(count: Int, latentDimension: Int, seed: UInt64, temperature: Float) -> [Float] {
        let streams = RandomStreams(seed: seed)
        var codes = [Float](repeating: 0, count: count * latentDimension)
        codes.withUnsafeMutableBufferPointer { buffer in
            for index in 0..<count {
                streams.normals(purpose: .evaluationNoise, epoch: 0, row: priorRowBase + index, draw: 0,
                                count: latentDimension, into: buffer.baseAddress! + index * latentDimension)
            }
        }
        return temperature == 1 ? codes : codes.map { $0 * temperature }
    }

    /// Decoded prior draws in a grid of `columns` (default: as square as possible), row by row.
    public static func samples(model: PictureModel, shape: ImageShape, count: Int, columns: Int? = nil,
                               seed: UInt64, temperature: Float, scaling: DisplayScaling = .auto) -> Picture {
        let codes = priorDraws(count: count, latentDimension: model.architecture.latentDimension, seed: seed, temperature: temperature)
        let means = model.pixelMeans(latentCodes: codes)
        let mapping = DisplayMapping.choose(scaling, likelihood: model.likelihood, values: means, dataInUnitInterval: nil)
        let columnCount = min(columns ?? Int(Double(count).squareRoot().rounded(.up)), count)
        var grid = ImageGrid(tileHeight: shape.height, tileWidth: shape.width, channels: shape.channels,
                             rows: (count + columnCount - 1) / columnCount, columns: columnCount)
        place(mapping.apply(means), tiles: count, shape: shape, into: &grid) { ($0 / columnCount, $0 % columnCount) }
        return Picture(grid: grid, notes: mapping.note.map { [$0] } ?? [])
    }

    /// Inputs beside their reconstructions decode(mu): bands of one row of
    /// `columns` inputs over the row of their reconstructions, bands further apart
    /// than tiles. `inputs` is [count, D] as the model sees it (scaled).
    public static func reconstructions(model: PictureModel, shape: ImageShape, inputs: [Float], columns: Int = 8,
                                       scaling: DisplayScaling = .auto) -> Picture {
        let d = model.architecture.dataDimension
        let count = inputs.count / d
        let reconstructions = model.pixelMeans(latentCodes: model.posteriorMeans(rows: inputs))
        let inUnitInterval = inputs.allSatisfy { $0 >= 0 && $0 <= 1 }
        let mapping = DisplayMapping.choose(scaling, likelihood: model.likelihood, values: inputs + reconstructions,
                                            dataInUnitInterval: inUnitInterval)
        let columnCount = min(columns, count)
        let bands = (count + columnCount - 1) / columnCount
        var grid = ImageGrid(tileHeight: shape.height, tileWidth: shape.width, channels: shape.channels,
                             rows: 2 * bands, columns: columnCount, separator: 2, rowsPerBand: 2, bandSeparator: 8)
        // Inputs and reconstructions share one mapping, so their intensities compare.
        place(mapping.apply(inputs), tiles: count, shape: shape, into: &grid) { (2 * ($0 / columnCount), $0 % columnCount) }
        place(mapping.apply(reconstructions), tiles: count, shape: shape, into: &grid) { (2 * ($0 / columnCount) + 1, $0 % columnCount) }
        var notes = ["rows alternate: inputs, then their reconstructions (decoder mean at the posterior mean)"]
        if let note = mapping.note { notes.append(note) }
        return Picture(grid: grid, notes: notes)
    }

    /// The quantiles of the manifold grid: `steps` evenly spaced values from
    /// `range.lowerBound` to `range.upperBound`; by default the midpoints
    /// (i + 0.5) / steps of `steps` equal-mass bins, so the grid spans the prior's mass.
    public static func manifoldQuantiles(steps: Int, range: ClosedRange<Double>? = nil) -> [Double] {
        let bounds = range ?? (0.5 / Double(steps))...(1 - 0.5 / Double(steps))
        guard steps > 1 else { return [(bounds.lowerBound + bounds.upperBound) / 2] }
        return (0..<steps).map { bounds.lowerBound + (bounds.upperBound - bounds.lowerBound) * Double($0) / Double(steps - 1) }
    }

    /// Kingma & Welling's figure 4: the decoder's means over a `steps` x `steps`
    /// grid of the 2-D latent plane at z_i = Phi^-1(q) for evenly spaced quantiles
    /// q; z1 grows left to right, z2 bottom to top (as on a plot). No separators:
    /// neighbouring tiles are neighbouring codes.
    public static func manifold(model: PictureModel, shape: ImageShape, steps: Int, quantileRange: ClosedRange<Double>? = nil,
                                scaling: DisplayScaling = .auto) throws -> Picture {
        try requireTwoDimensionalLatentSpace(model)
        let quantiles = manifoldQuantiles(steps: steps, range: quantileRange)
        let coordinates = quantiles.map { Float(standardNormalQuantile($0)) }
        var codes = [Float]()
        codes.reserveCapacity(steps * steps * 2)
        for row in 0..<steps {
            for column in 0..<steps { codes += [coordinates[column], coordinates[steps - 1 - row]] }
        }
        let means = model.pixelMeans(latentCodes: codes)
        let mapping = DisplayMapping.choose(scaling, likelihood: model.likelihood, values: means, dataInUnitInterval: nil)
        var grid = ImageGrid(tileHeight: shape.height, tileWidth: shape.width, channels: shape.channels,
                             rows: steps, columns: steps, separator: 0)
        place(mapping.apply(means), tiles: steps * steps, shape: shape, into: &grid) { ($0 / steps, $0 % steps) }
        var notes = [String(format: "%ldx%ld grid at prior quantiles %.4g...%.4g (z from %.3f to %.3f); z1 left to right, z2 bottom to top",
                            steps, steps, quantiles.first!, quantiles.last!, coordinates.first!, coordinates.last!)]
        if let note = mapping.note { notes.append(note) }
        return Picture(grid: grid, notes: notes)
    }

    /// The manifold's precondition, checked before anything else is done.
    public static func requireTwoDimensionalLatentSpace(_ model: PictureModel) throws {
        let z = model.architecture.latentDimension
        guard z == 2 else {
            throw ImageError("the manifold is drawn only for a 2-dimensional latent space; this checkpoint's model has latent dimension \(z) "
                             + "(train with --latent 2, or use `vae-dist sample`)")
        }
    }

    /// Puts tile after tile of `values` (rows [C, H, W], channels first as data rows are)
    /// into the grid, whose pixels are [H, W, C] as PNG stores them.
    private static func place(_ values: [Float], tiles: Int, shape: ImageShape, into grid: inout ImageGrid,
                              cell: (Int) -> (row: Int, column: Int)) {
        let size = shape.valueCount
        let plane = shape.height * shape.width
        var interleaved = [Float](repeating: 0, count: size)
        for index in 0..<tiles {
            let (row, column) = cell(index)
            let tile = values[(index * size)..<((index + 1) * size)]
            for channel in 0..<shape.channels {
                for pixel in 0..<plane { interleaved[pixel * shape.channels + channel] = tile[tile.startIndex + channel * plane + pixel] }
            }
            grid.place(interleaved, row: row, column: column)
        }
    }

    /// Rows `rows` of a data file, scaled as the model sees them, [rows.count, D].
    public static func readRows(_ rows: [Int], of dataFile: DataFile, bernoulli: Bool) throws -> [Float] {
        let source = try makeMinibatchSource(dataFile: dataFile, mode: .streaming, memoryBudget: 64 << 20, bernoulli: bernoulli)
        try source.beginEpoch(plan: [rows])
        var values = [Float](repeating: 0, count: rows.count * dataFile.featureCount)
        _ = try values.withUnsafeMutableBufferPointer { try source.nextBatch(into: $0.baseAddress!) }
        return values
    }
}
