import CHDF5
import CVAESupport

/// One mapping of a virtual dataset: a selection of a source dataset shown at a
/// selection of the virtual one.
public struct HDF5VirtualMapping: Sendable, Equatable {
    /// The source file as stored: "." for the virtual dataset's own file, else a path
    /// that HDF5 resolves itself (`VirtualSources.resolve`).
    public let sourceFile: String
    public let sourceDataset: String
    /// Each selection as one box per dimension (start ..< end), or nil when it is not a
    /// single box (a strided, irregular or unlimited selection).
    public let virtualBox: [Range<Int>]?
    public let sourceBox: [Range<Int>]?
}

extension HDF5Dataset {
    /// The mappings of a virtual dataset, in the order they were defined.
    public func virtualMappings() throws -> [HDF5VirtualMapping] {
        try withCreationList { createList in
            var count = 0
            try call("count virtual mappings") { H5Pget_virtual_count(createList, &count) }
            return try (0..<count).map { index in
                let sourceFile = try virtualName(index, H5Pget_virtual_filename, createList)
                let sourceDataset = try virtualName(index, H5Pget_virtual_dsetname, createList)
                let virtualSpace = HDF5Dataspace(id: try call("get virtual selection \(index)") { H5Pget_virtual_vspace(createList, index) })
                let sourceSpace = HDF5Dataspace(id: try call("get source selection \(index)") { H5Pget_virtual_srcspace(createList, index) })
                return HDF5VirtualMapping(sourceFile: sourceFile, sourceDataset: sourceDataset,
                                          virtualBox: Self.singleBox(virtualSpace), sourceBox: Self.singleBox(sourceSpace))
            }
        }
    }

    private func virtualName(_ index: Int, _ get: (hid_t, Int, UnsafeMutablePointer<CChar>?, Int) -> Int,
                             _ createList: hid_t) throws -> String {
        let length = try call("get virtual mapping \(index)'s name") { get(createList, index, nil, 0) }
        var name = [CChar](repeating: 0, count: length + 1)
        try call("get virtual mapping \(index)'s name") { get(createList, index, &name, name.count) }
        return name.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    /// The selection of `space` as one box, when it is one: everything, or a regular
    /// hyperslab whose blocks touch (count 1, or blocks of 1 at stride 1, or stride = block).
    /// Call with the library lock held.
    private static func singleBox(_ space: HDF5Dataspace) -> [Range<Int>]? {
        let shape = space.shape()
        switch H5Sget_select_type(space.id) {
        case H5S_SEL_ALL:
            return shape.map { 0..<$0 }
        case H5S_SEL_HYPERSLABS:
            guard H5Sis_regular_hyperslab(space.id) > 0 else { return nil }
            let rank = shape.count
            var start = [hsize_t](repeating: 0, count: rank), stride = start, count = start, block = start
            guard H5Sget_regular_hyperslab(space.id, &start, &stride, &count, &block) >= 0 else { return nil }
            var box: [Range<Int>] = []
            for dimension in 0..<rank {
                guard count[dimension] != vae_h5s_unlimited(), block[dimension] != vae_h5s_unlimited() else { return nil }
                let extent: hsize_t
                if count[dimension] == 1 {
                    extent = block[dimension]
                } else if stride[dimension] == block[dimension] {
                    extent = count[dimension] * block[dimension]
                } else {
                    return nil
                }
                box.append(Int(start[dimension])..<Int(start[dimension] + extent))
            }
            return box
        default:
            return nil
        }
    }
}
