"""The VAE of docs/algorithm.md: parameter layout, init, loss and a
hand-written backward (no autograd), all in float64.

Parameters are a dict name -> float64 array in layout order; `flatten`
gives the flat buffer the optimizers and the allreduce see.
"""
from dataclasses import dataclass
import numpy as np

import conv_model
from philox import init_uniforms

LOG_2PI = np.log(2.0 * np.pi)
EULER_GAMMA = 0.57721566490153286

# Standard members f of the location-scale posterior families (docs/families.md):
# log f(e), d log f / de, and for a finite second moment the entropy H, mean m1 and
# second moment m2 that make KL(q || N(0,1)) closed. Cauchy: m2 = inf, no KL.
FAMILIES = {
    "laplace": dict(log_f=lambda e: -np.log(2.0) - np.abs(e), dlog_f=lambda e: -np.sign(e),
                    H=1.0 + np.log(2.0), m1=0.0, m2=2.0),
    "logistic": dict(log_f=lambda e: -np.abs(e) - 2.0 * np.log1p(np.exp(-np.abs(e))),
                     dlog_f=lambda e: -np.tanh(0.5 * e), H=2.0, m1=0.0, m2=np.pi ** 2 / 3.0),
    "gumbel": dict(log_f=lambda e: -(e + np.exp(-e)), dlog_f=lambda e: np.exp(-e) - 1.0,
                   H=1.0 + EULER_GAMMA, m1=EULER_GAMMA, m2=np.pi ** 2 / 6.0 + EULER_GAMMA ** 2),
    "cauchy": dict(log_f=lambda e: -np.log(np.pi) - np.log1p(e * e), dlog_f=lambda e: -2.0 * e / (1.0 + e * e),
                   H=np.log(4.0 * np.pi), m1=None, m2=None),
}


def family_kl(family, mu, logvar):
    """KL(q || N(0,1)) per coordinate and its partials for a finite-variance family:
    0.5 log 2pi - H - log s + 0.5 (mu^2 + 2 mu s m1 + s^2 m2), s = exp(logvar / 2)."""
    f = FAMILIES[family]
    if f["m2"] is None:
        raise ValueError(f"posterior {family} has no finite KL to N(0, 1): use estimator A")
    s = np.exp(0.5 * logvar)
    kl = 0.5 * LOG_2PI - f["H"] - 0.5 * logvar + 0.5 * (mu ** 2 + 2.0 * mu * s * f["m1"] + s ** 2 * f["m2"])
    dmu = mu + s * f["m1"]
    dlogvar = -0.5 + 0.5 * mu * s * f["m1"] + 0.5 * s ** 2 * f["m2"]
    return kl, dmu, dlogvar


@dataclass(frozen=True)
class ModelConfig:
    data_dim: int
    hidden: tuple
    latent: int
    activation: str = "relu"
    likelihood: str = "bernoulli"
    gaussian_variance: float = 1.0
    estimator: str = "B"
    samples: int = 1
    posterior: str = "gaussian"
    variance_floor: float = None  # set: Gaussian variance learned per pixel, floor + exp(decoder.logvar)
    precision: str = "fp32"  # "bf16": matrix-product factors rounded to bfloat16 (`_matmul`)
    conv: tuple = None  # set: the convolutional model (conv_model.py, fp32 only), these output channels
    kernel: int = 3
    stride: int = 2
    image: tuple = None  # [C, H, W] of a data row, channels first


def layout(cfg):
    """[(name, shape, fan_in, fan_out, is_bias)] in the buffer order."""
    if cfg.conv is not None:
        out = conv_model.layout(cfg)
        if cfg.variance_floor is not None:
            out.append(("decoder.logvar", (cfg.data_dim,), None, None, True))
        return out
    out = []

    def dense(prefix, n_in, n_out):
        out.append((f"{prefix}.weight", (n_out, n_in), n_in, n_out, False))
        out.append((f"{prefix}.bias", (n_out,), n_in, n_out, True))

    sizes = [cfg.data_dim, *cfg.hidden]
    for i in range(len(cfg.hidden)):
        dense(f"encoder.fc{i + 1}", sizes[i], sizes[i + 1])
    hk, Z = cfg.hidden[-1], cfg.latent
    # Heads interleaved so the two weights, then the two biases, are contiguous.
    out.append(("encoder.mu.weight", (Z, hk), hk, Z, False))
    out.append(("encoder.logvar.weight", (Z, hk), hk, Z, False))
    out.append(("encoder.mu.bias", (Z,), hk, Z, True))
    out.append(("encoder.logvar.bias", (Z,), hk, Z, True))
    dec = [Z, *reversed(cfg.hidden)]
    for i in range(len(cfg.hidden)):
        dense(f"decoder.fc{i + 1}", dec[i], dec[i + 1])
    dense("decoder.out", cfg.hidden[0], cfg.data_dim)
    if cfg.variance_floor is not None:
        out.append(("decoder.logvar", (cfg.data_dim,), None, None, True))
    return out


