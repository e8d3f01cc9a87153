import ArgumentParser
import Foundation
import VAEIO
import VAEParallel

/// Options every picture command shares: which model, where the PNG goes, how rows become images.
struct PictureOptions: ParsableArguments {
    @OptionGroup var trained: CheckpointOption

    @Option(help: ArgumentHelp("The PNG file to write (replaced atomically if it exists).", valueName: "file.png"))
    var out: String

    @Option(help: ArgumentHelp(
        "Image shape of a data row: HxW (grayscale) or 3xHxW (RGB; channels first, as image_shape [C, H, W]).",
        discussion: "Default: the data file's image_shape attribute, else the checkpoint's (its training data's), else a square image when D is a perfect square.",
        valueName: "HxW"))
    var imageShape: String?

    @Option(help: "Gaussian means to [0, 1]: auto (clamp for [0, 1] data, else min-max), clamp or minmax. Bernoulli means are probabilities already.")
    var scaling: DisplayScaling = .auto

    @Option(help: ArgumentHelp("Draw every pixel as NxN pixels (nearest neighbour), e.g. 4 to show 28x28 tiles at 112x112.",
                               valueName: "N"))
    var scale: Int = 1

    func validate() throws {
        guard (1...64).contains(scale) else { throw ValidationError("--scale must be 1...64, got \(scale)") }
        if let imageShape, ImageShape(parsing: imageShape) == nil {
            throw ValidationError("--image-shape must be HxW or CxHxW with positive sizes, e.g. 28x28 or 3x32x32, got '\(imageShape)'")
        }
        try validateOutputFile(out, option: "--out", example: "samples.png")
    }

    /// The checkpoint's model.
    func loadModel() throws -> (model: PictureModel, path: String) {
        let path = try CheckpointLocation.resolve(trained.checkpoint).path
        return (PictureModel(checkpoint: try Checkpoint.read(path)), path)
    }

    /// `dataFileVerified`: the command opened the data file already (its checksum checked).
    func shape(for model: PictureModel, dataFile: String?, dataFileVerified: Bool = false) throws -> ImageShape {
        try ImageShape.resolve(explicit: imageShape.flatMap(ImageShape.init(parsing:)), dataFile: dataFile,
                               dataFileVerified: dataFileVerified,
                               checkpoint: model.checkpoint.imageShape, featureCount: model.architecture.dataDimension)
    }

    /// Writes the picture and reports it with its notes.
    func write(_ picture: Picture, what: String, checkpointPath: String, model: PictureModel) throws {
        try picture.grid.writePNG(to: out, scale: scale)
        let grid = picture.grid
        Console.print("wrote \(out): \(what), \(grid.pixelWidth * scale)x\(grid.pixelHeight * scale) pixels, "
              + "\(grid.tileHeight)x\(grid.tileWidth)\(grid.channels == 3 ? " RGB" : "") tiles (\(checkpointPath), epoch \(model.checkpoint.epoch), step \(model.checkpoint.step))")
        for note in picture.notes { Console.print("  \(note)") }
    }

    /// Pictures are one process's work.
    ///
    /// Under mpirun or srun every rank would write the same file; all but rank 0 step
    /// aside (no MPI is initialised).
    static var isNonRootRank: Bool { Launch.isNonRootRank() }
}
