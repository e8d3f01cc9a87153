"""Load a vae-dist checkpoint of the default convolutional model into PyTorch.

The checkpoint's /model group is a state_dict of bench_torch_conv.py's module
(`load_state_dict(strict=True)`: every name and shape as PyTorch's Conv2d, Linear
and ConvTranspose2d hold them); the module's encoder then gives the mu and logvar
that `vae-dist embed` wrote, to float32 rounding.

    python3 scripts/reference/torch_load_checkpoint.py CHECKPOINT.h5 DATA.h5 EMBEDDINGS.h5 [--tolerance 1e-5]

Exits 0 when every mu and logvar matches within the tolerance (relative to 1 + |value|),
1 when one does not, and 0 with a note when PyTorch cannot be imported.
"""
import argparse
import os
import sys

import numpy as np

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint")
    p.add_argument("data")
    p.add_argument("embeddings")
    p.add_argument("--tolerance", type=float, default=1e-5)
    args = p.parse_args()
    try:
        import torch
        import torch.nn.functional as F
    except Exception as error:
        print(f"torch_load_checkpoint: skipped, PyTorch not usable: {error}")
        return 0
    import h5py
    import bench_torch_conv

    bench_torch_conv.torch, bench_torch_conv.F = torch, F
    model = bench_torch_conv.make_model()
    state = {}
    with h5py.File(args.checkpoint, "r") as f:
        f["model"].visititems(lambda name, obj: state.__setitem__(name, torch.from_numpy(obj[()]))
                              if isinstance(obj, h5py.Dataset) else None)
    model.load_state_dict(state, strict=True)
    with h5py.File(args.embeddings, "r") as f:
        rows, mu, logvar = f["index"][()], f["mu"][()], f["logvar"][()]
    with h5py.File(args.data, "r") as f:
        features = f["features"]
        scale = features.attrs.get("scale", f.attrs.get("scale"))
        values = features[()][rows]
        x = values.astype(np.float32) if scale is None else (values.astype(np.float64) * float(scale)).astype(np.float32)
    encoder = model["encoder"]
    with torch.no_grad():
        h = F.relu(encoder["conv1"](torch.from_numpy(x).view(-1, 1, 28, 28)))
        h = F.relu(encoder["conv2"](h)).flatten(1)
        ours = {"mu": encoder["mu"](h).numpy(), "logvar": encoder["logvar"](h).numpy()}
    worst = max(float((np.abs(ours[name] - theirs) / (1 + np.abs(theirs))).max())
                for name, theirs in (("mu", mu), ("logvar", logvar)))
    verdict = "match" if worst <= args.tolerance else "MISMATCH"
    print(f"torch_load_checkpoint: load_state_dict(strict=True) took every tensor; {len(rows)} rows {verdict} "
          f"the embeddings (largest |difference| / (1 + |value|) {worst:.2e}, tolerance {args.tolerance})")
    return 0 if worst <= args.tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
