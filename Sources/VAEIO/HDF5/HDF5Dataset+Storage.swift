import CHDF5
import CVAESupport

/// How a dataset's values are stored in its file.
public enum HDF5StorageKind: Sendable, Equatable {
    case contiguous
    case compact
    /// Chunks of this shape.
    case chunked([Int])
    /// Mapped from other datasets, possibly in other files.
    case virtual
}

/// One stage of a chunked dataset's filter pipeline, as stored.
public struct HDF5Filter: Sendable, Equatable {
    public let id: Int32
    /// The filter's parameters (gzip: the level).
    public let values: [UInt32]

    public static let deflateID = Int32(vae_h5z_filter_deflate())
    public static let shuffleID = Int32(vae_h5z_filter_shuffle())
}

/// Whether a dataset's storage exists in the file (H5Dget_space_status).
public enum HDF5SpaceStatus: Sendable, Equatable {
    case allocated
    /// Some chunks were never written: reading them gives the fill value.
    case partlyAllocated
    case notAllocated
}

extension HDF5Dataset {
    /// Contiguous, compact, chunked (with the chunk shape) or virtual.
    public func storageKind() throws -> HDF5StorageKind {
        try withCreationList { createList in
            switch H5Pget_layout(createList) {
            case H5D_CHUNKED:
                var dims = [hsize_t](repeating: 0, count: 32)
                let rank = try call("get chunk shape") { H5Pget_chunk(createList, Int32(dims.count), &dims) }
                return .chunked(dims.prefix(Int(rank)).map { Int($0) })
            case H5D_VIRTUAL: return .virtual
            case H5D_COMPACT: return .compact
            default: return .contiguous
            }
        }
    }

    /// The filter pipeline in the order HDF5 applies it when writing.
    public func filterPipeline() throws -> [HDF5Filter] {
        try withCreationList { createList in
            let count = try call("count filters") { H5Pget_nfilters(createList) }
            return try (0..<count).map { index in
                var flags: UInt32 = 0
                var valueCount = 8
                var values = [UInt32](repeating: 0, count: 8)
                var config: UInt32 = 0
                let filter = try call("get filter \(index)") {
                    H5Pget_filter2(createList, UInt32(index), &flags, &valueCount, &values, 0, nil, &config)
                }
                return HDF5Filter(id: filter, values: Array(values.prefix(min(valueCount, values.count))))
            }
        }
    }

    /// Whether every byte of the dataset has storage in the file.
    public func spaceStatus() throws -> HDF5SpaceStatus {
        var status = H5D_SPACE_STATUS_ERROR
        try HDF5Library.readingStructure(file: file.path, object: path, "get space status") { H5Dget_space_status(id, &status) }
        switch status {
        case H5D_SPACE_STATUS_ALLOCATED: return .allocated
        case H5D_SPACE_STATUS_PART_ALLOCATED: return .partlyAllocated
        default: return .notAllocated
        }
    }

    /// Chunks written to the file (a chunked dataset's allocated chunks). Walks the chunk
    /// index: guarded against HDF5 looping on a damaged one.
    public func allocatedChunkCount() throws -> Int {
        try HDF5Library.locked {
            let space = HDF5Dataspace(id: try call("get dataspace") { H5Dget_space(id) })
            var count: hsize_t = 0
            try HDF5Library.readingStructure(file: file.path, object: path, "count chunks") { H5Dget_num_chunks(id, space.id, &count) }
            return Int(count)
        }
    }

    /// Reads the stored (still filtered) bytes of the chunk whose first element is at
    /// `offset` into `buffer`, growing it when the chunk is larger; returns the byte count
    /// and the filter mask (bit i set: filter i was skipped for this chunk). A chunk whose
    /// index claims more than `maximumBytes` is refused before any is read: a damaged index
    /// can claim gigabytes.
    public func readRawChunk(at offset: [Int], into buffer: inout [UInt8], maximumBytes: Int) throws -> (bytes: Int, filterMask: UInt32) {
        let coordinates = offset.map { hsize_t($0) }
        return try HDF5Library.locked {
            var size: hsize_t = 0
            try HDF5Library.readingStructure(file: file.path, object: path, "find the chunk at \(offset)") {
                H5Dget_chunk_storage_size(id, coordinates, &size)
            }
            guard size > 0 else {
                throw DataError(file: file.path, object: path, "the chunk at \(offset) was never written (unallocated)")
            }
            guard size <= maximumBytes else {
                throw DataError(file: file.path, object: path, "the chunk at \(offset) claims \(size) stored bytes, more than "
                                + "its data could take (\(maximumBytes)): the file is damaged")
            }
            if buffer.count < Int(size) { buffer = [UInt8](repeating: 0, count: Int(size)) }
            var mask: UInt32 = 0
            try buffer.withUnsafeMutableBytes { bytes in
                try call("read the raw chunk at \(offset)") {
                    H5Dread_chunk(id, vae_h5p_default(), coordinates, &mask, bytes.baseAddress)
                }
            }
            return (Int(size), mask)
        }
    }

    func withCreationList<T>(_ body: (hid_t) throws -> T) throws -> T {
        try HDF5Library.locked {
            let createList = try call("get creation property list") { H5Dget_create_plist(id) }
            defer { HDF5Library.close(createList, with: H5Pclose) }
            return try body(createList)
        }
    }
}

extension HDF5Dataset {
    /// Whether the file stores `T` exactly as this machine holds it in memory (same size
    /// and byte order), so stored bytes can be used without HDF5 converting them.
    public func storesNativeBytes<T: HDF5Element>(of type: T.Type) throws -> Bool {
        try HDF5Library.locked {
            let stored = HDF5Datatype(id: try call("get datatype") { H5Dget_type(id) })
            return H5Tequal(stored.id, T.nativeType) > 0
        }
    }
}
