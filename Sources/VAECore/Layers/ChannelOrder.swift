import CVAEKernels

/// Rows of channels-first images [C, H, W] to channels last [H, W, C], or back.
///
/// Data rows and PyTorch's `flatten` / `view` are channels first; the convolutions work
/// channels last, so one GEMM covers every row. `toChannelsLast` sits before the first
/// convolution (of a multi-channel image) and after the decoder's reshape; `toChannelsFirst`
/// is the encoder's flatten before its dense head, and the decoder's last layer.
public struct ChannelOrder: ParameterFreeLayer {
    public let channels: Int
    public let height: Int
    public let width: Int
    /// true: [C, H, W] to [H, W, C]; false: the inverse.
    public let toChannelsLast: Bool

    public init(channels: Int, height: Int, width: Int, toChannelsLast: Bool) {
        self.channels = channels
        self.height = height
        self.width = width
        self.toChannelsLast = toChannelsLast
    }

    public var inputWidth: Int { channels * height * width }
    public var outputWidth: Int { channels * height * width }

    public func forward(input: UnsafePointer<Float>, rows: Int, parameters: UnsafePointer<Float>,
                        output: UnsafeMutablePointer<Float>, workspace: UnsafeMutablePointer<Float>) {
        transpose(input, rows: rows, toChannelsLast: toChannelsLast, into: output)
    }

    public func backwardData(outputGradient: UnsafePointer<Float>, output: UnsafePointer<Float>, rows: Int,
                             parameters: UnsafePointer<Float>, inputGradient: UnsafeMutablePointer<Float>,
                             workspace: UnsafeMutablePointer<Float>) {
        transpose(outputGradient, rows: rows, toChannelsLast: !toChannelsLast, into: inputGradient)
    }

    private func transpose(_ source: UnsafePointer<Float>, rows: Int, toChannelsLast: Bool,
                           into destination: UnsafeMutablePointer<Float>) {
        let pixels = height * width
        if toChannelsLast {
            vae_transpose_rows(source, rows, channels, pixels, destination)
        } else {
            vae_transpose_rows(source, rows, pixels, channels, destination)
        }
    }
}
