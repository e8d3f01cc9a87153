import Foundation

/// The image a data row holds: `channels` planes of `height` x `width` pixels,
/// channels first, so D = C * H * W and value (c, y, x) is at (c * H + y) * W + x.
///
/// Channels first is what PyTorch's Conv2d reads ([N, C, H, W]), so a convolutional
/// model takes rows as they are stored; `prepare` moves the channels of [N, H, W, C]
/// inputs (numpy images, TensorFlow) to the front. Data files record it as the root
/// attribute `image_shape` [C, H, W] (docs/data.md).
public struct ImageShape: Equatable, Sendable, CustomStringConvertible {
    /// The root attribute of a data file that records its rows' image shape, e.g. [1, 28, 28].
    public static let attributeName = "image_shape"

    public let height: Int
    public let width: Int
    public let channels: Int

    public init(height: Int, width: Int, channels: Int = 1) {
        precondition(height >= 1 && width >= 1 && channels >= 1, "an image is at least 1x1 pixels of 1 channel")
        self.height = height
        self.width = width
        self.channels = channels
    }

    /// "28x28" (one channel) or "3x32x32" (channels x height x width, the order of
    /// `image_shape`); nil for anything else.
    public init?(parsing text: String) {
        let parts = text.lowercased().split(separator: "x", omittingEmptySubsequences: false).map { Int($0) }
        guard parts.count == 2 || parts.count == 3, parts.allSatisfy({ ($0 ?? 0) >= 1 }) else { return nil }
        self.init(dimensions: parts.map { $0! })
    }

    /// [C, H, W], or [H, W] for one channel; nil otherwise.
    public init?(dimensions: [Int]) {
        guard dimensions.count == 2 || dimensions.count == 3, dimensions.allSatisfy({ $0 >= 1 }) else { return nil }
        let (channels, height, width) = dimensions.count == 3 ? (dimensions[0], dimensions[1], dimensions[2]) : (1, dimensions[0], dimensions[1])
        self.init(height: height, width: width, channels: channels)
    }

    /// [C, H, W]: what data files and checkpoints record, and `init?(dimensions:)` reads back.
    public var dimensions: [Int] { [channels, height, width] }

    /// Values per image: the data dimension D it fits.
    public var valueCount: Int { height * width * channels }

    /// Whether a PNG can show it: 1 channel (grayscale) or 3 (RGB).
    public var isDrawable: Bool { channels == 1 || channels == 3 }

    public var description: String { channels == 1 ? "\(height)x\(width)" : "\(channels)x\(height)x\(width)" }

    /// The shape to draw rows of `featureCount` values with, first match wins:
    /// `explicit` (--image-shape), the data file's `image_shape` attribute, the
    /// checkpoint's (its training data's), a square sqrt(D) x sqrt(D) grayscale image
    /// when D is a perfect square. `dataFileVerified`: the caller already checked the data
    /// file's checksum (a pass over the whole file), so reading the attribute skips it.
    /// The shape is one a PNG can show (1 or 3 channels), else an error says so.
    public static func resolve(explicit: ImageShape?, dataFile: String?, dataFileVerified: Bool = false,
                               checkpoint: ImageShape? = nil, featureCount: Int) throws -> ImageShape {
        let shape = try resolveAnyChannels(explicit: explicit, dataFile: dataFile, dataFileVerified: dataFileVerified,
                                           checkpoint: checkpoint, featureCount: featureCount)
        guard shape.isDrawable else {
            throw ImageError("image shape \(shape) has \(shape.channels) channels; pictures are drawn for 1 channel (grayscale) "
                             + "or 3 (RGB)")
        }
        return shape
    }

    private static func resolveAnyChannels(explicit: ImageShape?, dataFile: String?, dataFileVerified: Bool,
                                           checkpoint: ImageShape?, featureCount: Int) throws -> ImageShape {
        if let explicit {
            guard explicit.valueCount == featureCount else {
                throw ImageError("--image-shape \(explicit) has \(explicit.valueCount) values per image, but the model's rows have \(featureCount)")
            }
            return explicit
        }
        if let dataFile, let stored = try stored(in: dataFile, verifyingChecksum: !dataFileVerified) {
            guard stored.valueCount == featureCount else {
                throw DataError(file: dataFile, object: "/", "attribute \(attributeName) \(stored) has \(stored.valueCount) values per image, "
                                + "but the model's rows have \(featureCount); pass --image-shape HxW or CxHxW")
            }
            return stored
        }
        if let checkpoint, checkpoint.valueCount == featureCount { return checkpoint }
        let side = Int(Double(featureCount).squareRoot().rounded())
        guard side * side == featureCount else {
            throw ImageError("cannot tell the image shape of rows of \(featureCount) values: pass --image-shape HxW (or 3xHxW for RGB), "
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
    /// when absent; an error naming the file when it is not a shape vae-dist can read.
    static func attribute(of object: HDF5Object) throws -> ImageShape? {
        guard let dimensions = try object.intArrayAttribute(attributeName) else { return nil }
        // Data format_version 1 recorded [H, W, C] with the rows channels last: read as
        // [C, H, W] it would be another image, so it is refused rather than misdrawn.
        if dimensions.count == 3, try object.stringAttribute("format") == DataFile.format,
           let version = try object.intAttribute("format_version"), version < 2 {
            throw DataError(file: object.file.path, object: object.path,
                            "attribute \(attributeName) \(dimensions) is channels last [H, W, C] (data format_version \(version)); "
                            + "prepare the data again for [C, H, W] rows (docs/data.md)")
        }
        guard let shape = ImageShape(dimensions: dimensions) else {
            throw DataError(file: object.file.path, object: object.path,
                            "attribute \(attributeName) \(dimensions) is not an image shape: expected [C, H, W] (or [H, W] for one channel) "
                            + "of positive sizes; pass --image-shape")
        }
        return shape
    }
}
