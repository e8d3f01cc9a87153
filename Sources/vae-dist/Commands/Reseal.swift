import ArgumentParser
import VAEIO
import VAEParallel

/// `vae-dist reseal FILE...`: a new checksum header for files changed on purpose.
struct Reseal: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a new checksum header into HDF5 files vae-dist wrote and you changed on purpose.",
        discussion: """
            Every file vae-dist writes starts with a checksum of its other bytes, and a file \
            that no longer matches is refused as corrupt (docs/faults.md). After changing a \
            data, checkpoint or embedding file on purpose (h5py's r+ mode, h5repack in place), \
            reseal it. Do not reseal a file that changed by accident: it is corrupt.
            """
    )

    @Argument(help: "The files.")
    var files: [String]

    func run() throws {
        for file in files {
            let header = try FileChecksum.reseal(file)
            Console.print("\(file): crc32 \(header.checksumHex) of the \(header.coveredByteCount) bytes after the "
                  + "\(ChecksumHeader.size)-byte header")
        }
    }
}
