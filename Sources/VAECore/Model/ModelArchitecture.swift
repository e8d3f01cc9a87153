/// The shape of the VAE: an MLP encoder D -> h_1 .. h_k -> (mu, logvar) in R^Z,
/// and the mirrored decoder Z -> h_k .. h_1 -> D.
public struct ModelArchitecture: Codable, Sendable, Equatable {
    public var dataDimension: Int
    public var hiddenSizes: [Int]
    public var latentDimension: Int
    public var activation: Activation
    /// When set, the Gaussian likelihood's variance is learned per pixel:
    /// s2_d = floor + exp(v_d) with v = `decoder.logvar` [D], the last tensor of
    /// the layout. nil (and absent from configs older than the option): no such tensor.
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

    /// The flat layout of docs/algorithm.md ("Parameters"): tensor order is the
    /// init stream's tensor index, and names follow a PyTorch state_dict.
    public var parameterLayout: ParameterLayout { buildLayers().layout }

    /// The dense layers in order of computation, and the layout they index.
    func buildLayers() -> (encoder: [Dense], head: Dense, decoder: [Dense], output: Dense, layout: ParameterLayout) {
        var layout = ParameterLayout()
        var encoder: [Dense] = []
        var width = dataDimension
        for (i, hidden) in hiddenSizes.enumerated() {
            let w = layout.append("encoder.fc\(i + 1).weight", shape: [hidden, width])
            let b = layout.append("encoder.fc\(i + 1).bias", shape: [hidden])
            encoder.append(Dense(inFeatures: width, outFeatures: hidden, weightOffset: w, biasOffset: b))
            width = hidden
        }
        // mu and logvar weights, then their biases: one [2Z, h_k] GEMM computes both heads.
        let z = latentDimension
        let muWeight = layout.append("encoder.mu.weight", shape: [z, width])
        layout.append("encoder.logvar.weight", shape: [z, width])
        let muBias = layout.append("encoder.mu.bias", shape: [z])
        layout.append("encoder.logvar.bias", shape: [z])
        let head = Dense(inFeatures: width, outFeatures: 2 * z, weightOffset: muWeight, biasOffset: muBias)

        var decoder: [Dense] = []
        width = z
        for (i, hidden) in hiddenSizes.reversed().enumerated() {
            let w = layout.append("decoder.fc\(i + 1).weight", shape: [hidden, width])
            let b = layout.append("decoder.fc\(i + 1).bias", shape: [hidden])
            decoder.append(Dense(inFeatures: width, outFeatures: hidden, weightOffset: w, biasOffset: b))
            width = hidden
        }
        let w = layout.append("decoder.out.weight", shape: [dataDimension, width])
        let b = layout.append("decoder.out.bias", shape: [dataDimension])
        let output = Dense(inFeatures: width, outFeatures: dataDimension, weightOffset: w, biasOffset: b)
        if learnedVarianceFloor != nil {
            layout.append(Self.outputLogVarianceName, shape: [dataDimension])
        }
        return (encoder, head, decoder, output, layout)
    }
}
