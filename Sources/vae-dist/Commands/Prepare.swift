import ArgumentParser
import Foundation
import VAEIO
import VAEParallel

/// `vae-dist prepare <format> ...`: converts data into the vae-dist HDF5 layout.
struct Prepare: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Convert data (IDX, CSV, NPY, an h5py file, or the packaged Fashion-MNIST) into a vae-dist HDF5 data file.",
        discussion: "Image arrays [N, H, W], [N, C, H, W] and [N, H, W, C] are stored as rows [C, H, W] with image_shape recorded; "
            + "float64 is stored as float32 (docs/data.md).",
        subcommands: [FashionMNIST.self, IDX.self, CSV.self, NPY.self, HDF5.self]
    )
}

extension Prepare {
    struct FashionMNIST: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "fashion-mnist",
            abstract: "Prepare the default data: Fashion-MNIST train and test files from the Debian package.",
            discussion: "Writes fashion-mnist-train.h5 and fashion-mnist-test.h5 into --data-dir, "
                + "$VAE_DIST_DATA_DIR, or ./data (first one set)."
        )

        @Option(help: "Directory for the two data files (default: $VAE_DIST_DATA_DIR, else ./data).")
        var dataDir: String?

        @Option(help: "Directory holding the four *-ubyte.gz IDX files.")
        var sourceDir: String = DefaultData.fashionMNISTSourceDirectory

        func run() throws {
            try DefaultData.prepareFashionMNIST(sourceDirectory: sourceDir, dataDirectory: dataDir ?? DefaultData.dataDirectory(),
                                             log: Console.print)
        }
    }

    struct IDX: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "idx",
            abstract: "Convert IDX images (+ labels), raw or .gz, as MNIST and Fashion-MNIST ship them."
        )

        @Option(help: "IDX images: uint8 (stored as uint8 with scale 1/255) or float32.")
        var images: String

        @Option(help: "IDX labels, rank 1, one per image.")
        var labels: String?

        @OptionGroup var output: OutputOptions

        func run() throws {
            try output.prepare("prepare idx") {
                try DataPreparation.prepareIDX(images: images, labels: labels, output: $0, gzipLevel: output.gzipLevel,
                                               onProgress: $1)
            }
        }
    }

    struct CSV: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "csv",
            abstract: "Convert a numeric CSV (RFC 4180: quoted fields, CRLF, a byte order mark; raw or .gz) into float32 features, one row per record."
        )

        @Argument(help: "The CSV file.")
        var input: String

        @Option(help: "Label column: a 0-based index, -1 or 'last' for the last column, or a header name. Default: no labels.")
        var labelColumn: String?

        @Flag(inversion: .prefixedNo, help: "Whether the first line is a header (default: detected, a line with any non-numeric field).")
        var header: Bool?

        @Option(help: "Field delimiter: one ASCII character other than a quote or a line break, or 'tab'.")
        var delimiter: String = ","

        /// `tab` spells the tab character, which is awkward to type in a shell.
        var delimiterCharacter: Character { delimiter == "tab" ? "\t" : delimiter.first! }

        @OptionGroup var output: OutputOptions

        func validate() throws {
            guard delimiter == "tab" || (delimiter.count == 1 && ![nil, 0x22, 0x0A, 0x0D].contains(delimiter.first!.asciiValue)) else {
                throw ValidationError("--delimiter must be one ASCII character other than a quote or a line break, or 'tab'; got '\(delimiter)'")
            }
        }

        func run() throws {
            try output.prepare("prepare csv", unit: "bytes") {
                try DataPreparation.prepareCSV(
                    input, output: $0, labelColumn: labelColumn.map(CSVLabelColumn.init(argument:)),
                    hasHeader: header, delimiter: delimiterCharacter, gzipLevel: output.gzipLevel, onProgress: $1)
            }
        }
    }

    struct NPY: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "npy",
            abstract: "Convert a NumPy .npy array (uint8, float32 or float64, C order): [N, D] rows, or images [N, H, W], [N, C, H, W], [N, H, W, C]."
        )

        @Argument(help: "The .npy features file.")
        var input: String

        @Option(help: "A 1-D integer .npy with one label per row.")
        var labels: String?

        @OptionGroup var arrays: ArrayOptions

        @OptionGroup var output: OutputOptions

        func run() throws {
            try output.prepare("prepare npy") {
                try DataPreparation.prepareNPY(input, labels: labels, output: $0, scale: arrays.scale,
                                               layout: arrays.layout, gzipLevel: output.gzipLevel, onProgress: $1)
            }
        }
    }

    struct HDF5: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hdf5",
            abstract: "Convert an HDF5 file of your own (h5py): uint8, float32 or float64 [N, D] rows or images [N, H, W], [N, C, H, W], [N, H, W, C].",
            discussion: "Training reads /features [N, D] of uint8 or float32 as it is; this converts what it does not. "
                + "label_names (an attribute of the root or of the labels) is carried over."
        )

        @Argument(help: "The HDF5 file.")
        var input: String

        @Option(help: "The dataset holding the rows.")
        var features: String = "features"

        @Option(help: "The dataset of integer labels, one per row (default: /labels when the file has it).")
        var labels: String?

        @OptionGroup var arrays: ArrayOptions

        @OptionGroup var output: OutputOptions

        func run() throws {
            try output.prepare("prepare hdf5") {
                try DataPreparation.prepareHDF5(input, features: features, labels: labels, output: $0,
                                                scale: arrays.scale, layout: arrays.layout, gzipLevel: output.gzipLevel,
                                                onProgress: $1)
            }
        }
    }
}

/// Options of the converters that read arrays (NPY, HDF5).
struct ArrayOptions: ParsableArguments {
    @Option(help: "Scale stored with uint8 features: value = byte * scale (default: the input's, else 1/255). Not used for floats.")
    var scale: Double?

    @Option(help: ArgumentHelp("Where the channels of a 4-D array are: auto (the smaller of dimensions 1 and 3), nchw or nhwc.",
                               valueName: "auto|nchw|nhwc"))
    var layout: ImageLayout = .auto

    func validate() throws {
        if let scale, !(scale.isFinite && scale > 0) {
            throw ValidationError("--scale must be a finite number > 0, got \(scale)")
        }
    }
}