def init_params(cfg, seed, scheme):
    params = {}
    for index, (name, shape, fan_in, fan_out, is_bias) in enumerate(layout(cfg)):
        u = init_uniforms(seed, index, int(np.prod(shape))).reshape(shape)
        if name == "decoder.logvar":
            value = np.zeros(shape)  # variance floor + 1 under every scheme
        elif scheme == "pytorch":
            value = (1.0 / np.sqrt(fan_in)) * (2.0 * u - 1.0)
        elif scheme == "glorot":
            value = np.zeros(shape) if is_bias else np.sqrt(6.0 / (fan_in + fan_out)) * (2.0 * u - 1.0)
        else:
            raise ValueError(f"unknown init {scheme!r}")
        params[name] = value.astype(np.float32).astype(np.float64)  # rounded once to float32
    return params


def flatten(params):
    return np.concatenate([p.reshape(-1) for p in params.values()])


def unflatten(flat, like):
    out, at = {}, 0
    for name, p in like.items():
        out[name] = flat[at:at + p.size].reshape(p.shape)
        at += p.size
    assert at == flat.size
    return out


def bfloat16(v):
    """Rounds to bfloat16 as docs/algorithm.md says ("Mixed precision"), returned as float64.

    First to float32 (the value VAECore holds), then to the upper 16 bits of its pattern,
    to nearest with ties to even; subnormal float32 values become zeros of their sign,
    NaN stays NaN; a carry past the largest finite value gives infinity.
    """
    bits = np.asarray(v, dtype=np.float64).astype(np.float32).view(np.uint32).astype(np.uint64)
    exponent_zero = (bits & 0x7F800000) == 0
    is_nan = (bits & 0x7FFFFFFF) > 0x7F800000
    rounded = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) & 0xFFFF
    rounded = np.where(exponent_zero, (bits >> 16) & 0x8000, rounded)
    rounded = np.where(is_nan, (bits >> 16) | 0x0040, rounded)
    return (rounded.astype(np.uint32) << 16).view(np.float32).astype(np.float64)


def _matmul(a, b, precision):
    """a @ b, with both factors rounded to bfloat16 first under precision "bf16"
    (the products are then summed exactly, as float32 sums them up to its rounding)."""
    if precision == "bf16":
        return bfloat16(a) @ bfloat16(b)
    return a @ b


def _sigmoid(v):
    return 0.5 * (1.0 + np.tanh(0.5 * v))  # no overflow for large |v|


def _act(kind, v):
    if kind == "relu":
        return np.maximum(v, 0.0)
    if kind == "tanh":
        return np.tanh(v)
    if kind == "softplus":
        return np.logaddexp(0.0, v)
    if kind == "sigmoid":
        return _sigmoid(v)
    raise ValueError(f"unknown activation {kind!r}")


def _act_grad(kind, v, a):
    """d act / d v at pre-activation v (output a)."""
    if kind == "relu":
        return (v > 0.0).astype(np.float64)  # 0 at exactly 0, as the spec says
    if kind == "tanh":
        return 1.0 - a * a
    if kind == "softplus":
        return _sigmoid(v)
    if kind == "sigmoid":
        return a * (1.0 - a)
    raise ValueError(kind)


def _mlp_forward(params, prefix, n_layers, a, kind, precision):
    """Hidden layers fc1..fcn with activation; returns output and per-layer (input, pre, out)."""
    cache = []
    for i in range(1, n_layers + 1):
        v = _matmul(a, params[f"{prefix}.fc{i}.weight"].T, precision) + params[f"{prefix}.fc{i}.bias"]
        out = _act(kind, v)
        cache.append((a, v, out))
        a = out
    return a, cache


def _mlp_backward(params, grads, prefix, cache, d_out, kind, precision):
    """Accumulates weight/bias grads of fc layers; returns d loss / d input."""
    for i in range(len(cache), 0, -1):
        a_in, v, out = cache[i - 1]
        dv = d_out * _act_grad(kind, v, out)
        grads[f"{prefix}.fc{i}.weight"] = _matmul(dv.T, a_in, precision)
        grads[f"{prefix}.fc{i}.bias"] = dv.sum(axis=0)
        d_out = _matmul(dv, params[f"{prefix}.fc{i}.weight"], precision)
    return d_out


