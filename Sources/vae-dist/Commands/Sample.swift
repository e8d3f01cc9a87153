import ArgumentParser
import VAEIO

/// `vae-dist sample`: decoded draws from the prior, as a PNG grid.
struct Sample: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode draws z ~ N(0, I) from the prior into a PNG grid of images.",
        discussion: """
            Shows the decoder's mean for each draw: pixel probabilities (sigmoid of the logits) \
            for a Bernoulli model, the means for a Gaussian one. Draws are a pure function of --seed. \
            Runs as one process (under mpirun only rank 0 writes).
            """)

    @OptionGroup var picture: PictureOptions

    @Option(help: "Number of draws.")
    var count: Int = 64

    @Option(help: "Images per grid row (default: as square a grid as possible).")
    var columns: Int?

    @Option(help: "Seed of the draws.")
    var seed: UInt64 = 0

    @Option(help: "Scale of the draws: z = temperature * eps, eps ~ N(0, I). Below 1 gives more typical images.")
    var temperature: Float = 1

    @Option(help: "A data file to read the image shape from (its image_shape attribute).")
    var data: String?

    func validate() throws {
        guard (1...4096).contains(count) else { throw ValidationError("--count must be 1...4096, got \(count)") }
        if let columns, columns < 1 { throw ValidationError("--columns must be at least 1, got \(columns)") }
        guard temperature.isFinite, temperature > 0 else {
            throw ValidationError("--temperature must be a positive number, got \(temperature)")
        }
    }

    func run() throws {
        if PictureOptions.isNonRootRank { return }
        let (model, path) = try picture.loadModel()
        let shape = try picture.shape(for: model, dataFile: data)
        let result = Pictures.samples(model: model, shape: shape, count: count, columns: columns, seed: seed,
                                      temperature: temperature, scaling: picture.scaling)
        try picture.write(result, what: "\(count) prior draws (seed \(seed), temperature \(temperature))", checkpointPath: path, model: model)
    }
}
