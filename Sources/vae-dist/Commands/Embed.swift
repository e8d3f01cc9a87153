import ArgumentParser
import Foundation
import VAEIO
import VAEParallel

/// `vae-dist embed`: latent codes of a data file, one process or under mpirun/srun.
struct Embed: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Encode a data file with a trained model into an HDF5 file of latent codes (mu, logvar).",
        discussion: """
            Writes /mu and /logvar [N, Z] float32, /index [N] int64 (the row in the data file) and
            /labels [N] when the data has labels, with the checkpoint's step, config and the data's
            fingerprint as root attributes (docs/embeddings.md). Every rank encodes a share of each
            block of rows and rank 0 writes the blocks in data order: the file is the same, bit for
            bit, for any number of ranks. It is written to a temporary file and renamed when complete.
            """)

    @OptionGroup var trained: CheckpointOption
    @Option(help: "Data to encode (HDF5 /features). Default: Fashion-MNIST train split, when the checkpoint was trained on it.")
    var data: String?
    @Option(help: "Output file. Default: <run directory>/embeddings.h5.")
    var out: String?
    @Option(help: "Rows per encoder call (fixed whatever the number of ranks).")
    var batch: Int = 256
    @Option(help: "Rows gathered on rank 0 and written at a time (bounds rank 0's memory).")
    var blockRows: Int = 65_536
    @Option(help: "Gzip level of the output datasets, 0 (none) to 9.")
    var compressionLevel: Int = 4
    @OptionGroup(title: "Progress")
    var progress: ProgressOptions
    @OptionGroup(title: "GEMM")
    var gemmOptions: GEMMOptions

    func validate() throws {
        try validateOutputFile(out, option: "--out", example: "runs/x/embeddings.h5")
        guard batch >= 1 else { throw ValidationError("--batch must be at least 1, got \(batch)") }
        guard blockRows >= 1 else { throw ValidationError("--block-rows must be at least 1, got \(blockRows)") }
        guard (0...9).contains(compressionLevel) else {
            throw ValidationError("--compression-level must be 0 (none) to 9, got \(compressionLevel)")
        }
    }

    func run() throws {
        try withCommunicator { communicator in
            try gemmOptions.install(communicator: communicator)
            var options = EmbeddingOptions(checkpoint: trained.checkpoint)
            options.dataPath = data
            options.outputPath = out
            options.microBatch = batch
            options.blockRows = blockRows
            options.gzipLevel = compressionLevel == 0 ? nil : compressionLevel
            options.progress = progress.style
            try EmbeddingExport(options: options, communicator: communicator, log: Console.print,
                                warn: Console.printError).run()
        }
    }
}
