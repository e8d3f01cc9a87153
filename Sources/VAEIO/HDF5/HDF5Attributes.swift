import CHDF5
import CVAESupport
import Foundation

/// An attribute's value as read from a file written by anyone (vae-dist, h5py, ...).
public enum HDF5AttributeValue: Equatable, Sendable {
    case integer(Int64)
    case float(Double)
    case string(String)
    case integers([Int64])
    case floats([Double])
    case strings([String])
    /// A type vae-dist does not read (compound, enum, ...): its description.
    case unsupported(String)
}

extension HDF5Object {
    // MARK: Writing

    public func setAttribute(_ name: String, _ value: Int) throws {
        var stored = Int64(value)
        try writeScalarAttribute(name, fileType: Int64.fileType, memoryType: Int64.nativeType, &stored)
    }

    public func setAttribute(_ name: String, _ value: Double) throws {
        var stored = value
        try writeScalarAttribute(name, fileType: Double.fileType, memoryType: Double.nativeType, &stored)
    }

    /// A variable-length UTF-8 string (h5py reads it as `str`).
    public func setAttribute(_ name: String, _ value: String) throws {
        let type = try HDF5Datatype.variableString(file: file.path, object: path)
        try value.withCString { characters in
            var pointer: UnsafePointer<CChar>? = characters
            try writeScalarAttribute(name, fileType: type.id, memoryType: type.id, &pointer)
        }
    }

