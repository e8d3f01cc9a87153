import Foundation
import VAECore
import VAEIO

/// The files of a run directory: config.json, metrics.jsonl and the checkpoints.
///
/// Rank 0 alone calls these (the other ranks only read checkpoints). Every write is
/// atomic or cut back on failure, so a full disk or a kill leaves the last good state.
struct RunDirectory {
    let path: String
    /// Where the notes about cleaned-up files go.
    let log: (String) -> Void

    var metricsPath: String { file("metrics.jsonl") }

    func file(_ name: String) -> String { (path as NSString).appendingPathComponent(name) }

    /// Locks the directory (`RunDirectoryLock`), creating it if needed.
    ///
    /// A new run first checks that the directory holds no other run, so that a refusal
    /// leaves no lock file behind in it.
    func lock(forNewRun: Bool) throws -> RunDirectoryLock {
        var isDirectory: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) {
            guard isDirectory.boolValue else { throw TrainingSetupError("--out \(path) exists and is not a directory") }
            if forNewRun { try requireNoRun() }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
            } catch {
                throw TrainingSetupError("cannot create run directory \(path): \(error.localizedDescription)")
            }
        }
        return try RunDirectoryLock(directory: path)
    }

    /// Refuses a directory that holds a run: metrics.jsonl, or checkpoints (another run's,
    /// whose pruning would then delete them, and which `--resume latest` would continue).
    func requireNoRun() throws {
        if FileManager.default.fileExists(atPath: metricsPath) {
            throw TrainingSetupError("--out \(path) already holds a run (metrics.jsonl); "
                                     + "continue it with --resume latest, or choose a new directory")
        }
        if let newest = newestCheckpoint() {
            throw TrainingSetupError("--out \(path) already holds checkpoints of another run (the newest: "
                                     + "\((newest as NSString).lastPathComponent)); continue it with --resume latest, "
                                     + "or choose a new directory")
        }
    }

    /// Refuses to resume into this directory from a checkpoint outside it while it holds
    /// checkpoints: they would belong to two runs.
    func requireOwnCheckpoints(resumingFrom checkpoint: String) throws {
        guard let newest = newestCheckpoint() else { return }
        let resolved = { (path: String) in URL(fileURLWithPath: path).resolvingSymlinksInPath().path }
        guard resolved((checkpoint as NSString).deletingLastPathComponent) != resolved(path) else { return }
        throw TrainingSetupError("--out \(path) holds checkpoints of its own run (the newest: "
                                 + "\((newest as NSString).lastPathComponent)), and --resume \(checkpoint) is another "
                                 + "run's: resume it into a new directory, or resume this one with --resume latest")
    }

    /// Checks the locked directory and writes config.json.
    ///
    /// A new run refuses a directory that already holds one; a resumed run drops the
    /// metrics lines of epochs after its checkpoint (written before an interruption).
    func prepare(resumingAfterEpoch resumedEpoch: Int?, configuration: TrainingConfiguration, initFrom: String? = nil) throws {
        removeStaleTemporaryFiles()
        if let resumedEpoch {
            try truncateMetrics(afterEpoch: resumedEpoch)
        } else {
            try requireNoRun()
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let configPath = file("config.json")
        do {
            // Atomic: a full disk leaves the old config.json, not a truncated one.
            try writeFileAtomically(to: configPath, bytes: Array(encoder.encode(RunConfigFile(configuration: configuration,
                                                                                           initFrom: initFrom))))
        } catch {
            throw TrainingSetupError("cannot write \(configPath): \(failureMessage(error))")
        }
    }

    /// Deletes the temporary files of checkpoint writes killed before their rename.
    ///
    /// They are named `.checkpoint-epoch-....h5.tmp-HOST-PID-XXXX`, never count as
    /// checkpoints, and removing them only returns their space: the directory is locked,
    /// so no other process is writing one.
    private func removeStaleTemporaryFiles() {
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        for name in names where name.hasPrefix(".checkpoint-epoch-") && name.contains(".h5.tmp-") {
            if (try? FileManager.default.removeItem(atPath: file(name))) != nil {
                log("  removed  \(name), left by an interrupted checkpoint write")
            }
        }
    }

    /// Drops metrics lines of epochs after `epoch`.
    private func truncateMetrics(afterEpoch epoch: Int) throws {
        guard let text = try? String(contentsOfFile: metricsPath, encoding: .utf8) else { return }
        let kept = text.split(separator: "\n").filter { line in
            guard let metrics = try? JSONDecoder().decode(EpochMetrics.self, from: Data(line.utf8)) else { return false }
            return metrics.epoch <= epoch
        }
        let body = kept.map { $0 + "\n" }.joined()
        do {
            try body.write(toFile: metricsPath, atomically: true, encoding: .utf8)
        } catch {
            throw TrainingSetupError("cannot rewrite \(metricsPath): \(error.localizedDescription)")
        }
    }

    /// Appends one epoch's JSON line to metrics.jsonl.
    func appendMetrics(_ metrics: EpochMetrics) throws {
        let path = metricsPath
        guard let handle = FileHandle(forWritingAtPath: path) ?? {
            FileManager.default.createFile(atPath: path, contents: nil) ? FileHandle(forWritingAtPath: path) : nil
        }() else {
            throw TrainingSetupError("cannot write \(path)")
        }
        defer { try? handle.close() }
        let end = try handle.seekToEnd()
        do {
            try handle.write(contentsOf: Data((metrics.jsonLine + "\n").utf8))
        } catch {
            // A full disk must not leave half a line: cut the file back to its last whole line.
            try? handle.truncate(atOffset: end)
            throw TrainingSetupError("cannot append to \(path): \(failureMessage(error))")
        }
    }

    /// Where the checkpoint of a step boundary goes.
    func checkpointPath(_ position: CheckpointPosition) -> String {
        file(CheckpointLocation.checkpointName(position))
    }

    /// The checkpoint of the epoch with the lowest validation -ELBO (`ValidationWatch`).
    static let bestCheckpointName = "checkpoint-best.h5"

    /// Writes the best epoch's checkpoint (atomically: the previous best stays until it is whole).
    func writeBest(_ checkpoint: Checkpoint) throws {
        do {
            try checkpoint.write(to: file(Self.bestCheckpointName))
        } catch {
            throw TrainingSetupError("cannot write \(Self.bestCheckpointName): \(failureMessage(error)); the previous one is "
                                     + "untouched: free space or fix the directory, then continue with --resume latest")
        }
    }

    /// The newest checkpoint in the directory, in training order; nil when there is none.
    func newestCheckpoint() -> String? {
        try? CheckpointLocation.resolve(path).path
    }

    /// Writes `checkpoint` at `position` and keeps the newest `keep` checkpoints.
    ///
    /// Older ones go only after the new one is complete; mid-epoch ones count too.
    func write(_ checkpoint: Checkpoint, at position: CheckpointPosition, keep: Int) throws {
        do {
            try StopRequest.whileWritingCheckpoint { try checkpoint.write(to: checkpointPath(position)) }
        } catch {
            throw TrainingSetupError("cannot write checkpoint: \(failureMessage(error)); the previous checkpoints are "
                                     + "untouched: free space or fix the directory, then continue with --resume latest")
        }
        let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
        let checkpoints = names.compactMap { name in CheckpointLocation.positionOfCheckpointName(name).map { ($0, name) } }
            .sorted { $0.0 < $1.0 }.map(\.1)
        for name in checkpoints.dropLast(max(1, keep)) {
            try? FileManager.default.removeItem(atPath: file(name))
        }
    }
}
