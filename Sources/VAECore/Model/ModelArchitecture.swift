/// The shape of the VAE: an MLP, or convolutions, from D values to Z latent coordinates.
///
/// The MLP's encoder is D -> h_1 .. h_k -> (mu, logvar) in R^Z and its decoder the
/// mirror, Z -> h_k .. h_1 -> D. With `convolution` set the encoder is a stack of
/// convolutions of the data's image and a dense head, the decoder a dense layer and the
/// mirrored transposed convolutions (`ConvolutionalShape`).
public struct ModelArchitecture: Codable, Sendable, Equatable {
    public var dataDimension: Int
    /// The MLP's hidden sizes; empty for a convolutional model.
    public var hiddenSizes: [Int]
    public var latentDimension: Int
    public var activation: Activation
    /// When set, the Gaussian likelihood's variance is learned per pixel, with this floor.
    ///
    /// s2_d = floor + exp(v_d) with v = `decoder.logvar` [D], the last tensor of the layout.
    /// nil (and absent from configs older than the option): no such tensor.
    public var learnedVarianceFloor: Float?
    /// The convolutional model's shape (`--architecture conv`); nil (and absent from older
    /// configs) for the MLP.
    public var convolution: ConvolutionalShape?

    public init(dataDimension: Int, hiddenSizes: [Int], latentDimension: Int, activation: Activation,
                learnedVarianceFloor: Float? = nil, convolution: ConvolutionalShape? = nil) {
        self.dataDimension = dataDimension
        self.hiddenSizes = hiddenSizes
        self.latentDimension = latentDimension
        self.activation = activation
        self.learnedVarianceFloor = learnedVarianceFloor
        self.convolution = convolution
    }

    /// The name of the learned per-pixel log-variance tensor.
    public static let outputLogVarianceName = "decoder.logvar"

    /// The flat layout of docs/algorithm.md ("Parameters").
    ///
    /// Tensor order is the init stream's tensor index, and names follow a PyTorch state_dict.
    public var parameterLayout: ParameterLayout { ModelLayers(self).layout }

    /// The model in one line: "784-400-20 relu", or "conv 1x28x28 32,64 k3 s2 -> 20 relu".
    public var summary: String {
        if let convolution {
            let image = convolution.imageShape?.map(String.init).joined(separator: "x") ?? "?"
            return "conv \(image) \(convolution.channels.map(String.init).joined(separator: ",")) "
                + "k\(convolution.kernel) s\(convolution.stride) -> \(latentDimension) \(activation.rawValue)"
        }
        let sizes = [dataDimension] + hiddenSizes + [latentDimension]
        return sizes.map(String.init).joined(separator: "-") + " \(activation.rawValue)"
    }

    /// Fits the model to its data: the row width and, for a convolutional model, the image.
    ///
    /// `imageShape` is the data's [C, H, W]; without one a convolutional model takes a
    /// square one-channel image when D is a perfect square (`problems` names the rest).
    public mutating func fit(dataDimension: Int, imageShape: [Int]?) {
        self.dataDimension = dataDimension
        guard convolution != nil else { return }
        if let imageShape {
            convolution?.imageShape = imageShape
        } else {
            let side = Int(Double(dataDimension).squareRoot().rounded())
            convolution?.imageShape = side * side == dataDimension ? [1, side, side] : nil
        }
    }
}
