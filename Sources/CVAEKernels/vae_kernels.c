#include "vae_kernels.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) && defined(__clang__)
#define VAE_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define VAE_CLONES
#endif

// e^x, Cody-Waite reduction x = n ln2 + r, Cephes polynomial for e^r, 2^n from the
// exponent bits. Adding 1.5 * 2^23 rounds to the nearest integer and leaves it in
// the low mantissa bits: no float-to-int conversion instruction needed.
static inline float vae_expf(float x) {
    x = x < -87.3f ? -87.3f : (x > 88.0f ? 88.0f : x);
    const float magic = 12582912.0f;
    float shifted = x * 1.44269504f + magic;
    float n = shifted - magic;
    float r = x - n * 0.693359375f - n * -2.12194440e-4f;
    float p = 1.987569150e-4f;
    p = p * r + 1.398199950e-3f;
    p = p * r + 8.333451907e-3f;
    p = p * r + 4.166579589e-2f;
    p = p * r + 1.666666546e-1f;
    p = p * r + 5.000000120e-1f;
    float er = (p * r * r + r) + 1.0f;
    uint32_t bits;
    memcpy(&bits, &shifted, sizeof bits);
    uint32_t scale_bits = ((bits - 0x4B400000u) + 127u) << 23;
    float scale;
    memcpy(&scale, &scale_bits, sizeof scale);
    return er * scale;
}

// log(1 + x) for x in [0, 1]: reduce u = 1 + x to [0.707, 1.414], log m = 2 atanh(s),
// and add back what rounding u lost.
static inline float vae_log1p_unitf(float x) {
    float u = 1.0f + x;
    int halve = u > 1.41421356f;
    float m = halve ? u * 0.5f : u;
    float k = halve ? 1.0f : 0.0f;
    float s = (m - 1.0f) / (m + 1.0f);
    float s2 = s * s;
    float p = 2.0f / 9.0f;
    p = p * s2 + 2.0f / 7.0f;
    p = p * s2 + 2.0f / 5.0f;
    p = p * s2 + 2.0f / 3.0f;
    p = p * s2 + 2.0f;
    return (k * 0.693147181f + s * p) + (x - (u - 1.0f)) / u;
}

// 1 when x is Inf or NaN (all exponent bits set), from the bits: vectorises as an OR.
static inline uint32_t vae_is_nonfinite(float x) {
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return (~bits & 0x7f800000u) == 0;
}

VAE_CLONES
int vae_adam_step(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, size_t n,
                  float g_scale, float beta1, float beta2, float step_size, float inv_c2_root, float eps, float decay) {
    uint32_t nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        nonfinite |= vae_is_nonfinite(g[i]);
        float gradient = g[i] * g_scale + decay * p[i];
        float first = beta1 * m[i] + (1.0f - beta1) * gradient;
        float second = beta2 * v[i] + (1.0f - beta2) * gradient * gradient;
        m[i] = first;
        v[i] = second;
        p[i] -= step_size * first / (sqrtf(second) * inv_c2_root + eps);
    }
    return nonfinite == 0;
}

VAE_CLONES
int vae_adam_step_quiet(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, size_t n,
                        float g_scale, float beta1, float beta2, float step_size, float inv_c2_root, float eps,
                        float decay, int *all_quiet) {
    // Weight decay moves every parameter; a non-finite scale turns a zero gradient into NaN.
    if (decay != 0.0f || vae_is_nonfinite(g_scale)) {
        if (n > 0) *all_quiet = 0;
        return vae_adam_step(p, g, m, v, n, g_scale, beta1, beta2, step_size, inv_c2_root, eps, decay);
    }
    enum { BLOCK = 64 };
    int finite = 1;
    for (size_t start = 0; start < n; start += BLOCK) {
        size_t count = n - start < BLOCK ? n - start : BLOCK;
        // Quiet: g = +-0, m = +0, p finite, v not NaN. Then vae_adam_step computes
        // gradient = +-0, first = +0 (m unchanged), second = beta2 v + 0, and moves p by
        // +0 / (a positive number): p unchanged. Only v changes, by the same operations.
        uint32_t loud = 0;
        for (size_t i = start; i < start + count; i++) {
            uint32_t gb, mb, pb;
            memcpy(&gb, &g[i], sizeof gb);
            memcpy(&mb, &m[i], sizeof mb);
            memcpy(&pb, &p[i], sizeof pb);
            loud |= (gb & 0x7fffffffu) | mb | ((~pb & 0x7f800000u) == 0) | (v[i] != v[i]);
        }
        if (loud == 0) {
            for (size_t i = start; i < start + count; i++) v[i] = beta2 * v[i] + 0.0f;
        } else {
            *all_quiet = 0;
            finite &= vae_adam_step(p + start, g + start, m + start, v + start, count, g_scale, beta1, beta2,
                                    step_size, inv_c2_root, eps, decay);
        }
    }
    return finite;
}

