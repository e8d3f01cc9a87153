import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Writes `bytes` so that `path` holds either its old content or all of the new
/// bytes: a temporary file in the same directory is written, fsynced and renamed
/// onto `path` (the HDF5 files use `writeHDF5FileAtomically`, the same idea).
public func writeFileAtomically(to path: String, bytes: [UInt8]) throws {
    let parent = (path as NSString).deletingLastPathComponent
    let directory = parent.isEmpty ? "." : parent
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
        throw DataError(file: path, "output directory \(directory) does not exist")
    }
    let name = (path as NSString).lastPathComponent
    let temporaryPath = (directory as NSString).appendingPathComponent(
        ".\(name).tmp-\(getpid())-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))")
    let descriptor = open(temporaryPath, O_WRONLY | O_CREAT | O_EXCL, 0o644)
    guard descriptor >= 0 else {
        throw DataError(file: path, "cannot create a file in output directory \(directory): \(String(cString: strerror(errno)))")
    }
    var failure: String?
    bytes.withUnsafeBytes { buffer in
        var offset = 0
        while offset < buffer.count {
            let written = write(descriptor, buffer.baseAddress! + offset, buffer.count - offset)
            if written < 0 {
                if errno == EINTR { continue }
                failure = "cannot write \(temporaryPath): \(String(cString: strerror(errno)))"
                return
            }
            offset += written
        }
    }
    if failure == nil, fsync(descriptor) != 0 {
        failure = "cannot sync \(temporaryPath) to disk: \(String(cString: strerror(errno)))"
    }
    close(descriptor)
    if failure == nil, rename(temporaryPath, path) != 0 {
        failure = "cannot rename \(temporaryPath) onto it: \(String(cString: strerror(errno)))"
    }
    if let failure {
        unlink(temporaryPath)
        throw DataError(file: path, failure)
    }
}
