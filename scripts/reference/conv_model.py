"""The convolutional VAE of docs/algorithm.md ("The convolutional model") in NumPy,
float64, images channels first [B, C, H, W] as PyTorch holds them, with a
hand-written backward.

Written from the spec, by a different route than the Swift code: a convolution here
is a sum over the kernel's taps of strided slices of the padded image (no patch
matrix), and a transposed convolution scatters each input pixel into the full,
uncropped output, then crops the padding.
"""
import numpy as np


def padding(cfg):
    return (cfg.kernel - 1) // 2


def stages(cfg):
    """[(in channels, out channels, (H, W) in, (H, W) out)] of the encoder's convolutions."""
    k, s, p = cfg.kernel, cfg.stride, padding(cfg)
    channels, height, width = cfg.image
    out = []
    for oc in cfg.conv:
        gh, gw = (height + 2 * p - k) // s + 1, (width + 2 * p - k) // s + 1
        assert height + 2 * p >= k and width + 2 * p >= k and gh >= 1 and gw >= 1, "image too small"
        out.append((channels, oc, (height, width), (gh, gw)))
        channels, height, width = oc, gh, gw
    return out


def layout(cfg):
    """[(name, shape, fan_in, fan_out, is_bias)] in the buffer order (PyTorch's fans:
    dimension 1 of the weight times the taps is the fan-in, dimension 0 the fan-out)."""
    k, out = cfg.kernel, []

    def tensor(name, weight_shape, bias_size):
        taps = int(np.prod(weight_shape[2:]))
        fan_in, fan_out = weight_shape[1] * taps, weight_shape[0] * taps
        out.append((f"{name}.weight", weight_shape, fan_in, fan_out, False))
        if bias_size is not None:
            out.append((f"{name}.bias", (bias_size,), fan_in, fan_out, True))

    st = stages(cfg)
    for i, (ic, oc, _, _) in enumerate(st):
        tensor(f"encoder.conv{i + 1}", (oc, ic, k, k), oc)
    flat = st[-1][1] * st[-1][3][0] * st[-1][3][1]
    Z = cfg.latent
    out.append(("encoder.mu.weight", (Z, flat), flat, Z, False))
    out.append(("encoder.logvar.weight", (Z, flat), flat, Z, False))
    out.append(("encoder.mu.bias", (Z,), flat, Z, True))
    out.append(("encoder.logvar.bias", (Z,), flat, Z, True))
    tensor("decoder.fc", (flat, Z), flat)
    for i, (ic, oc, _, _) in enumerate(reversed(st)):
        tensor(f"decoder.deconv{i + 1}", (oc, ic, k, k), ic)  # ConvTranspose2d(oc -> ic): [in, out, k, k]
    return out


def conv2d(x, w, b, s, p):
    """PyTorch's Conv2d: x [B, C, H, W], w [O, C, k, k] -> [B, O, H', W']."""
    B, C, H, W = x.shape
    k = w.shape[2]
    gh, gw = (H + 2 * p - k) // s + 1, (W + 2 * p - k) // s + 1
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    y = np.zeros((B, w.shape[0], gh, gw)) + b[None, :, None, None]
    for ky in range(k):
        for kx in range(k):
            window = xp[:, :, ky:ky + s * (gh - 1) + 1:s, kx:kx + s * (gw - 1) + 1:s]
            y += np.einsum("bchw,oc->bohw", window, w[:, :, ky, kx])
    return y


def conv2d_backward(x, w, dy, s, p):
    """(dx, dw, db) of conv2d."""
    B, C, H, W = x.shape
    k, (gh, gw) = w.shape[2], dy.shape[2:]
    xp = np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))
    dxp, dw = np.zeros_like(xp), np.zeros_like(w)
    for ky in range(k):
        for kx in range(k):
            rows, cols = slice(ky, ky + s * (gh - 1) + 1, s), slice(kx, kx + s * (gw - 1) + 1, s)
            dw[:, :, ky, kx] = np.einsum("bohw,bchw->oc", dy, xp[:, :, rows, cols])
            dxp[:, :, rows, cols] += np.einsum("bohw,oc->bchw", dy, w[:, :, ky, kx])
    return dxp[:, :, p:p + H, p:p + W], dw, dy.sum(axis=(0, 2, 3))


def conv_transpose2d(x, w, b, s, p, out_size):
    """PyTorch's ConvTranspose2d with the output padding that gives `out_size` (H', W'):
    x [B, C, H, W], w [C, O, k, k] -> [B, O, H', W']."""
    B, C, H, W = x.shape
    k = w.shape[2]
    full = np.zeros((B, w.shape[1], max((H - 1) * s + k, p + out_size[0]), max((W - 1) * s + k, p + out_size[1])))
    for ky in range(k):
        for kx in range(k):
            full[:, :, ky:ky + s * (H - 1) + 1:s, kx:kx + s * (W - 1) + 1:s] += np.einsum("bchw,co->bohw", x, w[:, :, ky, kx])
    return full[:, :, p:p + out_size[0], p:p + out_size[1]] + b[None, :, None, None]


