import Foundation

/// Where a command that reads a trained model finds it: `--checkpoint` names a
/// checkpoint file, or a run directory whose newest epoch checkpoint is meant.
public struct CheckpointLocation: Sendable, Equatable {
    /// The checkpoint file.
    public let path: String
    /// The run directory holding it (where derived outputs such as embeddings.h5 go by default).
    public let runDirectory: String

    public init(path: String, runDirectory: String) {
        self.path = path
        self.runDirectory = runDirectory
    }

    /// Resolves a checkpoint file or a run directory (its newest checkpoint: the
    /// highest epoch, and within it the highest step of a mid-epoch checkpoint).
    public static func resolve(_ fileOrRunDirectory: String) throws -> CheckpointLocation {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: fileOrRunDirectory, isDirectory: &isDirectory) else {
            // Says what is there instead: nothing, a dangling link, a link loop.
            try InputFile.requireRegularFile(fileOrRunDirectory, expected: "a checkpoint file or run directory",
                                             missing: "no such checkpoint file or run directory")
            throw DataError(file: fileOrRunDirectory, "no such checkpoint file or run directory")
        }
        guard isDirectory.boolValue else {
            let directory = (fileOrRunDirectory as NSString).deletingLastPathComponent
            return CheckpointLocation(path: fileOrRunDirectory, runDirectory: directory.isEmpty ? "." : directory)
        }
        let names: [String]
        do {
            names = try FileManager.default.contentsOfDirectory(atPath: fileOrRunDirectory)
        } catch {
            throw DataError(file: fileOrRunDirectory, "cannot list the run directory: \((error as NSError).localizedDescription)")
        }
        let newest = names.compactMap { name -> (position: CheckpointPosition, name: String)? in
            positionOfCheckpointName(name).map { ($0, name) }
        }.max { $0.position < $1.position }
        guard let newest else {
            throw DataError(file: fileOrRunDirectory,
                            "holds no checkpoint-epoch-NNNN.h5; expected a run directory of `vae-dist train` or a checkpoint file")
        }
        return CheckpointLocation(path: (fileOrRunDirectory as NSString).appendingPathComponent(newest.name),
                                  runDirectory: fileOrRunDirectory)
    }

    /// Where in training a checkpoint name says it was written: `checkpoint-epoch-0012.h5`
    /// after epoch 12, `checkpoint-epoch-0012-step-000034.h5` 34 steps into epoch 13 (a run
    /// stopped by a signal). Anything else, such as the `.checkpoint-...tmp-...` file of an
    /// interrupted write, is not a checkpoint: nil.
    public static func positionOfCheckpointName(_ name: String) -> CheckpointPosition? {
        let prefix = "checkpoint-epoch-", suffix = ".h5"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
        let parts = name.dropFirst(prefix.count).dropLast(suffix.count).split(separator: "-", omittingEmptySubsequences: false)
        func number(_ text: Substring) -> Int? {
            guard !text.isEmpty, text.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
            return Int(text)
        }
        switch parts.count {
        case 1:
            return number(parts[0]).map { CheckpointPosition(epoch: $0, stepInEpoch: 0) }
        case 3 where parts[1] == "step":
            guard let epoch = number(parts[0]), let step = number(parts[2]), step > 0 else { return nil }
            return CheckpointPosition(epoch: epoch, stepInEpoch: step)
        default:
            return nil
        }
    }

    /// The file name of a checkpoint written at `position`.
    public static func checkpointName(_ position: CheckpointPosition) -> String {
        position.stepInEpoch == 0
            ? String(format: "checkpoint-epoch-%04d.h5", position.epoch)
            : String(format: "checkpoint-epoch-%04d-step-%06d.h5", position.epoch, position.stepInEpoch)
    }
}

/// Epochs completed plus steps into the next one; ordered as training proceeds.
public struct CheckpointPosition: Sendable, Equatable, Comparable {
    public let epoch: Int
    public let stepInEpoch: Int

    public init(epoch: Int, stepInEpoch: Int) {
        self.epoch = epoch
        self.stepInEpoch = stepInEpoch
    }

    public static func < (a: CheckpointPosition, b: CheckpointPosition) -> Bool {
        (a.epoch, a.stepInEpoch) < (b.epoch, b.stepInEpoch)
    }
}
