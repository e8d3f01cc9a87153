import CHDF5
import CVAESupport
import Foundation

/// An open HDF5 file. Closed by `close()` or, at the latest, when the last
/// reference (including every group/dataset opened from it) goes away.
public final class HDF5File {
    public let path: String
    public let isWritable: Bool
    let id: hid_t
    private var isClosed = false

    private init(path: String, id: hid_t, isWritable: Bool) {
        self.path = path
        self.id = id
        self.isWritable = isWritable
    }

    /// Creates (or truncates) a file.
    ///
    /// - Parameter userBlockSize: bytes HDF5 reserves at the start of the file and never
    ///   touches (0, or a power of two >= 512); `writeHDF5FileAtomically` puts the
    ///   checksum header there (ChecksumHeader.swift).
    public static func create(_ path: String, userBlockSize: Int = 0) throws -> HDF5File {
        let access = try strongCloseAccessList(path)
        defer { HDF5Library.close(access, with: H5Pclose) }
        let creation = try HDF5Library.call(file: path, object: nil, "create file creation list") {
            H5Pcreate(vae_h5p_file_create())
        }
        defer { HDF5Library.close(creation, with: H5Pclose) }
        if userBlockSize > 0 {
            try HDF5Library.call(file: path, object: nil, "reserve a \(userBlockSize)-byte user block") {
                H5Pset_userblock(creation, hsize_t(userBlockSize))
            }
        }
        let id = try HDF5Library.call(file: path, object: nil, "create file") {
            H5Fcreate(path, vae_h5f_acc_trunc(), creation, access)
        }
        return HDF5File(path: path, id: id, isWritable: true)
    }

    /// Opens an existing file, read-only unless `writable`.
    public static func open(_ path: String, writable: Bool = false) throws -> HDF5File {
        // HDF5 would block in open() on a FIFO, and say only "unable to open file" otherwise.
        try InputFile.requireRegularFile(path, expected: "an HDF5 file")
        let access = try strongCloseAccessList(path)
        defer { HDF5Library.close(access, with: H5Pclose) }
        let flags = writable ? vae_h5f_acc_rdwr() : vae_h5f_acc_rdonly()
        let id = try HDF5Library.readingStructure(file: path, object: nil, writable ? "open file for writing" : "open file") {
            H5Fopen(path, flags, access)
        }
        return HDF5File(path: path, id: id, isWritable: writable)
    }

    /// "Strong" close: `close()` closes every object still open in the file, so
    /// the bytes are complete on disk when it returns (atomic writes rename right after).
    private static func strongCloseAccessList(_ path: String) throws -> hid_t {
        let access = try HDF5Library.call(file: path, object: nil, "create file access list") {
            H5Pcreate(vae_h5p_file_access())
        }
        try HDF5Library.call(file: path, object: nil, "set file close degree") {
            H5Pset_fclose_degree(access, H5F_CLOSE_STRONG)
        }
        return access
    }

    /// The root group `/`.
    public func root() throws -> HDF5Group { try HDF5Group.open(in: self, parentPath: "", name: "/") }

    public func flush() throws {
        try HDF5Library.call(file: path, object: nil, "flush file") { H5Fflush(id, H5F_SCOPE_GLOBAL) }
    }

    /// Flushes and closes the file; any object opened from it becomes invalid.
    public func close() throws {
        guard !isClosed else { return }
        isClosed = true
        try HDF5Library.call(file: path, object: nil, "close file") { H5Fclose(id) }
    }

    deinit {
        if !isClosed { HDF5Library.close(id, with: H5Fclose) }
    }
}

extension HDF5File {
    /// Whether `path` starts with the HDF5 signature (also finds userblock offsets).
    public static func isHDF5(_ path: String) -> Bool {
        HDF5Library.locked {
            let result = H5Fis_hdf5(path)
            if result < 0 { _ = H5Eclear2(vae_h5e_default()) }
            return result > 0
        }
    }
}
