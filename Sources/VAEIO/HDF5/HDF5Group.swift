import CHDF5
import CVAESupport

/// A group: a directory of datasets and groups.
public final class HDF5Group: HDF5Object {
    static func open(in file: HDF5File, parentPath: String, name: String) throws -> HDF5Group {
        let path = join(parentPath, name)
        let id = try HDF5Library.readingStructure(file: file.path, object: path, "open group") {
            H5Gopen2(file.id, path, vae_h5p_default())
        }
        return HDF5Group(file: file, path: path, id: id, close: H5Gclose)
    }

    /// What a link in a group points to.
    public enum ChildKind: Sendable { case group, dataset, other }

    public func openGroup(_ name: String) throws -> HDF5Group {
        try HDF5Group.open(in: file, parentPath: path, name: name)
    }

    /// Creates a group, and any missing groups on its path.
    public func createGroup(_ name: String) throws -> HDF5Group {
        let groupPath = Self.join(path, name)
        let linkList = try intermediateGroupLinkList(groupPath)
        defer { HDF5Library.close(linkList, with: H5Pclose) }
        let id = try HDF5Library.call(file: file.path, object: groupPath, "create group") {
            H5Gcreate2(file.id, groupPath, linkList, vae_h5p_default(), vae_h5p_default())
        }
        return HDF5Group(file: file, path: groupPath, id: id, close: H5Gclose)
    }

    func intermediateGroupLinkList(_ objectPath: String) throws -> hid_t {
        let list = try HDF5Library.call(file: file.path, object: objectPath, "create link list") {
            H5Pcreate(vae_h5p_link_create())
        }
        try HDF5Library.call(file: file.path, object: objectPath, "allow intermediate groups") {
            H5Pset_create_intermediate_group(list, 1)
        }
        return list
    }

    /// Whether `name` (a relative or absolute path) exists, checking each
    /// component so a missing parent is "no" rather than an error.
    public func contains(_ name: String) throws -> Bool {
        let target = Self.join(path, name)
        var prefix = ""
        for component in target.split(separator: "/") {
            prefix += "/" + component
            let exists = try HDF5Library.readingStructure(file: file.path, object: prefix, "check link") {
                H5Lexists(file.id, prefix, vae_h5p_default())
            }
            if exists <= 0 { return false }
        }
        return true
    }

    /// The kind of object at `name`.
    public func kind(of name: String) throws -> ChildKind {
        let target = Self.join(path, name)
        return try HDF5Library.locked {
            let object = try HDF5Library.readingStructure(file: file.path, object: target, "open object") {
                H5Oopen(file.id, target, vae_h5p_default())
            }
            defer { HDF5Library.close(object, with: H5Oclose) }
            switch H5Iget_type(object) {
            case H5I_GROUP: return .group
            case H5I_DATASET: return .dataset
            default: return .other
            }
        }
    }

