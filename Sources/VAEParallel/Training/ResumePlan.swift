import Foundation
import VAECore
import VAEIO

/// How a resumed run continues: the checkpoint it starts from and the configuration it adopts.
///
/// A resumed run keeps the checkpoint's model, objective and optimizer; the command line
/// may only ask for more epochs. Everything that would not continue the same run
/// (contradicting options, other data, a finished run) is refused with one line.
struct ResumePlan {
    let checkpoint: Checkpoint
    let path: String
    /// The checkpoint's configuration with the command line's epochs.
    let configuration: TrainingConfiguration

    /// Collective: reads the checkpoint `request` names ("latest" or a path) on every rank.
    static func load(_ request: String, options: TrainingOptions, directory: RunDirectory, data: ShardSet,
                     fingerprint: String, communicator: any Communicator) throws -> ResumePlan {
        // Rank 0 resolves "latest", so every rank reads the same file even while
        // an old run directory is being cleaned up.
        var path = request
        if request == "latest" {
            let newest = communicator.isRoot ? (directory.newestCheckpoint() ?? "") : ""
            path = try communicator.broadcast(newest, from: 0)
            if path.isEmpty {
                throw TrainingSetupError("--resume latest: no checkpoint-epoch-*.h5 in \(options.runDirectory)")
            }
        }
        let checkpoint = try communicator.agreed { try Checkpoint.read(path) }
        return try communicator.agreed {
            ResumePlan(checkpoint: checkpoint, path: path,
                       configuration: try adoptedConfiguration(of: checkpoint, path: path, options: options, data: data,
                                                               fingerprint: fingerprint))
        }
    }

    /// The checkpoint's configuration as this run's, refusing options or data that contradict it.
    private static func adoptedConfiguration(of checkpoint: Checkpoint, path: String, options: TrainingOptions,
                                             data: ShardSet, fingerprint: String) throws -> TrainingConfiguration {
        var saved = checkpoint.configuration
        guard saved.architecture.dataDimension == data.featureCount else {
            throw TrainingSetupError("checkpoint \(path) models \(saved.architecture.dataDimension) features per row, "
                                     + "but \(data.description) has \(data.featureCount)")
        }
        let requested = options.applyCommandLine(saved)
        saved.epochs = requested.epochs
        if requested != saved {
            throw TrainingSetupError("--resume: options \(differences(saved, requested)) contradict checkpoint \(path); "
                                     + "a resumed run keeps the checkpoint's model, objective and optimizer (start a new run to change them)")
        }
        if requested.epochs <= checkpoint.epoch {
            throw TrainingSetupError("checkpoint \(path) already completed \(checkpoint.epoch) of \(requested.epochs) epochs; "
                                     + "ask for more with --epochs")
        }
        let trainingRows = data.rowCount - requested.validationRowCount(rowCount: data.rowCount)
        let stepsPerEpoch = EpochSchedule.stepsPerEpoch(rowCount: trainingRows, globalBatch: requested.globalBatch,
                                                        lastBatch: requested.lastBatch)
        if checkpoint.stepInEpoch >= stepsPerEpoch {
            throw TrainingSetupError("checkpoint \(path) is \(checkpoint.stepInEpoch) steps into epoch \(checkpoint.epoch + 1), "
                                     + "but an epoch of \(data.description) has \(stepsPerEpoch) steps")
        }
        if checkpoint.dataFingerprint != fingerprint && !options.force {
            throw TrainingSetupError("\(data.description) has fingerprint \(fingerprint) but checkpoint \(path) was trained on "
                                     + "\(checkpoint.dataFingerprint); use the same data, or --force to continue on this file")
        }
        return requested
    }

    /// The command-line names of the fields in which two configurations differ.
    static func differences(_ a: TrainingConfiguration, _ b: TrainingConfiguration) -> String {
        func encoded(_ c: TrainingConfiguration) -> [String: String] {
            let object = (try? JSONSerialization.jsonObject(with: JSONEncoder().encode(c))) as? [String: Any] ?? [:]
            var flat: [String: String] = [:]
            for (key, value) in object {
                if let nested = value as? [String: Any] {
                    for (inner, v) in nested { flat[inner] = "\(v)" }
                } else {
                    flat[key] = "\(value)"
                }
            }
            return flat
        }
        let (left, right) = (encoded(a), encoded(b))
        return left.keys.sorted().filter { left[$0] != right[$0] }
            .map { "\($0) (checkpoint \(left[$0]!), asked \(right[$0] ?? "-"))" }.joined(separator: ", ")
    }

    /// The first epoch to train (0-based): the one the checkpoint stopped in.
    var firstEpoch: Int { checkpoint.epoch }

    /// How far the first epoch got.
    ///
    /// A checkpoint written mid-epoch continues its epoch where it stopped.
    var progress: EpochProgress {
        EpochProgress(completedSteps: checkpoint.stepInEpoch, skippedSteps: checkpoint.partialEpochSkippedSteps,
                      terms: checkpoint.partialEpochTerms)
    }

    /// The banner's resume line for a job of `ranks` ranks.
    ///
    /// A reproducible run continues with an uninterrupted run's bits whatever the ranks; the
    /// fast step only up to the order of its sums.
    func note(ranks: Int, reproducible: Bool) -> String {
        var note = "  resume   from epoch \(checkpoint.epoch), step \(checkpoint.step)"
        if checkpoint.stepInEpoch > 0 { note += " (\(checkpoint.stepInEpoch) steps into epoch \(checkpoint.epoch + 1))" }
        if checkpoint.worldSize != ranks {
            note += "; saved by \(checkpoint.worldSize) rank\(checkpoint.worldSize == 1 ? "" : "s"), now \(ranks)"
            if !reproducible {
                note += ": results differ from an uninterrupted run only by floating-point summation order"
            }
        }
        return note
    }
}
