import CVAEKernels

/// The spatial shape of a convolution: a k x k kernel from a large image to a small grid.
///
/// Conv2d reads the image and writes the grid; ConvTranspose2d, its adjoint, reads the
/// grid and writes the image. Grid pixel (gy, gx) and kernel tap (ky, kx) meet image pixel
/// (gy s - p + ky, gx s - p + kx), and nothing outside the image. Images are channels last
/// per row, [height, width, channels], so that one GEMM covers every row; a patch matrix
/// (`im2col`) has one row per grid pixel and the taps' channels along it, tap-major.
public struct ConvolutionGeometry: Sendable, Equatable {
    public let imageHeight: Int
    public let imageWidth: Int
    public let gridHeight: Int
    public let gridWidth: Int
    public let kernel: Int
    public let stride: Int
    public let padding: Int

    /// The geometry of a convolution of an image, its grid as PyTorch's Conv2d computes
    /// it: floor((size + 2p - k) / s) + 1. nil when that is below 1.
    public init?(imageHeight: Int, imageWidth: Int, kernel: Int, stride: Int, padding: Int) {
        guard kernel >= 1, stride >= 1, padding >= 0 else { return nil }
        let gridHeight = (imageHeight + 2 * padding - kernel) / stride + 1
        let gridWidth = (imageWidth + 2 * padding - kernel) / stride + 1
        guard imageHeight + 2 * padding >= kernel, imageWidth + 2 * padding >= kernel,
              gridHeight >= 1, gridWidth >= 1 else { return nil }
        self.imageHeight = imageHeight
        self.imageWidth = imageWidth
        self.gridHeight = gridHeight
        self.gridWidth = gridWidth
        self.kernel = kernel
        self.stride = stride
        self.padding = padding
    }

    public var imagePixels: Int { imageHeight * imageWidth }
    public var gridPixels: Int { gridHeight * gridWidth }
    public var taps: Int { kernel * kernel }

    /// The output padding that makes the transposed convolution of the grid give back
    /// this image's size, PyTorch's (size - 1) s - 2p + k + output padding; one per axis.
    public var outputPadding: (height: Int, width: Int) {
        (imageHeight - ((gridHeight - 1) * stride - 2 * padding + kernel),
         imageWidth - ((gridWidth - 1) * stride - 2 * padding + kernel))
    }

    /// The patches of `rows` images [rows, H, W, channels] as [rows x grid pixels, taps x channels].
    func im2col(_ image: UnsafePointer<Float>, rows: Int, channels: Int, into columns: UnsafeMutablePointer<Float>) {
        vae_im2col(image, rows, imageHeight, imageWidth, channels, gridHeight, gridWidth, kernel, stride, padding,
                   columns)
    }

    /// Adds every patch entry of `columns` to its image pixel: the adjoint of `im2col`.
    func col2im(_ columns: UnsafePointer<Float>, rows: Int, channels: Int, into image: UnsafeMutablePointer<Float>) {
        vae_col2im(columns, rows, imageHeight, imageWidth, channels, gridHeight, gridWidth, kernel, stride, padding,
                   image)
    }
}

extension ConvolutionGeometry {
    /// The geometry of a transposed convolution of a grid, its image as PyTorch's
    /// ConvTranspose2d computes it: (size - 1) s - 2p + k + output padding. nil when the
    /// output padding is not below the stride (PyTorch refuses it) or the image is empty.
    public init?(transposingGridHeight gridHeight: Int, gridWidth: Int, kernel: Int, stride: Int, padding: Int,
                 outputPadding: Int) {
        guard gridHeight >= 1, gridWidth >= 1, outputPadding >= 0, outputPadding < stride else { return nil }
        let imageHeight = (gridHeight - 1) * stride - 2 * padding + kernel + outputPadding
        let imageWidth = (gridWidth - 1) * stride - 2 * padding + kernel + outputPadding
        guard imageHeight >= 1, imageWidth >= 1,
              let geometry = ConvolutionGeometry(imageHeight: imageHeight, imageWidth: imageWidth, kernel: kernel,
                                                 stride: stride, padding: padding),
              geometry.gridHeight == gridHeight, geometry.gridWidth == gridWidth else { return nil }
        self = geometry
    }
}
