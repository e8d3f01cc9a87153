import CHDF5
import CVAESupport

/// A dataset: typed, shaped array storage, read and written whole or by rows.
public final class HDF5Dataset: HDF5Object {
    /// The current dimensions, e.g. [N, D].
    public func shape() throws -> [Int] {
        try HDF5Library.locked {
            let space = HDF5Dataspace(id: try call("get dataspace") { H5Dget_space(id) })
            return space.shape()
        }
    }

    /// What the file stores, in numpy's terms.
    public func elementType() throws -> HDF5ElementType {
        try HDF5Library.locked {
            let type = HDF5Datatype(id: try call("get datatype") { H5Dget_type(id) })
            return HDF5ElementType.classify(type.id)
        }
    }

    /// Chunk shape, nil for contiguous storage.
    public func chunkShape() throws -> [Int]? {
        try HDF5Library.locked {
            let createList = try call("get creation property list") { H5Dget_create_plist(id) }
            defer { HDF5Library.close(createList, with: H5Pclose) }
            guard H5Pget_layout(createList) == H5D_CHUNKED else { return nil }
            var dims = [hsize_t](repeating: 0, count: 32)
            let rank = try call("get chunk shape") { H5Pget_chunk(createList, Int32(dims.count), &dims) }
            return dims.prefix(Int(rank)).map { Int($0) }
        }
    }

    /// Filter names in pipeline order, e.g. ["shuffle", "gzip(4)"].
    public func filters() throws -> [String] {
        try HDF5Library.locked {
            let createList = try call("get creation property list") { H5Dget_create_plist(id) }
            defer { HDF5Library.close(createList, with: H5Pclose) }
            let count = try call("count filters") { H5Pget_nfilters(createList) }
            return (0..<count).map { index -> String in
                var flags: UInt32 = 0
                var valueCount = 8
                var values = [UInt32](repeating: 0, count: 8)
                var name = [CChar](repeating: 0, count: 64)
                var config: UInt32 = 0
                let filter = H5Pget_filter2(createList, UInt32(index), &flags, &valueCount, &values, name.count, &name, &config)
                if filter == vae_h5z_filter_deflate() { return "gzip(\(valueCount > 0 ? values[0] : 0))" }
                if filter == vae_h5z_filter_shuffle() { return "shuffle" }
                if filter < 0 { _ = H5Eclear2(vae_h5e_default()); return "unknown filter" }
                let text = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                return text.isEmpty ? "filter \(filter)" : text
            }
        }
    }

    /// The filters of this dataset that this HDF5 cannot run, as "lzf (filter 32000)":
    /// a plugin filter whose plugin is not installed. HDF5 would only fail at the first
    /// read of a chunk, saying "can't open directory: .../plugins".
    public func unavailableFilters() throws -> [String] {
        try HDF5Library.locked {
            let createList = try call("get creation property list") { H5Dget_create_plist(id) }
            defer { HDF5Library.close(createList, with: H5Pclose) }
            let count = try call("count filters") { H5Pget_nfilters(createList) }
            return (0..<count).compactMap { index -> String? in
                var flags: UInt32 = 0
                var valueCount = 0
                var name = [CChar](repeating: 0, count: 64)
                var config: UInt32 = 0
                let filter = H5Pget_filter2(createList, UInt32(index), &flags, &valueCount, nil, name.count, &name, &config)
                guard filter >= 0 else { _ = H5Eclear2(vae_h5e_default()); return "an unreadable filter entry" }
                // Loads the filter's plugin if one is installed; 0 when there is none.
                let available = H5Zfilter_avail(filter)
                if available < 0 { _ = H5Eclear2(vae_h5e_default()) }
                guard available <= 0 else { return nil }
                let text = name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
                return (text.isEmpty ? "" : text + " ") + "(filter \(filter))"
            }
        }
    }

    /// Elements per row: the product of all dimensions but the first.
    func rowElementCount(_ shape: [Int]) -> Int { shape.dropFirst().reduce(1, *) }

    // MARK: Whole-dataset reads and writes

    /// Reads the whole dataset, converted by HDF5 to `T`.
    public func read<T: HDF5Element>(as type: T.Type = T.self) throws -> [T] {
        let count = try shape().reduce(1, *)
        var values = [T](repeating: T(), count: count)
        try values.withUnsafeMutableBufferPointer { try read(into: $0) }
        return values
    }

    public func read<T: HDF5Element>(into destination: UnsafeMutableBufferPointer<T>) throws {
        let count = try shape().reduce(1, *)
        guard destination.count >= count else {
            throw DataError(file: file.path, object: path, "destination holds \(destination.count) elements, the dataset \(count)")
        }
        guard count > 0 else { return }
        try call("read \(count) elements as \(T.elementType)") {
            H5Dread(id, T.nativeType, vae_h5s_all(), vae_h5s_all(), vae_h5p_default(), destination.baseAddress)
        }
    }

    public func write<T: HDF5Element>(_ values: [T]) throws {
        try values.withUnsafeBufferPointer { try write(from: $0) }
    }

    public func write<T: HDF5Element>(from source: UnsafeBufferPointer<T>) throws {
        let count = try shape().reduce(1, *)
        guard source.count == count else {
            throw DataError(file: file.path, object: path, "writing \(source.count) elements into a dataset of \(count)")
        }
        guard count > 0 else { return }
        try call("write \(count) elements of \(T.elementType)") {
            H5Dwrite(id, T.nativeType, vae_h5s_all(), vae_h5s_all(), vae_h5p_default(), source.baseAddress)
        }
    }

    // MARK: Row hyperslabs