def conv_transpose2d_backward(x, w, dy, s, p):
    """(dx, dw, db) of conv_transpose2d."""
    B, C, H, W = x.shape
    k = w.shape[2]
    full = np.zeros((B, w.shape[1], max((H - 1) * s + k, p + dy.shape[2]), max((W - 1) * s + k, p + dy.shape[3])))
    full[:, :, p:p + dy.shape[2], p:p + dy.shape[3]] = dy
    dx, dw = np.zeros_like(x), np.zeros_like(w)
    for ky in range(k):
        for kx in range(k):
            window = full[:, :, ky:ky + s * (H - 1) + 1:s, kx:kx + s * (W - 1) + 1:s]
            dx += np.einsum("bohw,co->bchw", window, w[:, :, ky, kx])
            dw[:, :, ky, kx] = np.einsum("bchw,bohw->co", x, window)
    return dx, dw, dy.sum(axis=(0, 2, 3))


def encode(params, cfg, x, act, act_grad):
    """x [B, D] -> (head [B, 2Z], cache)."""
    s, p = cfg.stride, padding(cfg)
    a = x.reshape(x.shape[0], *cfg.image)
    cache = []
    for i in range(len(cfg.conv)):
        v = conv2d(a, params[f"encoder.conv{i + 1}.weight"], params[f"encoder.conv{i + 1}.bias"], s, p)
        cache.append((a, v))
        a = act(v)
    h = a.reshape(a.shape[0], -1)  # PyTorch's flatten: [C, H, W] order
    w_head = np.concatenate([params["encoder.mu.weight"], params["encoder.logvar.weight"]])
    b_head = np.concatenate([params["encoder.mu.bias"], params["encoder.logvar.bias"]])
    return h @ w_head.T + b_head, (cache, h, a.shape, w_head)


def encode_backward(params, grads, cfg, cache, dhead, act, act_grad):
    convs, h, shape, w_head = cache
    Z, s, p = cfg.latent, cfg.stride, padding(cfg)
    dw_head = dhead.T @ h
    grads["encoder.mu.weight"], grads["encoder.logvar.weight"] = dw_head[:Z], dw_head[Z:]
    db_head = dhead.sum(axis=0)
    grads["encoder.mu.bias"], grads["encoder.logvar.bias"] = db_head[:Z], db_head[Z:]
    da = (dhead @ w_head).reshape(shape)
    for i in range(len(convs), 0, -1):
        a_in, v = convs[i - 1]
        dv = da * act_grad(v, act(v))
        da, grads[f"encoder.conv{i}.weight"], grads[f"encoder.conv{i}.bias"] = conv2d_backward(
            a_in, params[f"encoder.conv{i}.weight"], dv, s, p)


def decode(params, cfg, z, act, act_grad):
    """z [N, Z] -> (y [N, D], cache)."""
    s, p = cfg.stride, padding(cfg)
    st = stages(cfg)
    last_channels, (gh, gw) = st[-1][1], st[-1][3]
    v0 = z @ params["decoder.fc.weight"].T + params["decoder.fc.bias"]
    a = act(v0).reshape(z.shape[0], last_channels, gh, gw)  # PyTorch's view
    cache = [(z, v0)]
    for i, (_, _, image_size, _) in enumerate(reversed(st)):
        v = conv_transpose2d(a, params[f"decoder.deconv{i + 1}.weight"], params[f"decoder.deconv{i + 1}.bias"],
                             s, p, image_size)
        cache.append((a, v))
        a = act(v) if i + 1 < len(st) else v
    return a.reshape(z.shape[0], -1), cache


def decode_backward(params, grads, cfg, cache, dy, act, act_grad):
    """Returns d loss / d z."""
    s, p, n = cfg.stride, padding(cfg), len(cfg.conv)
    da = dy.reshape(cache[-1][1].shape)
    for i in range(n, 0, -1):
        a_in, v = cache[i]
        dv = da if i == n else da * act_grad(v, act(v))
        da, grads[f"decoder.deconv{i}.weight"], grads[f"decoder.deconv{i}.bias"] = conv_transpose2d_backward(
            a_in, params[f"decoder.deconv{i}.weight"], dv, s, p)
    z, v0 = cache[0]
    dv0 = da.reshape(da.shape[0], -1) * act_grad(v0, act(v0))
    grads["decoder.fc.weight"] = dv0.T @ z
    grads["decoder.fc.bias"] = dv0.sum(axis=0)
    return dv0 @ params["decoder.fc.weight"]
