/// The model families of `--architecture`.
public enum ArchitectureKind: String, CaseIterable, Codable, Sendable {
    /// Dense layers (`--hidden`).
    case mlp
    /// Convolutions of the data's image (`--channels`, `--kernel`, `--stride`; `ConvolutionalShape`).
    case conv
}

extension ModelArchitecture {
    public var kind: ArchitectureKind { convolution == nil ? .mlp : .conv }
}