VAE_CLONES
int vae_adagrad_step(float *restrict p, const float *restrict g, float *restrict s, size_t n,
                     float g_scale, float lr, float eps, float decay) {
    uint32_t nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        nonfinite |= vae_is_nonfinite(g[i]);
        float gradient = g[i] * g_scale + decay * p[i];
        float sum = s[i] + gradient * gradient;
        s[i] = sum;
        p[i] -= lr * gradient / (sqrtf(sum) + eps);
    }
    return nonfinite == 0;
}

VAE_CLONES
int vae_sgd_step(float *restrict p, const float *restrict g, float *restrict buf, size_t n,
                 float g_scale, float lr, float mu, float decay, int first) {
    uint32_t nonfinite = 0;
    for (size_t i = 0; i < n; i++) {
        nonfinite |= vae_is_nonfinite(g[i]);
        float gradient = g[i] * g_scale + decay * p[i];
        float velocity = first ? gradient : mu * buf[i] + gradient;
        buf[i] = velocity;
        p[i] -= lr * velocity;
    }
    return nonfinite == 0;
}

VAE_CLONES
float vae_bernoulli_nll(const float *x, const float *y, float *grad, size_t n, float scale) {
    // The loss sum is kept as 16 partial sums (one vector): a fixed order for a given
    // machine. Only the reported loss depends on it; each gradient element does not.
    // assume_safety: grad may BE y (the trainer overwrites the logits with their
    // gradient); element i reads y[i] before writing grad[i], so lanes never interfere.
    // Without it the aliasing check sends every call down the scalar path.
    float total = 0.0f;
#pragma clang loop vectorize(assume_safety) vectorize_width(16) interleave_count(1)
    for (size_t i = 0; i < n; i++) {
        float logit = y[i];
        float target = x[i];
        float e = vae_expf(-fabsf(logit));
        total += (logit > 0.0f ? logit : 0.0f) - target * logit + vae_log1p_unitf(e);
        float inverse = 1.0f / (1.0f + e);
        float sigmoid = logit >= 0.0f ? inverse : e * inverse;
        grad[i] = scale * (sigmoid - target);
    }
    return total;
}

VAE_CLONES
double vae_sum_of_squares(const float *x, size_t n) {
    // Four vectors of partial sums (a fixed order for a given machine): with one, each add
    // waits for the last (73 us for the default model's gradient here, 51 us with four).
    double total = 0.0;
#pragma clang loop vectorize(enable) vectorize_width(8) interleave_count(4)
    for (size_t i = 0; i < n; i++) total += (double)x[i] * (double)x[i];
    return total;
}

VAE_CLONES
void vae_relu_forward(float *values, size_t n) {
    // NaN stays NaN (NaN < 0 is false): a diverged model must not look healthy.
    for (size_t i = 0; i < n; i++) values[i] = values[i] < 0.0f ? 0.0f : values[i];
}

VAE_CLONES
void vae_relu_backward(float *restrict grad, const float *restrict output, size_t n) {
    for (size_t i = 0; i < n; i++) grad[i] = output[i] > 0.0f ? grad[i] : 0.0f;
}

VAE_CLONES
void vae_exp(const float *restrict x, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = vae_expf(x[i]);
}

VAE_CLONES
void vae_log1p_unit(const float *restrict x, float *restrict y, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = vae_log1p_unitf(x[i]);
}

VAE_CLONES
double vae_sum_slots(float *const *slots, size_t slot_count, size_t own, size_t begin, size_t n,
                     int with_sum_of_squares) {
    // Blocks small enough for L1: every slot's block is added into `block` in rank order,
    // so each element is ((s0 + s1) + s2) + ... on every machine and for every `own`.
    enum { BLOCK = 1024 };
    float block[BLOCK];
    double total = 0.0;
    for (size_t start = begin; start < begin + n; start += BLOCK) {
        size_t count = begin + n - start < BLOCK ? begin + n - start : BLOCK;
        memcpy(block, slots[0] + start, count * sizeof(float));
        for (size_t s = 1; s < slot_count; s++) {
            const float *source = slots[s] + start;
            for (size_t i = 0; i < count; i++) block[i] += source[i];
        }
        memcpy(slots[own] + start, block, count * sizeof(float));
        if (!with_sum_of_squares) continue;
#pragma clang loop vectorize(enable) vectorize_width(8) interleave_count(4)
        for (size_t i = 0; i < count; i++) total += (double)block[i] * (double)block[i];
    }
    return total;
}

VAE_CLONES
size_t vae_nonzero_columns(const float *restrict values, size_t rows, size_t cols, size_t multiple,
                           int32_t *restrict flags, int32_t *restrict indices) {
    vae_column_flags(values, rows, cols, flags);
    return vae_indices_of_flags(flags, cols, multiple, indices);
}

void vae_column_flags(const float *restrict values, size_t rows, size_t cols, int32_t *restrict flags) {
    // != 0 rather than > 0: a NaN unit stays in the list, so a diverged layer still
    // poisons the next one (and the loss) as the dense product would.
    memset(flags, 0, cols * sizeof *flags);
    for (size_t r = 0; r < rows; r++) {
        const float *row = values + r * cols;
        for (size_t j = 0; j < cols; j++) flags[j] |= row[j] != 0.0f;
    }
}

