import ArgumentParser
import Foundation
import VAEIO

@main
struct VAEDist: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vae-dist",
        abstract: "Data-parallel Variational Autoencoder training on HDF5 data.",
        subcommands: [Prepare.self, Inspect.self, Check.self]
    )

    /// Runs the command; user errors become one line `vae-dist: error: <message>`
    /// on stderr and a non-zero exit, never a stack trace.
    static func main() {
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            let code = exitCode(for: error)
            if code == .success { exit(withError: error) }  // --help, --version
            let message: String
            switch error {
            case let error as DataError: message = error.description
            case let error as HDF5Error: message = error.description
            default: message = VAEDist.message(for: error)
            }
            let oneLine = message.split(separator: "\n").first.map(String.init) ?? "unknown error"
            FileHandle.standardError.write(Data("vae-dist: error: \(oneLine)\n".utf8))
            Foundation.exit(code.rawValue == 0 ? 1 : code.rawValue)
        }
    }
}
