// The fused elementwise passes of a training step, as plain C loops that the
// compiler vectorises for AVX-512, AVX2 or SSE2, the clone chosen at load time
// (target_clones). A portable Swift binary is limited to SSE2, and its generic
// SIMD conversions ran lane by lane in our profile (docs/performance.md).
// No FMA contraction: every elementwise result is the same on every CPU. The
// one reduction (the Bernoulli loss sum, only reported, never differentiated)
// uses 16 partial sums: fixed for a given machine.
#ifndef VAE_KERNELS_H
#define VAE_KERNELS_H

#include <stddef.h>
#include <stdint.h>

// The optimizers read the gradient as g' = g * g_scale + decay * p: the trainer's
// 1 / (global rows) and the clipping factor ride in g_scale instead of a pass of their own.
// Each returns 1 when every g it read was finite, 0 when one was Inf or NaN (checked as
// it reads g, so a caller that only needs to know that makes no pass of its own).
// Adam: m, v updated from g'; p -= step_size m / (sqrt(v) inv_c2_root + eps).
int vae_adam_step(float *p, const float *g, float *m, float *v, size_t n, float g_scale,
                  float beta1, float beta2, float step_size, float inv_c2_root, float eps, float decay);

// vae_adam_step with the same results, for a range whose gradient is expected to be
// exactly 0 and whose first moments +0 (a dormant unit's weights): in each block of 64
// where that holds (and p is finite, v not NaN, decay 0) it only sets v = beta2 v + 0,
// which is all vae_adam_step would change there; other blocks take vae_adam_step. A
// wrong expectation costs time, never bits. A block that took vae_adam_step (p written,
// maybe with new values) sets *all_quiet to 0; the caller sets it to 1 first.
int vae_adam_step_quiet(float *p, const float *g, float *m, float *v, size_t n, float g_scale,
                        float beta1, float beta2, float step_size, float inv_c2_root, float eps, float decay,
                        int *all_quiet);

// Adagrad: s += g'^2; p -= lr g' / (sqrt(s) + eps).
int vae_adagrad_step(float *p, const float *g, float *s, size_t n, float g_scale, float lr, float eps, float decay);

// SGD with momentum: buf = g' (first step) or mu buf + g'; p -= lr buf.
int vae_sgd_step(float *p, const float *g, float *buf, size_t n, float g_scale, float lr, float mu, float decay,
                 int first);

// Sum of squares, accumulated in double: the gradient's squared L2 norm, and its
// finiteness check in the same pass (one NaN or infinity makes the sum non-finite;
// finite floats squared cannot overflow a double).
double vae_sum_of_squares(const float *x, size_t n);

// The shared-memory gradient exchange: adds elements [begin, begin + n) of every
// slot, in slot order, writes the sums into slots[own] and returns their sum of
// squares in double (as vae_sum_of_squares, for the finiteness check and clipping),
// or 0 without `with_sum_of_squares`.
double vae_sum_slots(float *const *slots, size_t slot_count, size_t own, size_t begin, size_t n,
                     int with_sum_of_squares);

// Bernoulli on logits: returns sum_i softplus(y_i) - x_i y_i; writes
// grad_i = scale (sigmoid(y_i) - x_i). grad may alias y.
float vae_bernoulli_nll(const float *x, const float *y, float *grad, size_t n, float scale);

// ReLU forward in place; backward zeroes grad where the output is not positive.
void vae_relu_forward(float *values, size_t n);
void vae_relu_backward(float *grad, const float *output, size_t n);

// The vectorised exp (x clamped to [-87.3, 88]) and log1p on [0, 1] the kernels use; for tests.
void vae_exp(const float *x, float *y, size_t n);
void vae_log1p_unit(const float *x, float *y, size_t n);

// The active units of a ReLU layer (docs/performance.md, "Inactive ReLU units"):
// writes the ascending indices of the columns of values [rows, cols] with a nonzero
// (positive or NaN) entry in some row, plus the first all-zero columns as needed to
// make the count a multiple of `multiple` (or cols); returns the count. flags: scratch [cols].
size_t vae_nonzero_columns(const float *values, size_t rows, size_t cols, size_t multiple, int32_t *flags,
                           int32_t *indices);
// The two halves of vae_nonzero_columns, for a decision over several ranks' rows: flags[j] = 1
// when column j of values [rows, cols] has a nonzero entry (0 otherwise); then, from flags
// combined over the ranks (OR), the padded ascending indices and their count (flags padded too).
void vae_column_flags(const float *values, size_t rows, size_t cols, int32_t *flags);
size_t vae_indices_of_flags(int32_t *flags, size_t cols, size_t multiple, int32_t *indices);

// dst [n_rows, n_cols] = src [., src_cols] at rows `rows` and columns `cols`; a NULL
// index list means "the first n_rows rows" / "the first n_cols columns".
void vae_gather_block(const float *src, size_t src_cols, const int32_t *rows, size_t n_rows,
                      const int32_t *cols, size_t n_cols, float *dst);

// The inverse: dst [dst_rows, dst_cols] = 0, except dst[rows[a], cols[b]] = src[a, b]
// (src is [n_rows, n_cols]; ascending index lists; NULL = all, and then n_rows == dst_rows
// or n_cols == dst_cols). Every element of dst is written.
void vae_scatter_block(const float *src, const int32_t *rows, size_t n_rows, const int32_t *cols, size_t n_cols,
                       float *dst, size_t dst_rows, size_t dst_cols);

// Dormant units (docs/performance.md): ReLU in place over values [rows, cols], as
// vae_relu_forward, after raising column_max[c] to the largest pre-activation of column c
// (a NaN makes it NaN for good: a unit that produced one is never taken for dormant).
void vae_relu_column_max(float *values, size_t rows, size_t cols, float *column_max);

// The largest |x_i| (0 for n = 0); a NaN anywhere makes it NaN.
float vae_max_abs(const float *x, size_t n);

// Stored uint8 features to the model's floats: dst_i = (float)((double)src_i * scale),
// the data scaling of docs/algorithm.md, bit for bit.
void vae_scale_bytes(const uint8_t *src, float *dst, size_t n, double scale);

// Row r of dst [n_rows, n_cols] = vae_scale_bytes of row rows[r] of src [., n_cols]. The
// rows are scattered over the whole data set, so each one costs a walk to memory; the
// loop prefetches a few rows ahead so those walks overlap the scaling.
void vae_scale_byte_rows(const uint8_t *src, size_t n_cols, const int64_t *rows, size_t n_rows,
                         double scale, float *dst);

// Rounding of float32 GEMM inputs to bfloat16 (`--precision bf16`, docs/algorithm.md;
// in vae_bfloat16.c).
// dst[r * dst_stride + c] = bf16(src[r * src_stride + c]) for r < rows, c < columns, where
// bf16(x) is round-to-nearest-even of x to 8 significant bits (the upper half of its
// float32 pattern), except: a subnormal or zero x gives a zero of its sign, and a NaN gives
// a quiet NaN (its sign and upper payload kept). Overflow rounds to infinity, as RNE does.
// Runs the CPU's VCVTNE2PS2BF16 where it has AVX512_BF16 (the same function), else plain C.
void vae_round_to_bfloat16(const float *src, size_t src_stride, size_t rows, size_t columns,
                           uint16_t *dst, size_t dst_stride);

// The plain C version on every CPU, for the test that both give the same bits.
void vae_round_to_bfloat16_portable(const float *src, size_t src_stride, size_t rows, size_t columns,
                                    uint16_t *dst, size_t dst_stride);

#endif
