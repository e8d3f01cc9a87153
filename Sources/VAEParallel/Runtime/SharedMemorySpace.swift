import Foundation

/// Room for a shared-memory window in a tmpfs such as /dev/shm.
enum SharedMemorySpace {
    /// Free bytes for an unprivileged writer, or nil when the directory cannot be asked.
    static func availableBytes(in directory: String) -> Int? {
        var info = statvfs()
        guard statvfs(directory, &info) == 0 else { return nil }
        return Int(info.f_bavail) * Int(info.f_frsize)
    }

    /// The message when `needed` bytes do not fit in `available`, else nil.
    ///
    /// With a 5% margin for the library's own headers and other jobs' small segments.
    static func shortage(needed: Int, available: Int, directory: String, purpose: String = "the shared-memory exchange") -> String? {
        guard Double(available) < Double(needed) * 1.05 else { return nil }
        let megabytes = { (bytes: Int) in String(format: "%.1f MB", Double(bytes) / 1e6) }
        return "\(directory) has \(megabytes(available)) free and \(purpose) needs \(megabytes(needed))"
            + " (docker run --shm-size enlarges it)"
    }
}