def loss_and_grad(params, cfg, x, eps, beta, want_grad=True):
    """Batch-mean loss for data x [B, D] and noise eps [B, L, Z].

    cfg.precision "bf16" rounds both factors of every matrix product to bfloat16
    (`_matmul`); everything else stays float64 either way.

    Returns dict with loss, recon, kl (batch means), mu, logvar and, if
    want_grad, grads (dict like params) = d loss / d params.
    """
    x = np.asarray(x, dtype=np.float64)
    eps = np.asarray(eps, dtype=np.float64)
    B, L, Z, k = x.shape[0], cfg.samples, cfg.latent, len(cfg.hidden or ())
    assert cfg.conv is None or cfg.precision == "fp32", "the convolutional model is computed in fp32 here"
    assert eps.shape == (B, L, Z)

    # Encoder; the fused head is one [2Z, h_k] GEMM, split into mu and logvar.
    p = cfg.precision
    act = lambda v: _act(cfg.activation, v)  # noqa: E731
    act_grad = lambda v, a: _act_grad(cfg.activation, v, a)  # noqa: E731
    if cfg.conv is not None:
        head, enc_cache = conv_model.encode(params, cfg, x, act, act_grad)
    else:
        h, enc_cache = _mlp_forward(params, "encoder", k, x, cfg.activation, p)
        w_head = np.concatenate([params["encoder.mu.weight"], params["encoder.logvar.weight"]])
        b_head = np.concatenate([params["encoder.mu.bias"], params["encoder.logvar.bias"]])
        head = _matmul(h, w_head.T, p) + b_head
    mu, logvar = head[:, :Z], head[:, Z:]
    sigma = np.exp(0.5 * logvar)
    z = mu[:, None, :] + sigma[:, None, :] * eps  # [B, L, Z]

    # Decoder on all B*L samples at once.
    if cfg.conv is not None:
        y, dec_cache = conv_model.decode(params, cfg, z.reshape(B * L, Z), act, act_grad)
    else:
        g, dec_cache = _mlp_forward(params, "decoder", k, z.reshape(B * L, Z), cfg.activation, p)
        y = _matmul(g, params["decoder.out.weight"].T, p) + params["decoder.out.bias"]  # [B*L, D]
    xr = np.repeat(x, L, axis=0)  # row b*L + l is datapoint b
    if cfg.likelihood == "bernoulli":
        nll = (np.maximum(y, 0.0) - xr * y + np.log1p(np.exp(-np.abs(y)))).sum(axis=1)
    elif cfg.likelihood == "gaussian" and cfg.variance_floor is not None:
        s2 = cfg.variance_floor + np.exp(params["decoder.logvar"])  # [D]
        nll = (0.5 * np.log(2.0 * np.pi * s2) + (xr - y) ** 2 / (2.0 * s2)).sum(axis=1)
    elif cfg.likelihood == "gaussian":
        s2 = cfg.gaussian_variance
        nll = (0.5 * np.log(2.0 * np.pi * s2) + (xr - y) ** 2 / (2.0 * s2)).sum(axis=1)
    else:
        raise ValueError(cfg.likelihood)
    recon = nll.reshape(B, L).mean(axis=1)  # [B]

    family = None if cfg.posterior == "gaussian" else FAMILIES[cfg.posterior]
    if cfg.estimator == "B" and family is not None:
        kl_terms, kl_dmu, kl_dlogvar = family_kl(cfg.posterior, mu, logvar)
        kl = kl_terms.sum(axis=1)
    elif cfg.estimator == "A" and family is not None:
        # log q(z) = log f((z - mu) / s) - log s, evaluated at the sampled z.
        s_ = sigma[:, None, :]
        e = (z - mu[:, None, :]) / s_
        log_q = (family["log_f"](e) - 0.5 * logvar[:, None, :]).sum(axis=2)
        log_p = (-0.5 * LOG_2PI - 0.5 * z ** 2).sum(axis=2)
        kl = (log_q - log_p).mean(axis=1)
    elif cfg.estimator == "B":
        kl = 0.5 * (mu ** 2 + np.exp(logvar) - 1.0 - logvar).sum(axis=1)
    elif cfg.estimator == "A":
        var = np.exp(logvar)[:, None, :]
        diff = z - mu[:, None, :]
        log_q = (-0.5 * LOG_2PI - 0.5 * logvar[:, None, :] - diff ** 2 / (2.0 * var)).sum(axis=2)
        log_p = (-0.5 * LOG_2PI - 0.5 * z ** 2).sum(axis=2)
        kl = (log_q - log_p).mean(axis=1)
    else:
        raise ValueError(cfg.estimator)
    per_point = recon + beta * kl
    result = dict(loss=per_point.mean(), recon=recon.mean(), kl=kl.mean(), mu=mu, logvar=logvar)
    if not want_grad:
        return result

    # Backward. Every (b, l) term carries weight 1/(B L); per-datapoint terms 1/B.
    # In bf16 the rounded GEMM inputs are those of the batch's SUM (weights 1/L and 1,
    # as VAECore computes it; the mean comes after, in the optimizer), so the backward
    # runs on the sum and divides by B at the end: rounding x/B is not rounding x, / B.
    grads = {}
    n = 1 if p == "bf16" else B
    w = 1.0 / (n * L)
    if cfg.likelihood == "bernoulli":
        dy = w * (_sigmoid(y) - xr)
    elif cfg.variance_floor is not None:
        dy = w * (y - xr) / s2
        # d/dv_d of 0.5 log(2 pi s2) + r^2 / (2 s2), with ds2/dv = exp(v).
        ev = np.exp(params["decoder.logvar"])
        grads["decoder.logvar"] = (w * (0.5 / s2 - (xr - y) ** 2 / (2.0 * s2 ** 2)) * ev).sum(axis=0)
    else:
        dy = w * (y - xr) / cfg.gaussian_variance
    if cfg.conv is not None:
        dz = conv_model.decode_backward(params, grads, cfg, dec_cache, dy, act, act_grad).reshape(B, L, Z)
    else:
        grads["decoder.out.weight"] = _matmul(dy.T, g, p)
        grads["decoder.out.bias"] = dy.sum(axis=0)
        dg = _matmul(dy, params["decoder.out.weight"], p)
        dz = _mlp_backward(params, grads, "decoder", dec_cache, dg, cfg.activation, p).reshape(B, L, Z)

    if cfg.estimator == "A" and family is not None:
        # Through z: d log f(e)/dz = f'(e)/s, d(-log p)/dz = z.
        dlf = family["dlog_f"](e)
        dz = dz + beta * w * (dlf / s_ + z)
    elif cfg.estimator == "A":
        # Through z: d(log q - log p)/dz = -(z - mu)/sigma^2 + z.
        dz = dz + beta * w * (-diff / var + z)
    # Reparameterization: dz/dmu = 1, dz/dlogvar = 0.5 sigma eps.
    dmu = dz.sum(axis=1)
    dlogvar = (dz * 0.5 * sigma[:, None, :] * eps).sum(axis=1)
    if cfg.estimator == "A" and family is not None:
        # Explicit arguments: de/dmu = -1/s, de/dlogvar = -e/2, and -log s = -logvar/2.
        dmu += beta * w * (-dlf / s_).sum(axis=1)
        dlogvar += beta * w * (-0.5 * e * dlf - 0.5).sum(axis=1)
    elif cfg.estimator == "B" and family is not None:
        dmu += (beta / n) * kl_dmu
        dlogvar += (beta / n) * kl_dlogvar
    elif cfg.estimator == "A":
        # Explicit arguments of log q (log p has none besides z).
        dmu += beta * w * (diff / var).sum(axis=1)
        dlogvar += beta * w * (-0.5 + diff ** 2 / (2.0 * var)).sum(axis=1)
    else:
        dmu += (beta / n) * mu
        dlogvar += (beta / n) * 0.5 * (np.exp(logvar) - 1.0)

    dhead = np.concatenate([dmu, dlogvar], axis=1)  # [B, 2Z]
    if cfg.conv is not None:
        conv_model.encode_backward(params, grads, cfg, enc_cache, dhead, act, act_grad)
    else:
        dw_head = _matmul(dhead.T, h, p)
        grads["encoder.mu.weight"], grads["encoder.logvar.weight"] = dw_head[:Z], dw_head[Z:]
        db_head = dhead.sum(axis=0)
        grads["encoder.mu.bias"], grads["encoder.logvar.bias"] = db_head[:Z], db_head[Z:]
        dh = _matmul(dhead, w_head, p)
        _mlp_backward(params, grads, "encoder", enc_cache, dh, cfg.activation, p)

    result["grads"] = {name: grads[name] / (B / n) for name in params}  # layout order
    return result