    /// The links in this group, in name order, with what each points to.
    public func children() throws -> [(name: String, kind: ChildKind)] {
        try HDF5Library.locked {
            var info = H5G_info_t()
            try HDF5Library.readingStructure(file: file.path, object: path, "get group info") { H5Gget_info(id, &info) }
            var result: [(name: String, kind: ChildKind)] = []
            for index in 0..<info.nlinks {
                let length = try call("get link name") {
                    H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, nil, 0, vae_h5p_default())
                }
                var buffer = [CChar](repeating: 0, count: Int(length) + 1)
                try call("get link name") {
                    H5Lget_name_by_idx(id, ".", H5_INDEX_NAME, H5_ITER_INC, index, &buffer, buffer.count, vae_h5p_default())
                }
                let name = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                result.append((name, (try? kind(of: name)) ?? .other))
            }
            return result
        }
    }

    public func openDataset(_ name: String) throws -> HDF5Dataset {
        let datasetPath = Self.join(path, name)
        let id = try HDF5Library.readingStructure(file: file.path, object: datasetPath, "open dataset") {
            H5Dopen2(file.id, datasetPath, vae_h5p_default())
        }
        return HDF5Dataset(file: file, path: datasetPath, id: id, close: H5Dclose)
    }

    /// Creates a dataset of `T` with the given shape.
    /// - Parameters:
    ///   - extendibleRows: the first dimension may grow later (`HDF5Dataset.extend`); requires chunks.
    ///   - chunks: chunk shape; required (and chosen by rows when nil) for gzip, shuffle or extendible rows.
    ///   - gzipLevel: deflate level 1...9, nil for none.
    ///   - shuffle: byte-shuffle filter before deflate (helps float data compress).
    public func createDataset<T: HDF5Element>(
        _ name: String, of type: T.Type, shape: [Int], extendibleRows: Bool = false,
        chunks: [Int]? = nil, gzipLevel: Int? = nil, shuffle: Bool = false
    ) throws -> HDF5Dataset {
        let datasetPath = Self.join(path, name)
        let maxShape: [hsize_t]? = extendibleRows
            ? [vae_h5s_unlimited()] + shape.dropFirst().map { hsize_t($0) } : nil
        let space = try HDF5Dataspace.simple(shape, maxShape: maxShape, file: file.path, object: datasetPath)
        let createList = try HDF5Library.call(file: file.path, object: datasetPath, "create dataset property list") {
            H5Pcreate(vae_h5p_dataset_create())
        }
        defer { HDF5Library.close(createList, with: H5Pclose) }
        // No modification times in the object header: the same contents make the same
        // bytes, whenever and by however many ranks they were written (`cmp` passes).
        try HDF5Library.call(file: file.path, object: datasetPath, "turn off time tracking") {
            H5Pset_obj_track_times(createList, false)
        }
        let needsChunks = extendibleRows || gzipLevel != nil || shuffle
        if let chunkShape = chunks ?? (needsChunks ? Self.rowChunks(shape: shape, elementSize: MemoryLayout<T>.size) : nil) {
            guard chunkShape.count == shape.count, chunkShape.allSatisfy({ $0 > 0 }) else {
                throw DataError(file: file.path, object: datasetPath, "chunk shape \(chunkShape) does not fit dataset shape \(shape)")
            }
            let dims = chunkShape.map { hsize_t($0) }
            try HDF5Library.call(file: file.path, object: datasetPath, "set chunk shape \(chunkShape)") {
                H5Pset_chunk(createList, Int32(dims.count), dims)
            }
            if shuffle {
                try HDF5Library.call(file: file.path, object: datasetPath, "enable shuffle filter") { H5Pset_shuffle(createList) }
            }
            if let gzipLevel {
                try HDF5Library.call(file: file.path, object: datasetPath, "enable gzip level \(gzipLevel)") {
                    H5Pset_deflate(createList, UInt32(gzipLevel))
                }
            }
        }
        let linkList = try intermediateGroupLinkList(datasetPath)
        defer { HDF5Library.close(linkList, with: H5Pclose) }
        let id = try HDF5Library.call(file: file.path, object: datasetPath, "create dataset \(T.elementType)\(shape)") {
            H5Dcreate2(file.id, datasetPath, T.fileType, space.id, linkList, createList, vae_h5p_default())
        }
        return HDF5Dataset(file: file, path: datasetPath, id: id, close: H5Dclose)
    }

    /// Creates a dataset and writes `values` (row-major, `shape.reduce(1, *)` elements).
    @discardableResult
    public func writeDataset<T: HDF5Element>(
        _ name: String, _ values: [T], shape: [Int], chunks: [Int]? = nil, gzipLevel: Int? = nil, shuffle: Bool = false
    ) throws -> HDF5Dataset {
        let dataset = try createDataset(name, of: T.self, shape: shape, chunks: chunks, gzipLevel: gzipLevel, shuffle: shuffle)
        try dataset.write(values)
        return dataset
    }

    /// Chunks of whole rows, about 64 KiB each: large enough to compress well,
    /// small enough that reading one random row decompresses little extra.
    public static func rowChunks(shape: [Int], elementSize: Int) -> [Int] {
        guard let rows = shape.first else { return [] }
        let rowBytes = max(1, shape.dropFirst().reduce(1, *) * elementSize)
        let chunkRows = max(1, min(max(rows, 1), (64 * 1024) / rowBytes))
        return [chunkRows] + shape.dropFirst().map { max($0, 1) }
    }
}
