import ArgumentParser
import Foundation
import VAEIO
import VAEParallel

// Replaces ArgumentParser's default `main()` so that every failure, from a bad option
// to an agreed rank failure, ends as ONE line `vae-dist: error: ...` on standard error
// with a non-zero exit: under mpirun each rank's line stays one grep-able line.
extension VAEDist {
    static func main() {
        // Before parsing and before MPI_Init: a restart with another BLAS kernel must come first.
        StartUp.configureBLAS()
        // This process never replaces a file it read (`embed --data D.h5 --out D.h5`).
        InputFile.protectsInputs = true
        // A stop signal leaves no half-written file behind: status 75, "run me again".
        StopSignals.removeTemporariesAndExit(status: StopRequest.exitCode)
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch is ReportedFailure {
            Foundation.exit(1)
        } catch {
            let code = exitCode(for: error)
            if code == .success {
                // --help and friends: their text is the output, not an error.
                Console.print(fullMessage(for: error))
                Foundation.exit(code.rawValue)
            }
            let text: String
            switch error {
            case let error as DataError: text = error.description
            case let error as HDF5Error: text = error.description
            default: text = self.message(for: error)
            }
            let message = text
                .split(whereSeparator: \.isNewline)
                .map { $0.trimmingCharacters(in: .whitespaces) }
                .joined(separator: " ")
            if !message.isEmpty {
                Console.printError("vae-dist: error: \(message)")
            }
            Foundation.exit(code.rawValue)
        }
    }
}
