/// Where the channels of a 4-D input array [N, a, b, c] are: `prepare --layout`.
public enum ImageLayout: String, CaseIterable, Sendable {
    /// The smaller of a and c is the channel count: [N, 3, 32, 32] is NCHW, [N, 32, 32, 3] NHWC.
    case auto
    /// [N, C, H, W]: PyTorch's order, stored as it is.
    case nchw
    /// [N, H, W, C]: numpy images, TensorFlow, PIL; channels are moved first.
    case nhwc
}

/// How an input array [N, ...] becomes data rows: an image [C, H, W] when the
/// array has 3 or 4 dimensions (recorded as `image_shape`), else flat values.
///
/// Rows are stored channels first (ImageShape), so an [N, H, W, C] input is
/// transposed row by row as it is converted; everything else is stored in its order.
struct RowLayout {
    /// D: values per row.
    let featureCount: Int
    let imageShape: ImageShape?
    /// The input rows are [H, W, C] and are stored as [C, H, W].
    let channelsLast: Bool
    /// What the input's dimensions were read as, e.g. "[N, H, W, C] = [100, 32, 32, 3]".
    let reading: String

    /// The layout of an input of `shape`; `file` names it in errors.
    static func of(shape: [Int], layout: ImageLayout, file: String) throws -> RowLayout {
        guard shape.count >= 2 else {
            throw DataError(file: file, "has shape \(shape); expected at least 2 dimensions [rows, features...]")
        }
        guard shape.allSatisfy({ $0 >= 1 }) else {
            throw DataError(file: file, "has shape \(shape); expected at least one row and one value per row")
        }
        let rowShape = Array(shape.dropFirst())
        let count = rowShape.reduce(1, *)
        func named(_ names: String) -> String { "[\(names)] = \(shape)" }
        switch rowShape.count {
        case 2:
            return RowLayout(featureCount: count, imageShape: ImageShape(height: rowShape[0], width: rowShape[1]),
                             channelsLast: false, reading: named("N, H, W"))
        case 3:
            let (a, c) = (rowShape[0], rowShape[2])
            let channelsLast: Bool
            switch layout {
            case .nchw: channelsLast = false
            case .nhwc: channelsLast = true
            case .auto:
                guard a != c else {
                    throw DataError(file: file, "has shape \(shape): its channels could be first or last; "
                                    + "pass --layout nchw ([N, C, H, W]) or --layout nhwc ([N, H, W, C])")
                }
                channelsLast = c < a
            }
            let image = channelsLast ? ImageShape(height: rowShape[0], width: rowShape[1], channels: rowShape[2])
                                     : ImageShape(height: rowShape[1], width: rowShape[2], channels: rowShape[0])
            return RowLayout(featureCount: count, imageShape: image, channelsLast: channelsLast,
                             reading: named(channelsLast ? "N, H, W, C" : "N, C, H, W"))
        default:
            return RowLayout(featureCount: count, imageShape: nil, channelsLast: false,
                             reading: rowShape.count == 1 ? named("N, D") : named("N, ...") + ", flattened to [N, \(count)]")
        }
    }

    /// Copies one input row into `row` in the stored order: [H, W, C] -> [C, H, W]
    /// when `channelsLast`, as it is otherwise.
    func store<T>(_ input: UnsafeBufferPointer<T>, into row: UnsafeMutableBufferPointer<T>) {
        guard channelsLast, let image = imageShape else {
            _ = row.initialize(from: input)
            return
        }
        let plane = image.height * image.width
        for pixel in 0..<plane {
            for channel in 0..<image.channels {
                row[channel * plane + pixel] = input[pixel * image.channels + channel]
            }
        }
    }

    /// The input index of value `element` of an input row, e.g. "[2, 5, 1]" for an image.
    func inputIndex(of element: Int, shape: [Int]) -> String {
        var index: [Int] = []
        var rest = element
        for size in shape.dropFirst().reversed() {
            index.insert(rest % size, at: 0)
            rest /= size
        }
        return "[" + index.map(String.init).joined(separator: ", ") + "]"
    }
}