    /// Reads rows [rows.lowerBound, rows.upperBound) into `destination` (row-major).
    public func readRows<T: HDF5Element>(_ rows: Range<Int>, into destination: UnsafeMutableBufferPointer<T>) throws {
        try readRowRuns([rows], into: destination)
    }

    public func readRows<T: HDF5Element>(_ rows: Range<Int>, as type: T.Type = T.self) throws -> [T] {
        let count = rows.count * rowElementCount(try shape())
        var values = [T](repeating: T(), count: count)
        try values.withUnsafeMutableBufferPointer { try readRowRuns([rows], into: $0) }
        return values
    }

    /// Reads several runs of consecutive rows with ONE HDF5 read: the runs must be
    /// ascending and disjoint; their rows land back to back in `destination`.
    /// One read lets HDF5 visit each chunk once even when runs share chunks.
    public func readRowRuns<T: HDF5Element>(_ runs: [Range<Int>], into destination: UnsafeMutableBufferPointer<T>) throws {
        let shape = try shape()
        guard let rowCount = shape.first else {
            throw DataError(file: file.path, object: path, "cannot read rows of a scalar dataset")
        }
        let runs = runs.filter { !$0.isEmpty }
        var totalRows = 0
        var previousEnd = 0
        for run in runs {
            guard run.lowerBound >= previousEnd, run.upperBound <= rowCount else {
                throw DataError(file: file.path, object: path,
                                "row runs must be ascending, disjoint and below \(rowCount), got \(run.lowerBound)..<\(run.upperBound)")
            }
            previousEnd = run.upperBound
            totalRows += run.count
        }
        let rowElements = rowElementCount(shape)
        guard destination.count >= totalRows * rowElements else {
            throw DataError(file: file.path, object: path,
                            "destination holds \(destination.count) elements, \(totalRows) rows need \(totalRows * rowElements)")
        }
        guard totalRows > 0, rowElements > 0 else { return }
        try HDF5Library.locked {
            let fileSpace = HDF5Dataspace(id: try call("get dataspace") { H5Dget_space(id) })
            for (index, run) in runs.enumerated() {
                let start = [hsize_t(run.lowerBound)] + shape.dropFirst().map { _ in 0 }
                let count = [hsize_t(run.count)] + shape.dropFirst().map { hsize_t($0) }
                try call("select rows \(run.lowerBound)..<\(run.upperBound)") {
                    H5Sselect_hyperslab(fileSpace.id, index == 0 ? H5S_SELECT_SET : H5S_SELECT_OR, start, nil, count, nil)
                }
            }
            let memorySpace = try HDF5Dataspace.simple([totalRows * rowElements], file: file.path, object: path)
            let description = runs.count == 1
                ? "read rows \(runs[0].lowerBound)..<\(runs[0].upperBound)" : "read \(totalRows) rows in \(runs.count) runs"
            try call(description) {
                H5Dread(id, T.nativeType, memorySpace.id, fileSpace.id, vae_h5p_default(), destination.baseAddress)
            }
        }
    }

    /// Writes `source` (whole rows, row-major) starting at row `start`.
    public func writeRows<T: HDF5Element>(startingAt start: Int, from source: UnsafeBufferPointer<T>) throws {
        let shape = try shape()
        let rowElements = rowElementCount(shape)
        guard rowElements > 0, source.count % rowElements == 0 else {
            throw DataError(file: file.path, object: path, "\(source.count) elements are not whole rows of \(rowElements)")
        }
        let rows = source.count / rowElements
        guard start >= 0, start + rows <= (shape.first ?? 0) else {
            throw DataError(file: file.path, object: path, "rows \(start)..<\(start + rows) exceed the dataset's \(shape.first ?? 0) rows")
        }
        guard rows > 0 else { return }
        try HDF5Library.locked {
            let fileSpace = HDF5Dataspace(id: try call("get dataspace") { H5Dget_space(id) })
            let offset = [hsize_t(start)] + shape.dropFirst().map { _ in 0 }
            let count = [hsize_t(rows)] + shape.dropFirst().map { hsize_t($0) }
            try call("select rows \(start)..<\(start + rows)") {
                H5Sselect_hyperslab(fileSpace.id, H5S_SELECT_SET, offset, nil, count, nil)
            }
            let memorySpace = try HDF5Dataspace.simple([source.count], file: file.path, object: path)
            try call("write rows \(start)..<\(start + rows)") {
                H5Dwrite(id, T.nativeType, memorySpace.id, fileSpace.id, vae_h5p_default(), source.baseAddress)
            }
        }
    }

    /// Grows (or shrinks) the first dimension of an extendible dataset.
    public func setRowCount(_ rows: Int) throws {
        var dims = try shape().map { hsize_t($0) }
        guard !dims.isEmpty else { throw DataError(file: file.path, object: path, "cannot resize a scalar dataset") }
        dims[0] = hsize_t(rows)
        try call("resize to \(rows) rows") { H5Dset_extent(id, dims) }
    }

    /// Sets the chunk cache of an opened dataset (must be called before reading;
    /// reopening the dataset is how HDF5 applies it, so this returns a new handle).
    public func reopened(chunkCacheBytes: Int) throws -> HDF5Dataset {
        let accessList = try call("create dataset access list") { H5Pcreate(vae_h5p_dataset_access()) }
        defer { HDF5Library.close(accessList, with: H5Pclose) }
        // 521 slots is HDF5's default; w0 = 1 evicts fully read chunks first (rows are read forward).
        try call("set chunk cache") { H5Pset_chunk_cache(accessList, 521, chunkCacheBytes, 1.0) }
        let newID = try call("reopen dataset") { H5Dopen2(file.id, path, accessList) }
        return HDF5Dataset(file: file, path: path, id: newID, close: H5Dclose)
    }
}
