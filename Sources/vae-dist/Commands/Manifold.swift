import ArgumentParser
import VAEIO

/// `vae-dist manifold`: the learned manifold of a 2-D latent space (Kingma & Welling, figure 4).
struct Manifold: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Draw the learned 2-D manifold: decoded images over a grid of the latent plane.",
        discussion: """
            Only for models with --latent 2. The grid's coordinates are the inverse normal CDF of \
            evenly spaced quantiles, so it covers the prior's mass (Kingma & Welling 2013, figure 4); \
            z1 grows left to right, z2 bottom to top.
            """)

    @OptionGroup var picture: PictureOptions

    @Option(help: "Grid points per axis.")
    var steps: Int = 20

    @Option(help: ArgumentHelp(
        "Quantile range LO:HI with 0 < LO < HI < 1 (default: 0.5/steps:1-0.5/steps, the midpoints of equal-mass bins).",
        valueName: "LO:HI"))
    var range: String?

    @Option(help: "A data file to read the image shape from (its image_shape attribute).")
    var data: String?

    func validate() throws {
        guard (1...100).contains(steps) else { throw ValidationError("--steps must be 1...100, got \(steps)") }
        if let range, Self.parseRange(range) == nil {
            throw ValidationError("--range must be LO:HI quantiles with 0 < LO < HI < 1, e.g. 0.05:0.95, got '\(range)'")
        }
    }

    static func parseRange(_ text: String) -> ClosedRange<Double>? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { Double($0) }
        guard parts.count == 2, let low = parts[0], let high = parts[1], low > 0, high < 1, low < high else { return nil }
        return low...high
    }

    func run() throws {
        if PictureOptions.isNonRootRank { return }
        let (model, path) = try picture.loadModel()
        try Pictures.requireTwoDimensionalLatentSpace(model)
        let shape = try picture.shape(for: model, dataFile: data)
        let result = try Pictures.manifold(model: model, shape: shape, steps: steps,
                                           quantileRange: range.flatMap(Self.parseRange), scaling: picture.scaling)
        try picture.write(result, what: "the learned 2-D manifold", checkpointPath: path, model: model)
    }
}
