import Foundation

/// The checkpoint a picture or analysis command reads: `path` itself when it is
/// a file, or the newest `checkpoint-epoch-NNNN.h5` when it is a run directory.
public func resolveCheckpointPath(_ path: String) throws -> String {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
        throw DataError(file: path, "no such checkpoint file or run directory")
    }
    guard isDirectory.boolValue else { return path }
    let names: [String]
    do {
        names = try FileManager.default.contentsOfDirectory(atPath: path)
    } catch {
        throw DataError(file: path, "cannot list the run directory: \(error.localizedDescription)")
    }
    // By epoch number, not by name, so epoch 10000 (five digits) still sorts after 9999.
    let epochs = names.compactMap { name -> (epoch: Int, name: String)? in
        guard name.hasPrefix("checkpoint-epoch-"), name.hasSuffix(".h5"),
              let epoch = Int(name.dropFirst("checkpoint-epoch-".count).dropLast(".h5".count)) else { return nil }
        return (epoch, name)
    }
    guard let newest = epochs.max(by: { $0.epoch < $1.epoch }) else {
        throw DataError(file: path, "is a directory without checkpoint-epoch-*.h5 files; expected a run directory of `vae-dist train` or a checkpoint file")
    }
    return (path as NSString).appendingPathComponent(newest.name)
}
