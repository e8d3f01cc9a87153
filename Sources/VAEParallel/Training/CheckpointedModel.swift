import Foundation
import VAECore
import VAEIO

/// A user-facing problem with the inputs of `embed` or `eval`.
public struct ModelInputError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

/// A trained model and the data file it is applied to.
///
/// What `vae-dist embed` and `vae-dist eval` start from.
public struct CheckpointedModel {
    public let location: CheckpointLocation
    public let checkpoint: Checkpoint
    public let data: DataFile

    public var configuration: TrainingConfiguration { checkpoint.configuration }

    /// Which split of the default data a command means when `--data` is not given.
    public enum DefaultSplit: Sendable {
        /// The training file (embeddings of what the model was trained on).
        case train
        /// The held-out file (evaluation).
        case test
    }

    /// Reads the checkpoint and opens the data on every rank; any failure ends every rank.
    ///
    /// Without `dataPath`, the default Fashion-MNIST split is used when the checkpoint
    /// was trained on the default training file (same fingerprint); the checkpoint does
    /// not store the path of its data, so other data must be named.
    public static func open(checkpoint fileOrRunDirectory: String, dataPath: String?, defaultSplit: DefaultSplit,
                            communicator: any Communicator) throws -> CheckpointedModel {
        let (location, checkpoint, path) = try communicator.agreed {
            let location = try CheckpointLocation.resolve(fileOrRunDirectory)
            let checkpoint = try Checkpoint.read(location.path)
            let path = try dataPath ?? defaultDataPath(for: checkpoint, checkpointPath: location.path, split: defaultSplit)
            return (location, checkpoint, path)
        }
        // Rank 0 alone reads the data whole for its checksum; the others open it after that passed.
        try communicator.rootOnly { try DataFile.verify(path) }
        return try communicator.agreed {
            let data = try DataFile.open(path, verifyingChecksum: false)
            let architecture = checkpoint.configuration.architecture
            guard data.featureCount == architecture.dataDimension else {
                throw ModelInputError("\(path) has \(data.featureCount) features per row, but the model in \(location.path) "
                                      + "takes \(architecture.dataDimension) (it was trained on data of that width)")
            }
            return CheckpointedModel(location: location, checkpoint: checkpoint, data: data)
        }
    }

    static func defaultDataPath(for checkpoint: Checkpoint, checkpointPath: String, split: DefaultSplit,
                                dataDirectory: String = DefaultData.dataDirectory()) throws -> String {
        let paths = DefaultData.paths(dataDirectory: dataDirectory)
        let needData = "--data is needed: \(checkpointPath) was trained on data with fingerprint \(checkpoint.dataFingerprint)"
        guard FileManager.default.fileExists(atPath: paths.train) else {
            throw ModelInputError("\(needData), and the default Fashion-MNIST file \(paths.train) to compare it with does not exist")
        }
        let defaultFingerprint = try DataFile.open(paths.train).fingerprint()
        guard defaultFingerprint == checkpoint.dataFingerprint else {
            throw ModelInputError("\(needData), which is not the default Fashion-MNIST \(paths.train) (\(defaultFingerprint))")
        }
        return split == .train ? paths.train : paths.test
    }

    /// The objective's settings with `samples` draws per row.
    ///
    /// The likelihood and the posterior family stay the checkpoint's.
    func objectiveSettings(samples: Int, estimator: Estimator = .B) -> ObjectiveSettings {
        var settings = configuration.objectiveSettings
        settings.samples = samples
        settings.estimator = estimator
        return settings
    }
}
