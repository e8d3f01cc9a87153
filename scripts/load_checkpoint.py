#!/usr/bin/env python3
"""Load a vae-dist checkpoint with h5py + numpy and run its encoder (and decoder).

The checkpoint stores the model as a PyTorch-style state_dict under /model
(Linear weights [out, in], a layer computes y = x W^T + b; Conv2d weights
[out, in, k, k], ConvTranspose2d [in, out, k, k]) and the training config as
JSON in the root attribute `config` (docs/algorithm.md, "Parameters" and "The
convolutional model"). Both the MLP and the convolutional model run here.

    python3 scripts/load_checkpoint.py CHECKPOINT DATA [--rows 0:10] [--compare EMBEDDINGS.h5]

prints mu and logvar of the encoder q(z|x) for the chosen rows of a data file;
--compare checks them against an embeddings file (/mu, /logvar, /index, as
`vae-dist embed` writes). CHECKPOINT may be a run directory (its newest
checkpoint-epoch-*.h5). As a module:

    from load_checkpoint import load_checkpoint, read_rows
    model = load_checkpoint("runs/x/checkpoint-epoch-0010.h5")
    mu, logvar = model.encode(read_rows("data/fashion-mnist-test.h5", range(10)))
    pixels = model.pixel_means(mu)       # decoder means, [rows, D]
"""
import argparse
import json
import os
import re
import sys

import numpy as np

try:
    import h5py
except ImportError:  # the message a user needs, not a traceback
    sys.exit("load_checkpoint.py: needs h5py (Debian: apt-get install python3-h5py, as scripts/setup.sh does; "
             "elsewhere pip install h5py)")


ACTIVATIONS = {
    "relu": lambda v: np.maximum(v, 0),
    "tanh": np.tanh,
    "softplus": lambda v: np.maximum(v, 0) + np.log1p(np.exp(-np.abs(v))),
    "sigmoid": lambda v: 0.5 * (1 + np.tanh(0.5 * v)),  # overflow-free logistic
}


def conv2d(x, weight, bias, stride, padding):
    """PyTorch's Conv2d: x [rows, C, H, W], weight [O, C, k, k] -> [rows, O, H', W'],
    as a sum over the kernel's taps of strided slices of the padded image."""
    k = weight.shape[2]
    height, width = x.shape[2:]
    out_h, out_w = (height + 2 * padding - k) // stride + 1, (width + 2 * padding - k) // stride + 1
    padded = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    y = np.zeros((x.shape[0], weight.shape[0], out_h, out_w), dtype=x.dtype) + bias[None, :, None, None]
    for ky in range(k):
        for kx in range(k):
            window = padded[:, :, ky:ky + stride * (out_h - 1) + 1:stride, kx:kx + stride * (out_w - 1) + 1:stride]
            y += np.einsum("rchw,oc->rohw", window, weight[:, :, ky, kx])
    return y


def conv_transpose2d(x, weight, bias, stride, padding, size):
    """PyTorch's ConvTranspose2d with the output padding that gives `size` (H', W'):
    x [rows, C, H, W], weight [C, O, k, k] -> [rows, O, H', W']."""
    k = weight.shape[2]
    height, width = x.shape[2:]
    full = np.zeros((x.shape[0], weight.shape[1], max((height - 1) * stride + k, padding + size[0]),
                     max((width - 1) * stride + k, padding + size[1])), dtype=x.dtype)
    for ky in range(k):
        for kx in range(k):
            full[:, :, ky:ky + stride * (height - 1) + 1:stride, kx:kx + stride * (width - 1) + 1:stride] += \
                np.einsum("rchw,co->rohw", x, weight[:, :, ky, kx])
    return full[:, :, padding:padding + size[0], padding:padding + size[1]] + bias[None, :, None, None]


