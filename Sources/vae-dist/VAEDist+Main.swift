import ArgumentParser
import Foundation
import VAEIO
import VAEParallel

// Replaces ArgumentParser's default `main()` so that every failure, from a bad option
// to an agreed rank failure, ends as ONE line `vae-dist: error: ...` on standard error
// with a non-zero exit, said once for a job: what every rank finds alike (a bad option,
// `--help`, an agreed failure) is printed by rank 0 alone.
extension VAEDist {
    static func main() {
        // A closed, full or broken standard output costs lines, never the run.
        Console.protectStandardStreams()
        // Before parsing and before MPI_Init: a restart with another BLAS kernel must come first.
        StartUp.configureBLAS()
        // This process never replaces a file it read (`embed --data D.h5 --out D.h5`).
        InputFile.protectsInputs = true
        // A stop signal leaves no half-written file behind: status 75, "run me again".
        StopSignals.removeTemporariesAndExit(status: StopRequest.exitCode)
        var command: any ParsableCommand
        do {
            command = try parseAsRoot()
        } catch {
            // The same command line on every rank gives the same verdict.
            exit(for: error, printing: !Launch.isNonRootRank())
        }
        do {
            try command.run()
        } catch is ReportedFailure {
            Foundation.exit(1)
        } catch {
            exit(for: error, printing: true)
        }
    }

    /// Ends the process for `error`: its exit code, and its text as one line when `printing`.
    private static func exit(for error: any Error, printing: Bool) -> Never {
        let code = exitCode(for: error)
        guard printing else { Foundation.exit(code.rawValue) }
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
