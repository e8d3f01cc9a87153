import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes an HDF5 file so that `path` holds either its old content or the
/// complete new file, never a partial one: the body writes a temporary file in
/// the same directory (same filesystem, so rename is atomic), which is closed,
/// fsynced and renamed onto `path`. On any error the temporary file is removed.
public func writeHDF5FileAtomically(to path: String, _ body: (HDF5File) throws -> Void) throws {
    let directory = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
        throw DataError(file: path, "output directory \(directory) does not exist")
    }
    guard isDirectory.boolValue else {
        throw DataError(file: path, "output directory \(directory) is not a directory")
    }
    let name = (path as NSString).lastPathComponent
    let temporaryPath = (directory as NSString).appendingPathComponent(
        ".\(name).tmp-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))")

    // Creating the file ourselves first turns "no permission" into a clear errno
    // message instead of HDF5's generic "unable to open file".
    let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard descriptor >= 0 else {
        throw DataError(file: path, "cannot create a file in output directory \(directory): \(String(cString: strerror(errno)))")
    }
    close(descriptor)

    do {
        let file = try HDF5File.create(temporaryPath)
        do {
            try body(file)
            try file.close()
        } catch {
            try? file.close()
            throw error
        }
        try fsyncPath(temporaryPath, target: path)
        guard rename(temporaryPath, path) == 0 else {
            throw DataError(file: path, "cannot rename \(temporaryPath) onto it: \(String(cString: strerror(errno)))")
        }
        try? fsyncPath(directory, target: path)  // durability of the rename; best effort
    } catch let error as HDF5Error where error.file == temporaryPath {
        unlink(temporaryPath)
        // Name the file the user asked for; the temporary one is gone.
        throw DataError(file: path, "cannot write it (\(error.operation) failed): \(error.cause)")
    } catch {
        unlink(temporaryPath)
        throw error
    }
}

private func fsyncPath(_ path: String, target: String) throws {
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else {
        throw DataError(file: target, "cannot open \(path) to sync it: \(String(cString: strerror(errno)))")
    }
    defer { close(descriptor) }
    guard fsync(descriptor) == 0 else {
        throw DataError(file: target, "cannot sync \(path) to disk: \(String(cString: strerror(errno)))")
    }
}
