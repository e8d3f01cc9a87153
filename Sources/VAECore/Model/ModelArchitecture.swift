/// The shape of the VAE: an MLP encoder D -> h_1 ..
///
/// h_k -> (mu, logvar) in R^Z, and the mirrored decoder Z -> h_k .. h_1 -> D.
public struct ModelArchitecture: Codable, Sendable, Equatable {
    public var dataDimension: Int
    public var hiddenSizes: [Int]
    public var latentDimension: Int
    public var activation: Activation
    /// When set, the Gaussian likelihood's variance is learned per pixel, with this floor.
    ///
    /// s2_d = floor + exp(v_d) with v = `decoder.logvar` [D], the last tensor of the layout.
    /// nil (and absent from configs older than the option): no such tensor.
    public var learnedVarianceFloor: Float?

    public init(dataDimension: Int, hiddenSizes: [Int], latentDimension: Int, activation: Activation,
                learnedVarianceFloor: Float? = nil) {
        self.dataDimension = dataDimension
        self.hiddenSizes = hiddenSizes
        self.latentDimension = latentDimension
        self.activation = activation
        self.learnedVarianceFloor = learnedVarianceFloor
    }

    /// The name of the learned per-pixel log-variance tensor.
    public static let outputLogVarianceName = "decoder.logvar"

    /// The flat layout of docs/algorithm.md ("Parameters").
    ///
    /// Tensor order is the init stream's tensor index, and names follow a PyTorch state_dict.
    public var parameterLayout: ParameterLayout { ModelLayers(self).layout }
}
