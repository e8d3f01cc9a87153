"""Philox4x32-10 and every draw vae-dist makes from it (docs/algorithm.md).

Words are held in uint64 arrays so that the 32x32 -> 64-bit products of the
round function are exact; every array op is vectorized over counters.
"""
import numpy as np

MASK = np.uint64(0xFFFFFFFF)
M0, M1 = np.uint64(0xD2511F53), np.uint64(0xCD9E8D57)
W0, W1 = np.uint64(0x9E3779B9), np.uint64(0xBB67AE85)

PURPOSE_INIT, PURPOSE_TRAIN_NOISE, PURPOSE_SHUFFLE, PURPOSE_EVAL_NOISE, PURPOSE_BLOCK_SHUFFLE = 1, 2, 3, 4, 5


def philox4x32(key, counter):
    """key (k0, k1); counter [..., 4] of ints < 2^32 -> output words [..., 4] (uint64)."""
    c = np.asarray(counter, dtype=np.uint64)
    c0, c1, c2, c3 = c[..., 0], c[..., 1], c[..., 2], c[..., 3]
    k0, k1 = np.uint64(key[0]), np.uint64(key[1])
    for r in range(10):
        if r > 0:  # the key schedule bumps between rounds, not before the first
            k0, k1 = (k0 + W0) & MASK, (k1 + W1) & MASK
        p0, p1 = M0 * c0, M1 * c2  # both < 2^64: exact in uint64
        c0, c1, c2, c3 = ((p1 >> np.uint64(32)) ^ c1 ^ k0, p1 & MASK,
                          (p0 >> np.uint64(32)) ^ c3 ^ k1, p0 & MASK)
    return np.stack([c0, c1, c2, c3], axis=-1)


def seed_key(seed):
    seed = int(seed)
    assert 0 <= seed < 2**64
    return seed & 0xFFFFFFFF, seed >> 32


def c3_word(purpose, low):
    assert 0 <= low < 2**24
    return (purpose << 24) | low


