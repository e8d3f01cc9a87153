import CHDF5
import CVAESupport

/// Rows of a source dataset shown in a virtual dataset.
public struct HDF5VirtualSource: Sendable {
    /// The source file as HDF5 will look it up: "." (this file), or a path (relative to
    /// the virtual file's directory, or absolute).
    public let file: String
    public let dataset: String
    /// The source's rows, shown at `row` onward of the virtual dataset; every column.
    public let rows: Range<Int>
    public let row: Int

    public init(file: String, dataset: String, rows: Range<Int>, row: Int) {
        self.file = file
        self.dataset = dataset
        self.rows = rows
        self.row = row
    }
}

extension HDF5Group {
    /// Creates a virtual dataset of `T` with `shape` [N, D] stacking row blocks of other datasets.
    @discardableResult
    public func createVirtualDataset<T: HDF5Element>(_ name: String, of type: T.Type, shape: [Int],
                                                     sources: [HDF5VirtualSource]) throws -> HDF5Dataset {
        let datasetPath = Self.join(path, name)
        let space = try HDF5Dataspace.simple(shape, file: file.path, object: datasetPath)
        let createList = try HDF5Library.call(file: file.path, object: datasetPath, "create dataset property list") {
            H5Pcreate(vae_h5p_dataset_create())
        }
        defer { HDF5Library.close(createList, with: H5Pclose) }
        for source in sources {
            let width = hsize_t(shape.dropFirst().reduce(1, *))
            let sourceSpace = try HDF5Dataspace.simple([source.rows.upperBound] + shape.dropFirst(), file: file.path, object: datasetPath)
            let virtualSpace = try HDF5Dataspace.simple(shape, file: file.path, object: datasetPath)
            let rank = shape.count
            let count = [hsize_t(source.rows.count)] + (rank > 1 ? [width] : [])
            try HDF5Library.call(file: file.path, object: datasetPath, "select source rows") {
                H5Sselect_hyperslab(sourceSpace.id, H5S_SELECT_SET, [hsize_t(source.rows.lowerBound)] + (rank > 1 ? [0] : []),
                                    nil, count, nil)
            }
            try HDF5Library.call(file: file.path, object: datasetPath, "select virtual rows") {
                H5Sselect_hyperslab(virtualSpace.id, H5S_SELECT_SET, [hsize_t(source.row)] + (rank > 1 ? [0] : []), nil, count, nil)
            }
            try HDF5Library.call(file: file.path, object: datasetPath, "map \(source.file):\(source.dataset)") {
                H5Pset_virtual(createList, virtualSpace.id, source.file, source.dataset, sourceSpace.id)
            }
        }
        let id = try HDF5Library.call(file: file.path, object: datasetPath, "create virtual dataset \(T.elementType)\(shape)") {
            H5Dcreate2(file.id, datasetPath, T.fileType, space.id, vae_h5p_default(), createList, vae_h5p_default())
        }
        return HDF5Dataset(file: file, path: datasetPath, id: id, close: H5Dclose)
    }
}
