// The streaming reader's byte work: rows gathered from decoded storage blocks, and
// HDF5's shuffle filter undone. Plain loops, as the other kernels.
#ifndef VAE_ROWS_H
#define VAE_ROWS_H

#include <stddef.h>
#include <stdint.h>

// Row r of dst [n_rows, n_cols] = vae_scale_bytes of the n_cols bytes at rows[r]: the same
// values as vae_scale_byte_rows, for rows that sit in separate buffers (decoded chunks).
void vae_scale_byte_row_pointers(const uint8_t *const *rows, size_t n_rows, size_t n_cols,
                                 double scale, float *dst);

// Row r of dst [n_rows, n_cols] = the n_cols floats at rows[r].
void vae_copy_float_row_pointers(const float *const *rows, size_t n_rows, size_t n_cols, float *dst);

// Undoes HDF5's shuffle filter: src holds byte 0 of every element, then byte 1 of every
// element, ...; dst gets n_elements elements of element_size bytes back in order.
// Trailing bytes (n_bytes not a multiple of element_size) are copied as they are, as
// HDF5 leaves them.
void vae_unshuffle(const uint8_t *src, uint8_t *dst, size_t n_bytes, size_t element_size);

#endif