class Checkpoint:
    """The VAE of a checkpoint, an MLP or convolutional. Computes in float64 by default:
    the float32 weights are used exactly, and only vae-dist's float32 rounding differs."""

    def __init__(self, path, config, state_dict, dtype=np.float64):
        self.path = path
        self.config = config
        self.state_dict = state_dict
        self.dtype = dtype
        architecture = config["architecture"]
        self.hidden_sizes = list(architecture["hiddenSizes"])
        self.latent_dimension = architecture["latentDimension"]
        self.data_dimension = architecture["dataDimension"]
        name = architecture["activation"]
        if name not in ACTIVATIONS:
            raise ValueError(f"{path}: config activation '{name}' is not one of {sorted(ACTIVATIONS)}")
        self.activation = ACTIVATIONS[name]
        # The convolutional model (--architecture conv): its image [C, H, W] and convolutions.
        self.convolution = architecture.get("convolution")
        if self.convolution is not None:
            self.image = tuple(self.convolution["imageShape"])
            kernel, stride = self.convolution["kernel"], self.convolution["stride"]
            self.stride, self.padding = stride, (kernel - 1) // 2
            self.sizes = [self.image[1:]]  # each convolution's input size, then the last grid
            for _ in self.convolution["channels"]:
                h, w = self.sizes[-1]
                self.sizes.append(((h + 2 * self.padding - kernel) // stride + 1,
                                   (w + 2 * self.padding - kernel) // stride + 1))

    def _dense(self, x, layer):
        weight = self.state_dict[layer + ".weight"].astype(self.dtype)  # [out, in]
        bias = self.state_dict[layer + ".bias"].astype(self.dtype)      # [out]
        return x @ weight.T + bias

    def _tensor(self, name):
        return self.state_dict[name].astype(self.dtype)

    def encode(self, x):
        """x [rows, D] -> (mu, logvar), each [rows, Z]: the posterior q(z|x) = N(mu, exp(logvar))."""
        a = np.asarray(x, dtype=self.dtype)
        if self.convolution is not None:
            a = a.reshape(a.shape[0], *self.image)  # rows are channels first, [C, H, W]
            for i in range(1, len(self.convolution["channels"]) + 1):
                a = self.activation(conv2d(a, self._tensor(f"encoder.conv{i}.weight"),
                                           self._tensor(f"encoder.conv{i}.bias"), self.stride, self.padding))
            a = a.reshape(a.shape[0], -1)  # PyTorch's flatten
        else:
            for i in range(1, len(self.hidden_sizes) + 1):
                a = self.activation(self._dense(a, f"encoder.fc{i}"))
        return self._dense(a, "encoder.mu"), self._dense(a, "encoder.logvar")

    def decode(self, z):
        """z [rows, Z] -> the decoder's output [rows, D]: Bernoulli logits or Gaussian means."""
        a = np.asarray(z, dtype=self.dtype)
        if self.convolution is not None:
            channels = self.convolution["channels"]
            a = self.activation(self._dense(a, "decoder.fc")).reshape(a.shape[0], channels[-1], *self.sizes[-1])
            for i in range(1, len(channels) + 1):
                a = conv_transpose2d(a, self._tensor(f"decoder.deconv{i}.weight"), self._tensor(f"decoder.deconv{i}.bias"),
                                     self.stride, self.padding, self.sizes[-1 - i])
                if i < len(channels):
                    a = self.activation(a)
            return a.reshape(a.shape[0], -1)
        for i in range(1, len(self.hidden_sizes) + 1):
            a = self.activation(self._dense(a, f"decoder.fc{i}"))
        return self._dense(a, "decoder.out")

    @property
    def summary(self):
        if self.convolution is not None:
            return (f"conv {'x'.join(map(str, self.image))} {','.join(map(str, self.convolution['channels']))} "
                    f"k{self.convolution['kernel']} s{self.stride} -> {self.latent_dimension}")
        return "-".join(map(str, [self.data_dimension, *self.hidden_sizes, self.latent_dimension]))

    def pixel_means(self, z):
        """The means of p(x|z): sigmoid of the logits (Bernoulli) or the Gaussian means."""
        output = self.decode(z)
        return ACTIVATIONS["sigmoid"](output) if self.config.get("likelihood", "bernoulli") == "bernoulli" else output


def resolve_checkpoint(path):
    """A checkpoint file, or a run directory's newest checkpoint-epoch-NNNN.h5."""
    if not os.path.isdir(path):
        return path
    epochs = [(int(m.group(1)), name) for name in os.listdir(path)
              if (m := re.fullmatch(r"checkpoint-epoch-(\d+)\.h5", name))]
    if not epochs:
        raise FileNotFoundError(f"{path}: no checkpoint-epoch-*.h5 in this run directory")
    return os.path.join(path, max(epochs)[1])


def load_checkpoint(path, dtype=np.float64):
    path = resolve_checkpoint(path)
    with h5py.File(path, "r") as f:
        if f.attrs.get("format") != "vae-dist-checkpoint":
            raise ValueError(f"{path}: not a vae-dist checkpoint (root attribute format is {f.attrs.get('format')!r})")
        config = json.loads(f.attrs["config"])
        state_dict = {}
        f["model"].visititems(lambda name, obj: state_dict.__setitem__(name, obj[()])
                              if isinstance(obj, h5py.Dataset) else None)
    return Checkpoint(path, config, state_dict, dtype)


def read_rows(path, rows):
    """Rows of a data file's /features as the model sees them: uint8 bytes times
    `scale` (computed in float64, rounded once to float32), float32 as stored."""
    rows = np.asarray(list(rows), dtype=np.int64)
    with h5py.File(path, "r") as f:
        features = f["features"]
        n = features.shape[0]
        if rows.size and (rows.min() < 0 or rows.max() >= n):
            raise IndexError(f"{path}: rows must be within 0..{n - 1}")
        order = np.argsort(rows, kind="stable")   # h5py reads increasing indices
        unique, inverse = np.unique(rows[order], return_inverse=True)
        values = features[unique][inverse][np.argsort(order, kind="stable")]
        if values.dtype == np.uint8:
            scale = features.attrs.get("scale", f.attrs.get("scale"))
            if scale is None:
                raise ValueError(f"{path}: /features is uint8 without a 'scale' attribute")
            return (values.astype(np.float64) * float(scale)).astype(np.float32)
        return values.astype(np.float32)


def parse_rows(text, n):
    """'0:10', '5', '0,3,7', '100:' (to the end) or 'all'."""
    if text == "all":
        return list(range(n))
    rows = []
    for part in text.split(","):
        if ":" in part:
            start, _, end = part.partition(":")
            rows += range(int(start or 0), int(end) if end else n)
        else:
            rows.append(int(part))
    return rows


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="checkpoint file or run directory")
    parser.add_argument("data", help="HDF5 data file (/features)")
    parser.add_argument("--rows", default="0:10", help="rows: START:END (END excluded), comma lists, or 'all' (default 0:10)")
    parser.add_argument("--compare", metavar="EMBEDDINGS", help="embeddings file to check mu and logvar against")
    parser.add_argument("--tolerance", type=float, default=1e-4,
                        help="--compare passes when |a - b| <= tolerance * (1 + |b|) everywhere (default 1e-4)")
    parser.add_argument("--json", action="store_true", help="print {rows, mu, logvar} as JSON instead of text")
    args = parser.parse_args(argv)

    model = load_checkpoint(args.checkpoint)
    with h5py.File(args.data, "r") as f:
        n, d = f["features"].shape
    if d != model.data_dimension:
        sys.exit(f"{args.data}: rows have {d} features, but the checkpoint's model expects {model.data_dimension}")
    rows = parse_rows(args.rows, n)
    mu, logvar = model.encode(read_rows(args.data, rows))

    if args.json:
        print(json.dumps({"checkpoint": model.path, "rows": rows, "mu": mu.tolist(), "logvar": logvar.tolist()}))
    else:
        np.set_printoptions(precision=5, suppress=True, linewidth=120)
        print(f"{model.path}: encoder of {model.summary} {model.config['architecture']['activation']}")
        for row, m, v in zip(rows, mu, logvar):
            print(f"row {row}: mu {m}  logvar {v}")

    if args.compare:
        with h5py.File(args.compare, "r") as f:
            index = f["index"][()]
            position = {int(r): i for i, r in enumerate(index)}
            missing = [r for r in rows if r not in position]
            if missing:
                sys.exit(f"{args.compare}: /index lacks rows {missing[:10]}")
            picked = [position[r] for r in rows]
            their_mu, their_logvar = f["mu"][()][picked], f["logvar"][()][picked]
        worst = 0.0
        for name, ours, theirs in (("mu", mu, their_mu), ("logvar", logvar, their_logvar)):
            error = np.abs(ours - theirs) / (1 + np.abs(theirs))
            worst = max(worst, float(error.max(initial=0)))
            print(f"compare {name}: max |difference| {np.abs(ours - theirs).max(initial=0):.3g}, "
                  f"max |difference| / (1 + |value|) {error.max(initial=0):.3g}", file=sys.stderr)
        if worst > args.tolerance:
            print(f"compare: MISMATCH with {args.compare} (tolerance {args.tolerance})", file=sys.stderr)
            return 1
        print(f"compare: {len(rows)} rows match {args.compare} within {args.tolerance}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
