/// How the initial parameters are drawn; both are pure functions of the seed.
public enum ParameterInitialization: String, CaseIterable, Codable, Sendable {
    /// PyTorch's nn.Linear and nn.Conv*d default: W and b uniform in +-1/sqrt(fan_in).
    case pytorch
    /// Glorot/Xavier uniform weights, +-sqrt(6/(fan_in+fan_out)); zero biases.
    case glorot

    /// Fills `parameters` (laid out by `layout`) from the init stream of `seed`.
    public func initialize(_ parameters: UnsafeMutablePointer<Float>, layout: ParameterLayout, seed: UInt64) {
        let streams = RandomStreams(seed: seed)
        // A bias takes its fan-in from the weight of its layer, the tensor named alike. As in
        // PyTorch, dimension 1 is the fan-in and 0 the fan-out, times the kernel's taps: a
        // ConvTranspose2d weight [in, out, k, k] has fan-in out k^2.
        func fans(ofWeightFor spec: TensorSpec) -> (fanIn: Int, fanOut: Int) {
            let weightName = spec.name.hasSuffix(".bias")
                ? String(spec.name.dropLast(".bias".count)) + ".weight" : spec.name
            let weight = layout.tensor(named: weightName)!
            let taps = weight.shape.dropFirst(2).reduce(1, *)
            return (weight.shape[1] * taps, weight.shape[0] * taps)
        }
        for (tensorIndex, spec) in layout.tensors.enumerated() {
            // The learned per-pixel log-variance starts at 0 (variance floor + 1) under every scheme.
            if spec.name == ModelArchitecture.outputLogVarianceName {
                parameters.advanced(by: spec.offset).update(repeating: 0, count: spec.count)
                continue
            }
            let isBias = spec.shape.count == 1
            let (fanIn, fanOut) = fans(ofWeightFor: spec)
            let bound: Double
            switch self {
            case .pytorch: bound = 1 / Double(fanIn).squareRoot()
            case .glorot: bound = isBias ? 0 : (6 / Double(fanIn + fanOut)).squareRoot()
            }
            for element in 0..<spec.count {
                let u = streams.initUniform(tensor: tensorIndex, element: element)
                parameters[spec.offset + element] = Float(bound * (2 * u - 1))
            }
        }
    }
}
