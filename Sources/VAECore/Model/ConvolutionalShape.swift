/// The shape of a convolutional VAE (`--architecture conv`): its convolutions and its image.
///
/// The encoder is one k x k convolution of stride s per entry of `channels` (padding
/// (k - 1) / 2, so k3 s2 halves the image), each with the activation, then a dense head
/// to (mu, logvar); the decoder a dense layer from z to the last grid with the activation,
/// then the transposed convolutions in mirror order, their output padding chosen to give
/// back each image size exactly, the last one without activation. For a 1x28x28 image
/// the default is PyTorch's Conv(1->32, k3, s2, p1), Conv(32->64), Linear(3136 -> Z) x 2;
/// Linear(Z -> 3136), ConvTranspose(64->32, output padding 1), ConvTranspose(32->1).
public struct ConvolutionalShape: Codable, Sendable, Equatable {
    /// Output channels of the encoder's convolutions, in order.
    public var channels: [Int]
    public var kernel: Int
    public var stride: Int
    /// The data's image [C, H, W]; nil until the data is known.
    public var imageShape: [Int]?

    public init(channels: [Int] = [32, 64], kernel: Int = 3, stride: Int = 2, imageShape: [Int]? = nil) {
        self.channels = channels
        self.kernel = kernel
        self.stride = stride
        self.imageShape = imageShape
    }

    public var padding: Int { (kernel - 1) / 2 }

    /// The largest kernel and stride accepted.
    public static let sizeLimit = 1 << 20

    /// One encoder convolution: its geometry and channels (the decoder runs it transposed).
    public struct Stage: Sendable, Equatable {
        public let geometry: ConvolutionGeometry
        public let inChannels: Int
        public let outChannels: Int
    }

    /// The encoder's convolutions over the image; nil while the image is unknown or too
    /// small for them (`problems` says which).
    public var stages: [Stage]? {
        guard let imageShape, imageShape.count == 3, imageShape.allSatisfy({ (1...Self.sizeLimit).contains($0) }),
              (1...Self.sizeLimit).contains(kernel), (1...Self.sizeLimit).contains(stride) else { return nil }
        var (channels, height, width) = (imageShape[0], imageShape[1], imageShape[2])
        var stages: [Stage] = []
        for out in self.channels {
            guard out >= 1, let geometry = ConvolutionGeometry(imageHeight: height, imageWidth: width, kernel: kernel,
                                                               stride: stride, padding: padding) else { return nil }
            stages.append(Stage(geometry: geometry, inChannels: channels, outChannels: out))
            (channels, height, width) = (out, geometry.gridHeight, geometry.gridWidth)
        }
        return stages
    }

    /// Problems a user can fix, in the words of the command line; empty when valid.
    /// `dataDimension` is the data's row width (checked against the image when known).
    public func problems(dataDimension: Int) -> [String] {
        var found: [String] = []
        if channels.isEmpty || channels.contains(where: { $0 < 1 }) {
            found.append("--channels must be comma-separated positive counts like 32,64 (got "
                         + "\(channels.map(String.init).joined(separator: ",")))")
        }
        // Bounded so that the image sizes computed from them cannot overflow an Int.
        if !(1...Self.sizeLimit).contains(kernel) { found.append("--kernel must be 1...\(Self.sizeLimit) (got \(kernel))") }
        if !(1...Self.sizeLimit).contains(stride) { found.append("--stride must be 1...\(Self.sizeLimit) (got \(stride))") }
        guard found.isEmpty, dataDimension > 1 else { return found }
        guard let imageShape else {
            return ["--architecture conv needs images: the data has no image_shape attribute and its "
                    + "\(dataDimension) values per row are not a square image"]
        }
        let image = imageShape.map(String.init).joined(separator: "x")
        guard imageShape.count == 3, imageShape.reduce(1, *) == dataDimension else {
            return ["--architecture conv: the image \(image) does not hold the data's \(dataDimension) values per row"]
        }
        if stages == nil {
            found.append("--architecture conv: the \(image) image is too small for \(channels.count) convolutions "
                         + "with kernel \(kernel), stride \(stride) and padding \(padding) "
                         + "(\(sizes(from: imageShape[1], imageShape[2])))")
        }
        return found
    }

    /// "28x28 -> 14x14 -> 7x7" as far as the sizes stay at least 1x1.
    private func sizes(from height: Int, _ width: Int) -> String {
        var (height, width) = (height, width)
        var text = "\(height)x\(width)"
        for _ in channels {
            let (nextHeight, nextWidth) = ((height + 2 * padding - kernel) / stride + 1,
                                           (width + 2 * padding - kernel) / stride + 1)
            guard height + 2 * padding >= kernel, width + 2 * padding >= kernel, nextHeight >= 1, nextWidth >= 1 else {
                return text + " -> nothing"
            }
            (height, width) = (nextHeight, nextWidth)
            text += " -> \(height)x\(width)"
        }
        return text
    }
}
