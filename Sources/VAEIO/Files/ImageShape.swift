import Foundation

/// How one data row of D values is drawn: height x width pixels of 1 (gray)
/// or 3 (RGB, channels last) channels, row-major, so D = height * width * channels.
public struct ImageShape: Equatable, Sendable, CustomStringConvertible {
    /// The root attribute of a data file that records its rows' image shape, e.g. [28, 28].
    public static let attributeName = "image_shape"

    public let height: Int
    public let width: Int
    public let channels: Int

    public init(height: Int, width: Int, channels: Int = 1) {
        precondition(height >= 1 && width >= 1 && (channels == 1 || channels == 3), "an image is at least 1x1 pixels of 1 or 3 channels")
        self.height = height
        self.width = width
        self.channels = channels
    }

    /// "28x28" (grayscale) or "32x32x3" (RGB); nil for anything else.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2 || parts.count == 3, parts.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        let channels = parts.count == 3 ? parts[2]! : 1
        guard channels == 1 || channels == 3 else { return nil }
        self.init(height: parts[0]!, width: parts[1]!, channels: channels)
    }

    /// [H, W], [H, W, 1] or [H, W, 3] (channels last, as numpy images are); nil otherwise.
    public init?(dimensions: [Int]) {
        guard dimensions.count == 2 || dimensions.count == 3, dimensions.allSatisfy({ $0 >= 1 }) else { return nil }
        let channels = dimensions.count == 3 ? dimensions[2] : 1
        guard channels == 1 || channels == 3 else { return nil }
        self.init(height: dimensions[0], width: dimensions[1], channels: channels)
    }

    /// [H, W] (grayscale) or [H, W, 3]: what `init?(dimensions:)` reads back.
    public var dimensions: [Int] { channels == 1 ? [height, width] : [height, width, channels] }

    /// Values per image: the data dimension D it fits.
    public var valueCount: Int { height * width * channels }

    public var description: String { channels == 1 ? "\(height)x\(width)" : "\(height)x\(width)x\(channels)" }

    /// The shape to draw rows of `featureCount` values with, first match wins:
    /// `explicit` (--image-shape), the data file's `image_shape` attribute, the
    /// checkpoint's (its training data's), a square sqrt(D) x sqrt(D) grayscale image
    /// when D is a perfect square. `dataFileVerified`: the caller already checked the data
    /// file's checksum (a pass over the whole file), so reading the attribute skips it.
    public static func resolve(explicit: ImageShape?, dataFile: String?, dataFileVerified: Bool = false,
                               checkpoint: ImageShape? = nil, featureCount: Int) throws -> ImageShape {
        if let explicit {
            guard explicit.valueCount == featureCount else {
                throw ImageError("--image-shape \(explicit) has \(explicit.valueCount) values per image, but the model's rows have \(featureCount)")
            }
            return explicit
        }
        if let dataFile, let stored = try stored(in: dataFile, verifyingChecksum: !dataFileVerified) {
            guard stored.valueCount == featureCount else {
                throw DataError(file: dataFile, object: "/", "attribute \(attributeName) \(stored) has \(stored.valueCount) values per image, "
                                + "but the model's rows have \(featureCount); pass --image-shape HxW")
            }
            return stored
        }
        if let checkpoint, checkpoint.valueCount == featureCount { return checkpoint }
        let side = Int(Double(featureCount).squareRoot().rounded())
        guard side * side == featureCount else {
            throw ImageError("cannot tell the image shape of rows of \(featureCount) values: pass --image-shape HxW (or HxWx3 for RGB), "
                             + "or use a data file with an \(attributeName) attribute")
        }
        return ImageShape(height: side, width: side)
    }

    /// The `image_shape` root attribute of a data file, nil when it has none.
    public static func stored(in dataFile: String, verifyingChecksum: Bool = true) throws -> ImageShape? {
        try DataFile.checkReadableHDF5(dataFile, verifyingChecksum: verifyingChecksum)
        return try attribute(of: try HDF5File.open(dataFile).root())
    }

    /// The `image_shape` attribute of `object` (a data file's or a checkpoint's root), nil
    /// when absent; an error naming the file when it is not a shape vae-dist can draw.
    static func attribute(of object: HDF5Object) throws -> ImageShape? {
        guard let dimensions = try object.intArrayAttribute(attributeName) else { return nil }
        guard let shape = ImageShape(dimensions: dimensions) else {
            throw DataError(file: object.file.path, object: object.path,
                            "attribute \(attributeName) \(dimensions) is not an image shape vae-dist can draw: "
                            + "expected [H, W], [H, W, 1] or [H, W, 3]; pass --image-shape")
        }
        return shape
    }
}
