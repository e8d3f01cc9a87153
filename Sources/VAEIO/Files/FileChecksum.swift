import CZlib
import Foundation
#if canImport(Glibc)
import Glibc
#endif

/// Seals the HDF5 files vae-dist writes with a `ChecksumHeader`, and verifies a
/// file's header before HDF5 opens it: HDF5 has no checksum over most of a file,
/// and HDF5 1.10 loops forever on some damage (a variable-length string attribute
/// whose global heap is damaged), so a damaged file must be refused before HDF5
/// sees it. The cost is one sequential read of the file (CRC-32 runs at ~2.7 GB/s
/// here, far above what a disk delivers).
public enum FileChecksum {
    /// What `verify` found.
    public enum Verdict: Equatable, Sendable {
        /// The header's length and checksum match the bytes after it.
        case verified(ChecksumHeader)
        /// No vae-dist header: a file written by h5py or another program, or by a
        /// vae-dist from before checksums. Read as before, unverified.
        case absent
    }

    /// The 8 bytes HDF5's superblock starts with (at 0, or after a user block).
    static let hdf5Signature: [UInt8] = [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]

    /// Bytes read per system call while checksumming.
    private static let blockSize = 1 << 20

    /// Writes the header into the user block of `path`: an HDF5 file created with a
    /// `ChecksumHeader.size` user block and closed. The caller syncs and renames it.
    public static func seal(_ path: String) throws {
        let descriptor = open(path, O_RDWR)
        guard descriptor >= 0 else { throw ioError(path, "cannot open it to write its checksum") }
        defer { close(descriptor) }
        let size = try fileSize(descriptor, path)
        let superblock = try readBytes(descriptor, path, at: ChecksumHeader.size, count: hdf5Signature.count)
        guard superblock == hdf5Signature else {
            throw DataError(file: path, "internal error: no HDF5 superblock after a \(ChecksumHeader.size)-byte user block to checksum")
        }
        let coveredByteCount = size - ChecksumHeader.size
        let checksum = try crc32(descriptor, path, from: ChecksumHeader.size, count: coveredByteCount)
        let block = ChecksumHeader(coveredByteCount: coveredByteCount, checksum: checksum).bytes
        let written = block.withUnsafeBytes { pwrite(descriptor, $0.baseAddress, $0.count, 0) }
        guard written == block.count else { throw ioError(path, "cannot write its checksum header") }
    }

    /// A new header for a file vae-dist wrote and someone then changed on purpose (h5py
    /// `r+`): its user block must hold a vae-dist header (intact or not) and HDF5 must
    /// start after it. Returns the header written. The file's other bytes are untouched.
    @discardableResult
    public static func reseal(_ path: String) throws -> ChecksumHeader {
        try InputFile.requireRegularFile(path, expected: "a file vae-dist wrote")
        let start: ArraySlice<UInt8>
        do {
            let descriptor = open(path, O_RDONLY | O_NONBLOCK)
            guard descriptor >= 0 else { throw ioError(path, "cannot open it") }
            defer { close(descriptor) }
            start = try readBytes(descriptor, path, at: 0, count: ChecksumHeader.size)[...]
        }
        guard ChecksumHeader.isMarked(start) || ChecksumHeader.couldBeginHeader(start) else {
            throw DataError(file: path, "has no vae-dist checksum header to renew (it is read unverified as it is)")
        }
        try seal(path)
        do {
            let descriptor = open(path, O_RDONLY)
            guard descriptor >= 0 else { throw ioError(path, "cannot open it to sync it") }
            defer { close(descriptor) }
            guard fsync(descriptor) == 0 else { throw ioError(path, "cannot sync it") }
        }
        guard case .verified(let header) = try verify(path, kind: "file") else {
            throw DataError(file: path, "internal error: no checksum header after resealing")
        }
        return header
    }

