import ArgumentParser
import VAEIO
import VAEParallel

/// `vae-dist inspect FILE`: the layout of any HDF5 file.
struct Inspect: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print an HDF5 file's groups, datasets (shape, dtype, chunks, filters) and attributes.",
        discussion: "Works on data, checkpoint and embedding files, and on any other HDF5 file."
    )

    @Argument(help: "The HDF5 file.")
    var file: String

    @Option(help: "Longest attribute string shown before it is cut (JSON configs are long).")
    var maxAttributeCharacters: Int = 120

    func validate() throws {
        guard maxAttributeCharacters >= 10 else {
            throw ValidationError("--max-attribute-characters must be at least 10, got \(maxAttributeCharacters)")
        }
    }

    func run() throws {
        Console.print(try describeHDF5File(file, maxAttributeCharacters: maxAttributeCharacters))
    }
}
