#include "vae_conv_kernels.h"

#include <string.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) && defined(__clang__)
#define VAE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VAE_CLONES
#endif

VAE_CLONES
void vae_im2col(const float *restrict image, size_t rows, size_t ih, size_t iw, size_t c, size_t gh, size_t gw,
                size_t k, size_t stride, size_t pad, float *restrict cols) {
    const size_t width = k * k * c;
    for (size_t row = 0; row < rows; row++) {
        const float *source = image + row * ih * iw * c;
        for (size_t gy = 0; gy < gh; gy++) {
            for (size_t gx = 0; gx < gw; gx++) {
                float *column = cols + ((row * gh + gy) * gw + gx) * width;
                for (size_t ky = 0; ky < k; ky++) {
                    // Unsigned: a pixel above or left of the image wraps to a huge index.
                    size_t y = gy * stride + ky - pad;
                    for (size_t kx = 0; kx < k; kx++) {
                        size_t x = gx * stride + kx - pad;
                        float *tap = column + (ky * k + kx) * c;
                        const float *pixel = source + (y * iw + x) * c;
                        int inside = y < ih && x < iw;
                        if (c >= 16) {
                            if (inside) memcpy(tap, pixel, c * sizeof(float));
                            else memset(tap, 0, c * sizeof(float));
                        } else {
                            // A few channels (the image's own, often 1): a call per tap would cost more.
                            for (size_t ch = 0; ch < c; ch++) tap[ch] = inside ? pixel[ch] : 0.0f;
                        }
                    }
                }
            }
        }
    }
}

VAE_CLONES
void vae_col2im(const float *restrict cols, size_t rows, size_t ih, size_t iw, size_t c, size_t gh, size_t gw,
                size_t k, size_t stride, size_t pad, float *restrict image) {
    const size_t width = k * k * c;
    for (size_t row = 0; row < rows; row++) {
        float *target = image + row * ih * iw * c;
        for (size_t gy = 0; gy < gh; gy++) {
            for (size_t gx = 0; gx < gw; gx++) {
                const float *column = cols + ((row * gh + gy) * gw + gx) * width;
                for (size_t ky = 0; ky < k; ky++) {
                    size_t y = gy * stride + ky - pad;
                    if (y >= ih) continue;
                    for (size_t kx = 0; kx < k; kx++) {
                        size_t x = gx * stride + kx - pad;
                        if (x >= iw) continue;
                        const float *tap = column + (ky * k + kx) * c;
                        float *pixel = target + (y * iw + x) * c;
                        for (size_t ch = 0; ch < c; ch++) pixel[ch] += tap[ch];
                    }
                }
            }
        }
    }
}

// Writes contiguously and reads with a stride: AVX-512 and AVX2 gather the reads.
VAE_CLONES
void vae_transpose_rows(const float *restrict src, size_t rows, size_t a, size_t b, float *restrict dst) {
    for (size_t row = 0; row < rows; row++) {
        const float *from = src + row * a * b;
        float *to = dst + row * a * b;
        for (size_t j = 0; j < b; j++) {
            for (size_t i = 0; i < a; i++) to[j * a + i] = from[i * b + j];
        }
    }
}
