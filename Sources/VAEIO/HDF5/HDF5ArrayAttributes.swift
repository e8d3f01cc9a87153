import Foundation
import CHDF5
import CVAESupport

extension HDF5Object {
    /// A one-dimensional int64 attribute (h5py reads it as a numpy int64 array), e.g. `image_shape`.
    public func setAttribute(_ name: String, _ values: [Int]) throws {
        precondition(!values.isEmpty, "an array attribute needs at least one value")
        var stored = values.map { Int64($0) }
        try HDF5Library.locked {
            try removeAttributeIfPresent(name)
            let space = try HDF5Dataspace.simple([stored.count], file: file.path, object: path)
            let attribute = try call("create attribute '\(name)'") {
                H5Acreate2(id, name, Int64.fileType, space.id, vae_h5p_default(), vae_h5p_default())
            }
            defer { HDF5Library.close(attribute, with: H5Aclose) }
            try call("write attribute '\(name)'") { H5Awrite(attribute, Int64.nativeType, &stored) }
        }
    }

    /// An integer array attribute (a single integer is a one-element array); nil when absent.
    public func intArrayAttribute(_ name: String) throws -> [Int]? {
        switch try attribute(name) {
        case nil: return nil
        case .integer(let value)?: return [Int(value)]
        case .integers(let values)?: return values.map { Int($0) }
        case let other?:
            throw DataError(file: file.path, object: path,
                            "attribute '\(name)' should be an integer array, found \(other.summary(maxCharacters: 60))")
        }
    }

    /// A one-dimensional attribute of variable-length UTF-8 strings (h5py reads a numpy
    /// array of str), e.g. `label_names`.
    public func setAttribute(_ name: String, _ values: [String]) throws {
        precondition(!values.isEmpty, "an array attribute needs at least one value")
        let type = try HDF5Datatype.variableString(file: file.path, object: path)
        let copies = values.map { strdup($0) }
        defer { copies.forEach { free($0) } }
        var pointers = copies.map { UnsafePointer<CChar>($0) }
        try HDF5Library.locked {
            try removeAttributeIfPresent(name)
            let space = try HDF5Dataspace.simple([values.count], file: file.path, object: path)
            let attribute = try call("create attribute '\(name)'") {
                H5Acreate2(id, name, type.id, space.id, vae_h5p_default(), vae_h5p_default())
            }
            defer { HDF5Library.close(attribute, with: H5Aclose) }
            try call("write attribute '\(name)'") { H5Awrite(attribute, type.id, &pointers) }
        }
    }

    /// A string array attribute (a single string is a one-element array); nil when absent.
    public func stringArrayAttribute(_ name: String) throws -> [String]? {
        switch try attribute(name) {
        case nil: return nil
        case .string(let value)?: return [value]
        case .strings(let values)?: return values
        case let other?:
            throw DataError(file: file.path, object: path,
                            "attribute '\(name)' should be an array of strings, found \(other.summary(maxCharacters: 60))")
        }
    }
}
