import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes an HDF5 file so that `path` holds either its old content or the
/// complete new file, never a partial one (checkpoints, data files, embeddings).
/// The file starts with a checksum header over all its other bytes
/// (ChecksumHeader.swift), written last, so readers can refuse a damaged file
/// before HDF5 reads it; its root says which vae-dist wrote it (BuildAttributes).
public func writeHDF5FileAtomically(to path: String, _ body: (HDF5File) throws -> Void) throws {
    try replaceAtomically(path) { temporaryPath, descriptor in
        // The descriptor only proved the file can be created (a clear errno message
        // instead of HDF5's generic one); HDF5 writes through its own handle.
        close(descriptor)
        do {
            let file = try HDF5File.create(temporaryPath, userBlockSize: ChecksumHeader.size)
            do {
                // First: the file's own objects keep their order in HDF5's global heap.
                try BuildAttributes.record(on: try file.root())
                try body(file)
                try file.close()
            } catch {
                try? file.close()
                throw error
            }
        } catch let error as HDF5Error where error.file == temporaryPath {
            // Name the file the user asked for; the temporary one is removed.
            throw DataError(file: path, "cannot write it (\(error.operation) failed): \(error.cause)")
        } catch let error as DataError where error.file == temporaryPath {
            // A writer's own complaint about what it was writing (`DataFileWriter`): the same.
            throw DataError(file: path, object: error.object, row: error.row, error.message)
        }
        do {
            try FileChecksum.seal(temporaryPath)
        } catch let error as DataError {
            throw DataError(file: path, "cannot write it: \(error.message)")
        }
    }
}

/// Writes `bytes` so that `path` holds either its old content or all of them (PNGs, config.json).
public func writeFileAtomically(to path: String, bytes: [UInt8]) throws {
    try replaceAtomically(path) { temporaryPath, descriptor in
        defer { close(descriptor) }
        try bytes.withUnsafeBytes { buffer in
            var offset = 0
            while offset < buffer.count {
                let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    throw DataError(file: path, "cannot write \(temporaryPath): \(String(cString: strerror(errno)))")
                }
                offset += written
            }
        }
    }
}

/// The one mechanism behind both writers: `body` fills a new temporary file in
/// the same directory (same filesystem, so the rename is atomic) through the
/// descriptor it is given, which it closes; the file is then fsynced and renamed
/// onto `path`, and the directory synced. On any error the temporary file is
/// removed and `path` is untouched (`TemporaryFile` names it, removes it on a stop
/// signal, and sweeps those of killed writers). An output that is one of the
/// process's inputs is refused before anything is written (`InputFile`).
private func replaceAtomically(_ path: String, _ body: (_ temporaryPath: String, _ descriptor: Int32) throws -> Void) throws {
    guard !path.isEmpty else { throw DataError(file: "''", "an empty output path names no file") }
    try InputFile.requireNotAnInput(path)
    try InputFile.requireReplaceable(path)
    let parent = (path as NSString).deletingLastPathComponent
    let directory = parent.isEmpty ? "." : parent
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) else {
        throw DataError(file: path, "output directory \(directory) does not exist")
    }
    guard isDirectory.boolValue else {
        throw DataError(file: path, "output directory \(directory) is not a directory")
    }
    TemporaryFile.sweepStale(for: path, in: directory)
    let (temporary, descriptor) = try TemporaryFile.create(for: path, in: directory)
    do {
        try body(temporary.path, descriptor)
        try fsyncPath(temporary.path, target: path)
    } catch {
        temporary.remove()
        throw error
    }
    try temporary.rename(onto: path)
    try? fsyncPath(directory, target: path)  // durability of the rename; best effort
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
