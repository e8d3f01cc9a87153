import CHDF5
import CVAESupport
import Foundation

/// A group or dataset: something with a path and attributes.
public class HDF5Object {
    /// The file stays open while any object from it is alive.
    public let file: HDF5File
    /// Absolute path in the file, e.g. `/features`.
    public let path: String
    let id: hid_t
    private let closeFunction: (hid_t) -> herr_t

    init(file: HDF5File, path: String, id: hid_t, close: @escaping (hid_t) -> herr_t) {
        self.file = file
        self.path = path
        self.id = id
        self.closeFunction = close
    }

    deinit { HDF5Library.close(id, with: closeFunction) }

    @discardableResult
    func call<T: BinaryInteger>(_ operation: @autoclosure () -> String, _ body: () -> T) throws -> T {
        try HDF5Library.call(file: file.path, object: path, operation(), body)
    }

    static func join(_ parentPath: String, _ name: String) -> String {
        if name.hasPrefix("/") { return name }
        return parentPath.hasSuffix("/") ? parentPath + name : parentPath + "/" + name
    }
}

/// Owns a dataspace handle for the duration of one operation.
final class HDF5Dataspace {
    let id: hid_t
    init(id: hid_t) { self.id = id }
    deinit { HDF5Library.close(id, with: H5Sclose) }

    static func simple(_ shape: [Int], maxShape: [hsize_t]? = nil, file: String, object: String?) throws -> HDF5Dataspace {
        let dims = shape.map { hsize_t($0) }
        let id = try HDF5Library.call(file: file, object: object, "create dataspace \(shape)") {
            if let maxShape { return H5Screate_simple(Int32(dims.count), dims, maxShape) }
            return H5Screate_simple(Int32(dims.count), dims, nil)
        }
        return HDF5Dataspace(id: id)
    }

    static func scalar(file: String, object: String?) throws -> HDF5Dataspace {
        HDF5Dataspace(id: try HDF5Library.call(file: file, object: object, "create scalar dataspace") { H5Screate(H5S_SCALAR) })
    }

    /// Dimensions; [] for a scalar dataspace. Call with the library lock held.
    func shape() -> [Int] {
        let rank = Int(H5Sget_simple_extent_ndims(id))
        guard rank > 0 else { return [] }
        var dims = [hsize_t](repeating: 0, count: rank)
        _ = H5Sget_simple_extent_dims(id, &dims, nil)
        return dims.map { Int($0) }
    }
}

/// Owns a datatype handle for the duration of one operation.
final class HDF5Datatype {
    let id: hid_t
    init(id: hid_t) { self.id = id }
    deinit { HDF5Library.close(id, with: H5Tclose) }

    /// A variable-length UTF-8 string type: what h5py reads back as `str`.
    static func variableString(file: String, object: String?) throws -> HDF5Datatype {
        let type = HDF5Datatype(id: try HDF5Library.call(file: file, object: object, "copy string type") {
            H5Tcopy(vae_h5t_c_s1())
        })
        try HDF5Library.call(file: file, object: object, "make string type variable-length") {
            H5Tset_size(type.id, vae_h5t_variable())
        }
        try HDF5Library.call(file: file, object: object, "set string type UTF-8") {
            H5Tset_cset(type.id, H5T_CSET_UTF8)
        }
        return type
    }
}
