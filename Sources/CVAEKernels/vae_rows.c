#include "vae_rows.h"
#include "vae_kernels.h"

#include <string.h>

void vae_scale_byte_row_pointers(const uint8_t *const *rows, size_t n_rows, size_t n_cols,
                                 double scale, float *dst) {
    for (size_t r = 0; r < n_rows; r++) {
        if (r + 2 < n_rows) {
            for (size_t c = 0; c < n_cols; c += 64) __builtin_prefetch(rows[r + 2] + c);
        }
        vae_scale_bytes(rows[r], dst + r * n_cols, n_cols, scale);
    }
}

void vae_copy_float_row_pointers(const float *const *rows, size_t n_rows, size_t n_cols, float *dst) {
    for (size_t r = 0; r < n_rows; r++) memcpy(dst + r * n_cols, rows[r], n_cols * sizeof(float));
}

void vae_unshuffle(const uint8_t *src, uint8_t *dst, size_t n_bytes, size_t element_size) {
    if (element_size <= 1) {
        memcpy(dst, src, n_bytes);
        return;
    }
    size_t n_elements = n_bytes / element_size;
    for (size_t byte = 0; byte < element_size; byte++) {
        const uint8_t *plane = src + byte * n_elements;
        for (size_t e = 0; e < n_elements; e++) dst[e * element_size + byte] = plane[e];
    }
    size_t tail = n_bytes - n_elements * element_size;
    memcpy(dst + n_elements * element_size, src + n_elements * element_size, tail);
}