    /// A value encoded as a JSON string (sorted keys, so files are reproducible).
    public func setJSONAttribute<T: Encodable>(_ name: String, _ value: T) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        let data = try encoder.encode(value)
        try setAttribute(name, String(decoding: data, as: UTF8.self))
    }

    private func writeScalarAttribute<T>(_ name: String, fileType: hid_t, memoryType: hid_t, _ value: inout T) throws {
        try HDF5Library.locked {
            try removeAttributeIfPresent(name)
            let space = try HDF5Dataspace.scalar(file: file.path, object: path)
            let attribute = try call("create attribute '\(name)'") {
                H5Acreate2(id, name, fileType, space.id, vae_h5p_default(), vae_h5p_default())
            }
            defer { HDF5Library.close(attribute, with: H5Aclose) }
            try call("write attribute '\(name)'") { withUnsafeMutablePointer(to: &value) { H5Awrite(attribute, memoryType, $0) } }
        }
    }

    /// Replacing an attribute means deleting it first: HDF5 refuses to create a duplicate.
    public func removeAttributeIfPresent(_ name: String) throws {
        if try hasAttribute(name) {
            try call("delete attribute '\(name)'") { H5Adelete(id, name) }
        }
    }

    // MARK: Reading

    public func hasAttribute(_ name: String) throws -> Bool {
        try call("check for attribute '\(name)'") { H5Aexists(id, name) } > 0
    }

    /// Attribute names in creation order where tracked, else name order.
    public func attributeNames() throws -> [String] {
        final class Names { var list: [String] = [] }
        let names = Names()
        var index: hsize_t = 0
        _ = try withExtendedLifetime(names) {
            try HDF5Library.readingStructure(file: file.path, object: path, "list attributes") {
                H5Aiterate2(id, H5_INDEX_NAME, H5_ITER_INC, &index, { _, name, _, context in
                    guard let name, let context else { return 0 }
                    Unmanaged<Names>.fromOpaque(context).takeUnretainedValue().list.append(String(cString: name))
                    return 0
                }, Unmanaged.passUnretained(names).toOpaque())
            }
        }
        return names.list
    }

    /// The attribute's value, or nil when there is no attribute of that name.
    public func attribute(_ name: String) throws -> HDF5AttributeValue? {
        try HDF5Library.guardingAgainstLoops(file: file.path, object: path, "read attribute '\(name)'") {
            try readAttribute(name)
        }
    }

    private func readAttribute(_ name: String) throws -> HDF5AttributeValue? {
        try HDF5Library.locked {
            guard try hasAttribute(name) else { return nil }
            let attribute = try call("open attribute '\(name)'") { H5Aopen(id, name, vae_h5p_default()) }
            defer { HDF5Library.close(attribute, with: H5Aclose) }
            let type = HDF5Datatype(id: try call("get type of attribute '\(name)'") { H5Aget_type(attribute) })
            let space = HDF5Dataspace(id: try call("get dataspace of attribute '\(name)'") { H5Aget_space(attribute) })
            let count = Int(H5Sget_simple_extent_npoints(space.id))
            let isScalar = space.shape().reduce(1, *) == 1
            let elementType = HDF5ElementType.classify(type.id)
            if elementType.isInteger {
                var values = [Int64](repeating: 0, count: count)
                try call("read attribute '\(name)'") { H5Aread(attribute, Int64.nativeType, &values) }
                return isScalar ? .integer(values[0]) : .integers(values)
            }
            if elementType.isFloatingPoint {
                var values = [Double](repeating: 0, count: count)
                try call("read attribute '\(name)'") { H5Aread(attribute, Double.nativeType, &values) }
                return isScalar ? .float(values[0]) : .floats(values)
            }
            if elementType == .string {
                let strings = try readStrings(attribute: attribute, type: type, space: space, count: count, name: name)
                return isScalar ? .string(strings[0]) : .strings(strings)
            }
            return .unsupported(elementType.description)
        }
    }

    private func readStrings(attribute: hid_t, type: HDF5Datatype, space: HDF5Dataspace, count: Int, name: String) throws -> [String] {
        if H5Tis_variable_str(type.id) > 0 {
            let memoryType = try HDF5Datatype.variableString(file: file.path, object: path)
            var pointers = [UnsafeMutablePointer<CChar>?](repeating: nil, count: count)
            try call("read attribute '\(name)'") { H5Aread(attribute, memoryType.id, &pointers) }
            defer { _ = H5Dvlen_reclaim(memoryType.id, space.id, vae_h5p_default(), &pointers) }
            return pointers.map { $0.map { String(cString: $0) } ?? "" }
        }
        // Fixed-length strings (numpy 'S' dtype, h5py's np.bytes_): NUL- or space-padded.
        let width = H5Tget_size(type.id)
        var bytes = [UInt8](repeating: 0, count: width * count)
        try call("read attribute '\(name)'") { H5Aread(attribute, type.id, &bytes) }
        return (0..<count).map { index in
            let field = bytes[(index * width)..<((index + 1) * width)]
            let end = field.firstIndex(of: 0) ?? field.endIndex
            return String(decoding: field[field.startIndex..<end], as: UTF8.self)
        }
    }

    /// An integer attribute; nil when absent. Throws when present but not an integer.
    public func intAttribute(_ name: String) throws -> Int? {
        switch try attribute(name) {
        case nil: return nil
        case .integer(let value)?: return Int(value)
        case .float(let value)? where value == value.rounded() && abs(value) < 1e15: return Int(value)
        case let other?: throw attributeTypeError(name, expected: "an integer", found: other)
        }
    }

    /// A floating-point attribute (integers are accepted); nil when absent.
    public func doubleAttribute(_ name: String) throws -> Double? {
        switch try attribute(name) {
        case nil: return nil
        case .float(let value)?: return value
        case .integer(let value)?: return Double(value)
        case .floats(let values)? where values.count == 1: return values[0]
        case let other?: throw attributeTypeError(name, expected: "a number", found: other)
        }
    }

    /// A string attribute; nil when absent.
    public func stringAttribute(_ name: String) throws -> String? {
        switch try attribute(name) {
        case nil: return nil
        case .string(let value)?: return value
        case let other?: throw attributeTypeError(name, expected: "a string", found: other)
        }
    }

    /// A JSON-string attribute decoded as `T`; nil when absent.
    public func jsonAttribute<T: Decodable>(_ name: String, as type: T.Type) throws -> T? {
        guard let text = try stringAttribute(name) else { return nil }
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch {
            throw DataError(file: file.path, object: path, "attribute '\(name)' is not the expected JSON: \(error)")
        }
    }

    private func attributeTypeError(_ name: String, expected: String, found: HDF5AttributeValue) -> DataError {
        DataError(file: file.path, object: path, "attribute '\(name)' should be \(expected), found \(found.summary(maxCharacters: 60))")
    }
}

extension HDF5AttributeValue {
    /// A one-line rendering; long strings (JSON configs) are cut with their length noted.
    public func summary(maxCharacters: Int = 120) -> String {
        func quoted(_ text: String) -> String {
            let flat = text.replacingOccurrences(of: "\n", with: "\\n")
            if flat.count <= maxCharacters { return "\"\(flat)\"" }
            return "\"\(flat.prefix(maxCharacters))...\" (\(text.count) characters)"
        }
        func list<T>(_ values: [T], _ render: (T) -> String) -> String {
            let shown = values.prefix(8).map(render).joined(separator: ", ")
            return values.count > 8 ? "[\(shown), ...] (\(values.count) values)" : "[\(shown)]"
        }
        switch self {
        case .integer(let value): return String(value)
        case .float(let value): return String(value)
        case .string(let text): return quoted(text)
        case .integers(let values): return list(values) { String($0) }
        case .floats(let values): return list(values) { String($0) }
        case .strings(let values): return list(values, quoted)
        case .unsupported(let type): return "<\(type)>"
        }
    }
}
