import ArgumentParser
import Foundation
import VAEParallel

extension ProgressStyle.Choice: ExpressibleByArgument {}

/// `--progress`: how the long commands (train, eval, embed, prepare, check) show progress.
///
/// Rank 0 alone shows it. auto: a bar on a terminal (mpirun's, under mpirun), else a plain
/// line every `--progress-interval` seconds, for logs such as Slurm's.
struct ProgressOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Progress on rank 0, on standard error: auto (a bar on a terminal, else a line every --progress-interval seconds), bar, lines or off.",
                               valueName: "auto|bar|lines|off"))
    var progress: ProgressStyle.Choice = .auto
    @Flag(help: "No progress: the same as --progress off.")
    var noProgress = false
    @Option(help: "Seconds between progress lines (--progress lines, and auto when the output is not a terminal).")
    var progressInterval: Double = 30

    func validate() throws {
        guard progressInterval.isFinite, progressInterval > 0 else {
            throw ValidationError("--progress-interval must be a positive number of seconds, got \(progressInterval)")
        }
    }

    /// The style for this process.
    var style: ProgressStyle {
        ProgressStyle.choose(noProgress ? .off : progress, interval: progressInterval)
    }
}