    /// Checks `path` against its header, if it has one. Throws a `DataError` naming the
    /// file and what is wrong for a damaged header, a length other than the header's
    /// (truncated or extended) or a checksum mismatch. `kind` names the file in the
    /// message: "checkpoint is corrupt: checksum mismatch ...".
    @discardableResult
    public static func verify(_ path: String, kind: String) throws -> Verdict {
        // O_NONBLOCK: should a FIFO take the file's place after the caller's check, open()
        // returns at once (and the read finds no header) instead of waiting for a writer.
        let descriptor = open(path, O_RDONLY | O_NONBLOCK)
        guard descriptor >= 0 else { throw ioError(path, "cannot open it to verify its checksum") }
        defer { close(descriptor) }
        let size = try fileSize(descriptor, path)
        let start = try readBytes(descriptor, path, at: 0, count: min(size, ChecksumHeader.size))[...]
        func corrupt(_ what: String) -> DataError { DataError(file: path, "\(kind) is corrupt: \(what)") }
        let onPurpose = " (if you changed it on purpose, `vae-dist reseal \(path)` writes a new checksum)"

        if start.starts(with: hdf5Signature) { return .absent }  // no user block: h5py, or vae-dist before checksums
        guard ChecksumHeader.isMarked(start) else {
            if ChecksumHeader.couldBeginHeader(start) {
                throw corrupt("truncated to \(size) bytes, inside its \(ChecksumHeader.size)-byte checksum header")
            }
            return .absent  // not HDF5, or another program's user block: HDF5 judges it
        }
        guard size >= ChecksumHeader.size else {
            throw corrupt("truncated to \(size) bytes, inside its \(ChecksumHeader.size)-byte checksum header")
        }
        let header: ChecksumHeader
        do {
            header = try ChecksumHeader.parse(start)
        } catch let damage as ChecksumHeader.Damage {
            throw corrupt("damaged checksum header (the first \(ChecksumHeader.size) bytes): \(damage.reason)")
        }
        let actual = size - ChecksumHeader.size
        if actual < header.coveredByteCount {
            throw corrupt("truncated: its checksum header covers \(header.coveredByteCount) bytes after the header, "
                          + "the file has only \(actual)" + onPurpose)
        }
        if actual > header.coveredByteCount {
            throw corrupt("\(actual - header.coveredByteCount) bytes longer than its checksum header says "
                          + "(\(header.coveredByteCount) bytes after the header)" + onPurpose)
        }
        let checksum = try crc32(descriptor, path, from: ChecksumHeader.size, count: actual)
        guard checksum == header.checksum else {
            throw corrupt("checksum mismatch: the crc32 of its \(actual) bytes after the header is \(ChecksumHeader.hex(checksum)), "
                          + "the header written with it says \(header.checksumHex); the file changed after vae-dist wrote it"
                          + onPurpose)
        }
        return .verified(header)
    }

    /// zlib's CRC-32 of `count` bytes from `offset`, read sequentially.
    private static func crc32(_ descriptor: Int32, _ path: String, from offset: Int, count: Int) throws -> UInt32 {
        var checksum = CZlib.crc32(0, nil, 0)
        var buffer = [UInt8](repeating: 0, count: min(blockSize, max(count, 1)))
        var position = offset
        let end = offset + count
        try buffer.withUnsafeMutableBytes { storage in
            while position < end {
                let wanted = min(storage.count, end - position)
                let got = pread(descriptor, storage.baseAddress, wanted, off_t(position))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw ioError(path, "cannot read it to compute its checksum")
                }
                guard got > 0 else {
                    throw DataError(file: path, "ended at byte \(position) while its checksum was computed (truncated meanwhile?)")
                }
                checksum = CZlib.crc32(checksum, storage.baseAddress!.assumingMemoryBound(to: UInt8.self), uInt(got))
                position += got
            }
        }
        return UInt32(truncatingIfNeeded: checksum)
    }

    private static func fileSize(_ descriptor: Int32, _ path: String) throws -> Int {
        var status = stat()
        guard fstat(descriptor, &status) == 0 else { throw ioError(path, "cannot find its size") }
        return Int(status.st_size)
    }

    /// Up to `count` bytes from `offset` (fewer at the end of the file).
    private static func readBytes(_ descriptor: Int32, _ path: String, at offset: Int, count: Int) throws -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var filled = 0
        try bytes.withUnsafeMutableBytes { storage in
            while filled < count {
                let got = pread(descriptor, storage.baseAddress! + filled, count - filled, off_t(offset + filled))
                if got < 0 {
                    if errno == EINTR { continue }
                    throw ioError(path, "cannot read its first bytes")
                }
                if got == 0 { break }
                filled += got
            }
        }
        return Array(bytes.prefix(filled))
    }

    private static func ioError(_ path: String, _ what: String) -> DataError {
        DataError(file: path, "\(what): \(String(cString: strerror(errno)))")
    }
}
