// The data movement of the convolution layers (Conv2d, ConvTranspose2d): images are
// stored channels last, [rows, height, width, channels], so that one GEMM covers every
// row. A convolution maps a large image [ih, iw, c] to a small grid [gh, gw] with a
// k x k kernel, stride s and padding p: grid pixel (gy, gx) and kernel tap (ky, kx)
// read image pixel (gy s - p + ky, gx s - p + kx), zero outside the image. The columns
// of a grid pixel are its taps in row-major order, each tap's c channels contiguous:
// column (ky k + kx) c + ch. A transposed convolution is the adjoint: col2im.
#ifndef VAE_CONV_KERNELS_H
#define VAE_CONV_KERNELS_H

#include <stddef.h>

// cols [rows * gh * gw, k * k * c] = the image's patches, zero outside the image.
void vae_im2col(const float *image, size_t rows, size_t ih, size_t iw, size_t c, size_t gh, size_t gw,
                size_t k, size_t stride, size_t pad, float *cols);

// image [rows, ih, iw, c] += the adjoint of vae_im2col applied to cols: every column
// entry inside the image added to its pixel, for each row in grid-pixel then tap order
// (a fixed order: the sums do not depend on how many rows a call holds).
void vae_col2im(const float *cols, size_t rows, size_t ih, size_t iw, size_t c, size_t gh, size_t gw,
                size_t k, size_t stride, size_t pad, float *image);

// dst [rows, b, a] = src [rows, a, b] transposed row by row (channels first <-> last).
void vae_transpose_rows(const float *src, size_t rows, size_t a, size_t b, float *dst);

#endif
