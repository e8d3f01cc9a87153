import CHDF5
import CVAESupport

/// Swift scalar types that map one-to-one onto an HDF5 native type.
public protocol HDF5Element: Sendable {
    /// The in-memory (native) HDF5 type; HDF5 converts to and from the file type.
    static var nativeType: hid_t { get }
    /// The little-endian file type new datasets are written with.
    static var fileType: hid_t { get }
    static var elementType: HDF5ElementType { get }
    init()
}

extension UInt8: HDF5Element {
    public static var nativeType: hid_t { vae_h5t_native_uint8() }
    public static var fileType: hid_t { vae_h5t_std_u8le() }
    public static var elementType: HDF5ElementType { .uint8 }
}

extension Int32: HDF5Element {
    public static var nativeType: hid_t { vae_h5t_native_int32() }
    public static var fileType: hid_t { vae_h5t_std_i32le() }
    public static var elementType: HDF5ElementType { .int32 }
}

extension Int64: HDF5Element {
    public static var nativeType: hid_t { vae_h5t_native_int64() }
    public static var fileType: hid_t { vae_h5t_std_i64le() }
    public static var elementType: HDF5ElementType { .int64 }
}

extension Float: HDF5Element {
    public static var nativeType: hid_t { vae_h5t_native_float() }
    public static var fileType: hid_t { vae_h5t_ieee_f32le() }
    public static var elementType: HDF5ElementType { .float32 }
}

extension Double: HDF5Element {
    public static var nativeType: hid_t { vae_h5t_native_double() }
    public static var fileType: hid_t { vae_h5t_ieee_f64le() }
    public static var elementType: HDF5ElementType { .float64 }
}

/// What a dataset or attribute holds, in numpy's vocabulary (what h5py users see).
public enum HDF5ElementType: Equatable, Sendable, CustomStringConvertible {
    case uint8, int8, uint16, int16, uint32, int32, uint64, int64
    case float32, float64
    case string
    /// Anything else (compound, enum, ...), described by HDF5 class and size.
    case other(String)

    public var isInteger: Bool {
        switch self {
        case .uint8, .int8, .uint16, .int16, .uint32, .int32, .uint64, .int64: return true
        default: return false
        }
    }

    public var isFloatingPoint: Bool { self == .float32 || self == .float64 }

    public var description: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float32: return "float32"
        case .float64: return "float64"
        case .string: return "string"
        case .other(let text): return text
        }
    }

    /// Classifies an HDF5 datatype handle. Call with the library lock held.
    static func classify(_ type: hid_t) -> HDF5ElementType {
        let size = H5Tget_size(type)
        switch H5Tget_class(type) {
        case H5T_INTEGER:
            let signed = H5Tget_sign(type) == H5T_SGN_2
            switch (size, signed) {
            case (1, false): return .uint8
            case (1, true): return .int8
            case (2, false): return .uint16
            case (2, true): return .int16
            case (4, false): return .uint32
            case (4, true): return .int32
            case (8, false): return .uint64
            case (8, true): return .int64
            default: return .other("integer of \(size) bytes")
            }
        case H5T_FLOAT:
            switch size {
            case 4: return .float32
            case 8: return .float64
            default: return .other("float of \(size) bytes")
            }
        case H5T_STRING: return .string
        case H5T_COMPOUND: return .other("compound")
        case H5T_ENUM: return .other("enum")
        case H5T_ARRAY: return .other("array")
        case H5T_VLEN: return .other("vlen")
        case H5T_OPAQUE: return .other("opaque")
        case H5T_BITFIELD: return .other("bitfield")
        case H5T_REFERENCE: return .other("reference")
        default: return .other("unknown type")
        }
    }
}