def init_uniforms(seed, tensor_index, count):
    """u in [0, 1) for elements 0..count-1 of one parameter tensor (float64)."""
    blocks = np.arange((count + 3) // 4, dtype=np.uint64)
    ctr = np.zeros((len(blocks), 4), dtype=np.uint64)
    ctr[:, 0] = blocks
    ctr[:, 1] = tensor_index
    ctr[:, 3] = c3_word(PURPOSE_INIT, 0)
    words = philox4x32(seed_key(seed), ctr).reshape(-1)[:count]
    return words.astype(np.float64) * 2.0**-32


def _box_muller(words):
    """[..., 4] words -> [..., 4] float64 standard normals."""
    u = (words.astype(np.float64) + 0.5) * 2.0**-32  # open (0, 1): ln u is finite
    r0 = np.sqrt(-2.0 * np.log(u[..., 0]))
    r2 = np.sqrt(-2.0 * np.log(u[..., 2]))
    t1, t3 = 2.0 * np.pi * u[..., 1], 2.0 * np.pi * u[..., 3]
    return np.stack([r0 * np.cos(t1), r0 * np.sin(t1), r2 * np.cos(t3), r2 * np.sin(t3)], axis=-1)


def _laplace_quantile(u):
    # Each branch is evaluated where it is accurate: 1 - u is exact for these u.
    return np.where(u < 0.5, np.log(2.0 * np.minimum(u, 0.5)), -np.log(2.0 * np.minimum(1.0 - u, 0.5)))


# Inverse CDFs of the standard members of the non-Gaussian posterior families.
QUANTILES = {
    "laplace": _laplace_quantile,
    "logistic": lambda u: np.log(u) - np.log1p(-u),
    "gumbel": lambda u: -np.log(-np.log(u)),
    "cauchy": lambda u: np.tan(np.pi * (u - 0.5)),
}


def _inverse_cdf(words, family):
    """[..., 4] words -> [..., 4] float64 noise of `family` via its quantile of the open uniform."""
    u = (words.astype(np.float64) + 0.5) * 2.0**-32
    return QUANTILES[family](u)


def _normals(seed, purpose, rows, c2, draws, latent, family="gaussian"):
    """eps [len(rows), draws, latent], float32-rounded once from float64.
    Gaussian: Box-Muller on the block's pairs; other families: word j mod 4 of
    block j / 4 through the family's inverse CDF."""
    rows = np.asarray(rows, dtype=np.uint64)
    nb = (latent + 3) // 4
    ctr = np.zeros((len(rows), draws, nb, 4), dtype=np.uint64)
    ctr[..., 0] = np.arange(nb, dtype=np.uint64)[None, None, :]
    ctr[..., 1] = rows[:, None, None]
    ctr[..., 2] = c2
    ctr[..., 3] = np.array([c3_word(purpose, l) for l in range(draws)], dtype=np.uint64)[None, :, None]
    words = philox4x32(seed_key(seed), ctr)
    n = _box_muller(words) if family == "gaussian" else _inverse_cdf(words, family)
    return n.reshape(len(rows), draws, nb * 4)[..., :latent].astype(np.float32)


def training_noise(seed, epoch, rows, draws, latent, family="gaussian"):
    """eps for (seed, epoch, data-file row, draw l): [len(rows), draws, latent] float32."""
    return _normals(seed, PURPOSE_TRAIN_NOISE, rows, epoch, draws, latent, family)


def eval_noise(seed, rows, draws, latent, family="gaussian"):
    return _normals(seed, PURPOSE_EVAL_NOISE, rows, 0, draws, latent, family)


def epoch_order(seed, epoch, rows):
    """The epoch's permutation of 0..rows-1: sorted by (64-bit key, row)."""
    i = np.arange(rows, dtype=np.uint64)
    ctr = np.zeros((rows, 4), dtype=np.uint64)
    ctr[:, 0] = i
    ctr[:, 2] = epoch
    ctr[:, 3] = c3_word(PURPOSE_SHUFFLE, 0)
    w = philox4x32(seed_key(seed), ctr)
    sort_key = (w[:, 1] << np.uint64(32)) | w[:, 0]
    return np.lexsort((i, sort_key)).astype(np.int64)  # last key is the primary one


def _sorted_by_block_shuffle_key(seed, epoch, indices, stream):
    """indices sorted by (64-bit key of counter (index, stream, epoch, 5 << 24), index)."""
    indices = np.asarray(indices, dtype=np.uint64)
    ctr = np.zeros((len(indices), 4), dtype=np.uint64)
    ctr[:, 0] = indices
    ctr[:, 1] = stream
    ctr[:, 2] = epoch
    ctr[:, 3] = c3_word(PURPOSE_BLOCK_SHUFFLE, 0)
    w = philox4x32(seed_key(seed), ctr)
    sort_key = (w[:, 1] << np.uint64(32)) | w[:, 0]
    return indices[np.lexsort((indices, sort_key))].astype(np.int64)


def block_epoch_order(seed, epoch, rows, block_rows, window_blocks):
    """--shuffle blocks: blocks of block_rows rows in key order (stream 0), cut into
    windows of window_blocks blocks; each window's rows in key order (stream 1)."""
    blocks = _sorted_by_block_shuffle_key(seed, epoch, np.arange((rows + block_rows - 1) // block_rows), 0)
    order = []
    for start in range(0, len(blocks), window_blocks):
        window = np.concatenate([np.arange(b * block_rows, min((b + 1) * block_rows, rows))
                                 for b in blocks[start:start + window_blocks]])
        order.append(_sorted_by_block_shuffle_key(seed, epoch, window, 1))
    return np.concatenate(order)


KNOWN_ANSWERS = [  # Random123 kat_vectors, philox4x32 with 10 rounds
    ((0, 0), (0, 0, 0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF,) * 4, (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0xA4093822, 0x299F31D0), (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]


def check_known_answers():
    for key, ctr, want in KNOWN_ANSWERS:
        got = tuple(int(v) for v in philox4x32(key, ctr))
        assert got == want, f"Philox KAT failed for key {key} counter {ctr}: {got} != {want}"


if __name__ == "__main__":
    check_known_answers()
    print("Philox4x32-10 known-answer vectors: OK")
