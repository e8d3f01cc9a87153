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

    /// Resolves a checkpoint file or a run directory (its `checkpoint-epoch-NNNN.h5`
    /// with the highest epoch number).
    public static func resolve(_ fileOrRunDirectory: String) throws -> CheckpointLocation {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: fileOrRunDirectory, isDirectory: &isDirectory) else {
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
        let newest = names.compactMap { name -> (epoch: Int, name: String)? in
            epochOfCheckpointName(name).map { ($0, name) }
        }.max { $0.epoch < $1.epoch }
        guard let newest else {
            throw DataError(file: fileOrRunDirectory,
                            "holds no checkpoint-epoch-NNNN.h5; expected a run directory of `vae-dist train` or a checkpoint file")
        }
        return CheckpointLocation(path: (fileOrRunDirectory as NSString).appendingPathComponent(newest.name),
                                  runDirectory: fileOrRunDirectory)
    }

    /// The epoch of a name like `checkpoint-epoch-0012.h5` (what `vae-dist train` writes), else nil.
    static func epochOfCheckpointName(_ name: String) -> Int? {
        let prefix = "checkpoint-epoch-", suffix = ".h5"
        guard name.hasPrefix(prefix), name.hasSuffix(suffix), name.count > prefix.count + suffix.count else { return nil }
        let digits = name.dropFirst(prefix.count).dropLast(suffix.count)
        guard digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return nil }
        return Int(digits)
    }
}
