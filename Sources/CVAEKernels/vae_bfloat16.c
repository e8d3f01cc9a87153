#include "vae_kernels.h"

#include <string.h>

#if defined(__x86_64__) && defined(__clang__)
#include <immintrin.h>
#define VAE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#define VAE_HAVE_BF16_INSTRUCTIONS 1
#else
#define VAE_CLONES
#endif

// Integer operations only: the same bits on every CPU and under any MXCSR setting.
static inline uint16_t vae_bfloat16_bits(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    uint32_t magnitude = bits & 0x7FFFFFFFu;
    if (magnitude > 0x7F800000u) return (uint16_t)((bits >> 16) | 0x0040u);
    if ((bits & 0x7F800000u) == 0) return (uint16_t)((bits >> 16) & 0x8000u);
    // Adding 0x7FFF plus the lowest kept bit rounds half to even; a carry into the exponent
    // is the next binade (or infinity), as it should be.
    bits += 0x7FFFu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

VAE_CLONES
static void vae_round_row_portable(const float *restrict src, uint16_t *restrict dst, size_t n) {
    for (size_t i = 0; i < n; i++) dst[i] = vae_bfloat16_bits(src[i]);
}

#ifdef VAE_HAVE_BF16_INSTRUCTIONS
// VCVTNE2PS2BF16 computes exactly vae_bfloat16_bits (Intel SDM, convert_fp32_to_bfloat16:
// NaN quietened, subnormal inputs as zero of their sign, round to nearest even, whatever
// MXCSR says), 32 values an instruction: the rounding pass then costs what its loads do.
__attribute__((target("avx512f,avx512bw,avx512vl,avx512bf16")))
static void vae_round_row_instructions(const float *restrict src, uint16_t *restrict dst, size_t n) {
    size_t i = 0;
    for (; i + 32 <= n; i += 32) {
        __m512bh packed = _mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + i + 16), _mm512_loadu_ps(src + i));
        _mm512_storeu_si512((void *)(dst + i), (__m512i)packed);
    }
    for (; i < n; i += 16) {
        size_t left = n - i < 16 ? n - i : 16;
        __mmask16 mask = (__mmask16)((1u << left) - 1u);
        __m256bh packed = _mm512_cvtneps_pbh(_mm512_maskz_loadu_ps(mask, src + i));
        _mm256_mask_storeu_epi16((void *)(dst + i), mask, (__m256i)packed);
    }
}
#endif

typedef void (*vae_round_row_function)(const float *restrict, uint16_t *restrict, size_t);

static vae_round_row_function vae_round_row(void) {
#ifdef VAE_HAVE_BF16_INSTRUCTIONS
    if (__builtin_cpu_supports("avx512bf16")) return vae_round_row_instructions;
#endif
    return vae_round_row_portable;
}

static void vae_round_block(vae_round_row_function round_row, const float *src, size_t src_stride, size_t rows,
                            size_t columns, uint16_t *dst, size_t dst_stride) {
    if (rows > 0 && columns == src_stride && columns == dst_stride) {
        round_row(src, dst, rows * columns);
        return;
    }
    for (size_t r = 0; r < rows; r++) round_row(src + r * src_stride, dst + r * dst_stride, columns);
}

void vae_round_to_bfloat16(const float *src, size_t src_stride, size_t rows, size_t columns,
                           uint16_t *dst, size_t dst_stride) {
    vae_round_block(vae_round_row(), src, src_stride, rows, columns, dst, dst_stride);
}

void vae_round_to_bfloat16_portable(const float *src, size_t src_stride, size_t rows, size_t columns,
                                    uint16_t *dst, size_t dst_stride) {
    vae_round_block(vae_round_row_portable, src, src_stride, rows, columns, dst, dst_stride);
}