size_t vae_indices_of_flags(int32_t *restrict flags, size_t cols, size_t multiple, int32_t *restrict indices) {
    size_t active = 0;
    for (size_t j = 0; j < cols; j++) active += (size_t)(flags[j] != 0);
    // Round up with the first zero columns: a zero column adds exact zeros wherever it goes.
    size_t padded = (active + multiple - 1) / multiple * multiple;
    size_t extra = (padded < cols ? padded : cols) - active;
    for (size_t j = 0; j < cols && extra > 0; j++) {
        if (!flags[j]) {
            flags[j] = 1;
            extra--;
        }
    }
    size_t count = 0;
    for (size_t j = 0; j < cols; j++) {
        indices[count] = (int32_t)j;
        count += (size_t)(flags[j] != 0);
    }
    return count;
}

VAE_CLONES
void vae_gather_block(const float *restrict src, size_t src_cols, const int32_t *rows, size_t n_rows,
                      const int32_t *cols, size_t n_cols, float *restrict dst) {
    for (size_t r = 0; r < n_rows; r++) {
        const float *from = src + (rows ? (size_t)rows[r] : r) * src_cols;
        float *to = dst + r * n_cols;
        if (cols) {
            for (size_t c = 0; c < n_cols; c++) to[c] = from[cols[c]];
        } else {
            memcpy(to, from, n_cols * sizeof *to);
        }
    }
}

VAE_CLONES
void vae_scatter_block(const float *restrict src, const int32_t *rows, size_t n_rows, const int32_t *cols,
                       size_t n_cols, float *restrict dst, size_t dst_rows, size_t dst_cols) {
    size_t next = 0;  // the next compact row; `rows` is ascending
    for (size_t r = 0; r < dst_rows; r++) {
        float *to = dst + r * dst_cols;
        int present = next < n_rows && (rows ? (size_t)rows[next] == r : 1);
        if (!present) {
            memset(to, 0, dst_cols * sizeof *to);
            continue;
        }
        const float *from = src + next * n_cols;
        next++;
        if (cols) {
            memset(to, 0, dst_cols * sizeof *to);
            for (size_t c = 0; c < n_cols; c++) to[cols[c]] = from[c];
        } else {
            memcpy(to, from, dst_cols * sizeof *to);
        }
    }
}

VAE_CLONES
void vae_relu_column_max(float *restrict values, size_t rows, size_t cols, float *restrict column_max) {
    for (size_t r = 0; r < rows; r++) {
        float *row = values + r * cols;
        for (size_t c = 0; c < cols; c++) {
            float v = row[c];
            float m = column_max[c];
            column_max[c] = (v > m || v != v) ? v : m;
            row[c] = v < 0.0f ? 0.0f : v;
        }
    }
}

VAE_CLONES
float vae_max_abs(const float *restrict x, size_t n) {
    // 16 partial maxima, so the loop vectorises; max is exact, so their order does not matter.
    float part[16] = {0};
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        for (size_t j = 0; j < 16; j++) {
            float a = fabsf(x[i + j]);
            part[j] = (a > part[j] || a != a) ? a : part[j];
        }
    }
    for (; i < n; i++) {
        float a = fabsf(x[i]);
        part[0] = (a > part[0] || a != a) ? a : part[0];
    }
    float m = 0.0f;
    for (size_t j = 0; j < 16; j++) m = (part[j] > m || part[j] != part[j]) ? part[j] : m;
    return m;
}

VAE_CLONES
void vae_scale_bytes(const uint8_t *restrict src, float *restrict dst, size_t n, double scale) {
    for (size_t i = 0; i < n; i++) dst[i] = (float)((double)src[i] * scale);
}

// Every cache line of bytes [start, start + n), including a last one that a row begins to
// straddle partway.
static inline void vae_prefetch_bytes(const uint8_t *start, size_t n) {
    for (size_t c = 0; c < n; c += 64) __builtin_prefetch(start + c);
    if (n > 0) __builtin_prefetch(start + n - 1);
}

void vae_scale_byte_rows(const uint8_t *src, size_t n_cols, const int64_t *rows, size_t n_rows,
                         double scale, float *dst) {
    // Four rows ahead: enough to cover a memory walk with the scaling of the rows between.
    const size_t ahead = 4;
    for (size_t r = 0; r < n_rows && r < ahead; r++) {
        vae_prefetch_bytes(src + (size_t)rows[r] * n_cols, n_cols);
    }
    for (size_t r = 0; r < n_rows; r++) {
        if (r + ahead < n_rows) {
            vae_prefetch_bytes(src + (size_t)rows[r + ahead] * n_cols, n_cols);
        }
        vae_scale_bytes(src + (size_t)rows[r] * n_cols, dst + r * n_cols, n_cols, scale);
    }
}
