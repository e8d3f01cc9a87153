#!/usr/bin/env python3
"""Plot a vae-dist run: the latent space and the training curves, as PNG files.

    python3 scripts/plot_embeddings.py [EMBEDDINGS.h5] [--metrics RUN_DIR|metrics.jsonl] [--out-dir DIR]

DIR defaults to the run directory: the embeddings file's directory (where
`vae-dist embed` writes it), else the --metrics run directory.
- EMBEDDINGS.h5 (as `vae-dist embed` writes: /mu [N, Z], /logvar [N, Z],
  /index [N], optional /labels [N]) -> DIR/latent-scatter.png: the posterior
  means, coloured by label and named by class where the data has names (the
  `label_names` attribute, which `vae-dist prepare fashion-mnist` stores);
  projected onto their first two principal components (numpy SVD) when Z > 2.
- metrics.jsonl (one JSON object per epoch: epoch, train_neg_elbo,
  test_neg_elbo (may be null), train_recon, train_kl, samples_per_s)
  -> DIR/training-curves.png.
Needs h5py (for embeddings) and matplotlib.
"""
import argparse
import json
import os
import sys

import numpy as np

try:
    import matplotlib
    matplotlib.use("Agg")  # files only, no display needed
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator
except ImportError:
    sys.exit("plot_embeddings.py: needs matplotlib (Debian: apt-get install python3-matplotlib, as scripts/setup.sh does; "
             "elsewhere pip install matplotlib)")


def principal_components(points, k=2):
    """The points' coordinates on their first k principal axes, and each axis's share of the variance."""
    centered = points - points.mean(axis=0)
    _, singular, vt = np.linalg.svd(centered, full_matrices=False)
    variance = singular ** 2
    share = variance[:k] / variance.sum() if variance.sum() > 0 else np.zeros(k)
    return centered @ vt[:k].T, share


def as_names(values):
    """An HDF5 string array attribute (str or bytes elements) as a list of str."""
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in np.atleast_1d(values)]


def stored_label_names(embeddings):
    """The class names of an open embeddings file: its label_names attribute, else its
    data file's (embeddings written before vae-dist carried them over); None if neither."""
    import h5py
    if "label_names" in embeddings.attrs:
        return as_names(embeddings.attrs["label_names"])
    data = embeddings.attrs.get("data")
    if isinstance(data, bytes):
        data = data.decode("utf-8")
    if data and os.path.isfile(data):
        try:
            with h5py.File(data, "r") as f:
                if "label_names" in f.attrs:
                    return as_names(f.attrs["label_names"])
        except OSError:
            pass
    return None


def plot_latent(embeddings, out, max_points=20000, label_names=None, seed=0):
    import h5py  # only the scatter needs it
    with h5py.File(embeddings, "r") as f:
        if "mu" not in f:
            raise SystemExit(f"{embeddings}: no /mu dataset; expected an embeddings file from `vae-dist embed`")
        mu = f["mu"][()].astype(np.float64)
        labels = f["labels"][()] if "labels" in f else None
        if label_names is None:
            label_names = stored_label_names(f)
    if mu.ndim != 2 or mu.shape[0] == 0:
        raise SystemExit(f"{embeddings}: /mu has shape {mu.shape}, expected [N, Z] with N >= 1")
    n, z = mu.shape
    chosen = np.arange(n)
    if n > max_points:  # a readable cloud; the subset is a fixed function of the seed
        chosen = np.sort(np.random.default_rng(seed).choice(n, max_points, replace=False))
    mu = mu[chosen]
    labels = labels[chosen] if labels is not None else None

    if z == 1:
        x, y = mu[:, 0], np.random.default_rng(seed).uniform(-1, 1, len(mu))
        xlabel, ylabel = "z1 (posterior mean)", "jitter (for visibility)"
    elif z == 2:
        x, y = mu[:, 0], mu[:, 1]
        xlabel, ylabel = "z1 (posterior mean)", "z2 (posterior mean)"
    else:
        projected, share = principal_components(mu)
        x, y = projected[:, 0], projected[:, 1]
        xlabel, ylabel = (f"PC{i + 1} of mu ({100 * share[i]:.1f}% of variance)" for i in range(2))

    fig, ax = plt.subplots(figsize=(7.5, 6.5), dpi=110)
    size = max(1.0, min(12.0, 4e4 / len(x)))
    legend = []
    if labels is None:
        ax.scatter(x, y, s=size, alpha=0.6, linewidths=0, color="tab:blue")
    else:
        classes = np.unique(labels)
        if len(classes) <= 20:
            colours = plt.get_cmap("tab10" if len(classes) <= 10 else "tab20")
            for i, label in enumerate(classes):
                name = label_names[int(label)] if label_names and 0 <= int(label) < len(label_names) else str(label)
                mask = labels == label
                ax.scatter(x[mask], y[mask], s=size, alpha=0.6, linewidths=0, color=colours(i), label=name)
                legend.append(name)
            ax.legend(markerscale=max(1.0, 6 / size), fontsize=8, loc="best", title="class" if label_names else "label")
        else:
            points = ax.scatter(x, y, s=size, alpha=0.6, linewidths=0, c=labels, cmap="viridis")
            fig.colorbar(points, ax=ax, label="label")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    shown = f"{len(x)} of {n} points" if len(x) < n else f"{n} points"
    ax.set_title(f"latent space, Z = {z} ({shown})\n{os.path.basename(embeddings)}", fontsize=10)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return legend


def read_metrics(path):
    if os.path.isdir(path):
        path = os.path.join(path, "metrics.jsonl")
    records = []
    with open(path) as f:
        for number, line in enumerate(f, 1):
            if line.strip():
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError as error:
                    raise SystemExit(f"{path}: line {number} is not JSON: {error}")
    if not records:
        raise SystemExit(f"{path}: no epochs recorded")
    return path, records


def plot_curves(metrics, out):
    path, records = read_metrics(metrics)

    def series(key):
        return np.array([np.nan if r.get(key) is None else float(r[key]) for r in records])

    epochs = series("epoch")
    fig, axes = plt.subplots(1, 3, figsize=(14, 4.2), dpi=110)
    ax = axes[0]
    ax.plot(epochs, series("train_neg_elbo"), "o-", label="train")
    test = series("test_neg_elbo")
    if not np.all(np.isnan(test)):
        ax.plot(epochs, test, "s--", label="test")
    ax.set_title("-ELBO (nats per datapoint)")
    ax.legend()
    ax = axes[1]
    ax.plot(epochs, series("train_recon"), "o-", label="train reconstruction")
    ax.set_ylabel("reconstruction (nats)")
    twin = ax.twinx()
    twin.plot(epochs, series("train_kl"), "s-", color="tab:orange", label="train KL")
    twin.set_ylabel("KL (nats)")
    ax.set_title("reconstruction and KL terms")
    lines = ax.get_lines() + twin.get_lines()
    ax.legend(lines, [line.get_label() for line in lines], loc="best")
    ax = axes[2]
    ax.plot(epochs, series("samples_per_s"), "o-", color="tab:green")
    ax.set_title("training throughput (samples/s)")
    ax.set_ylim(bottom=0)
    for ax in list(axes) + [twin]:
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.ticklabel_format(axis="y", useOffset=False, style="plain")
        ax.grid(alpha=0.3)
    fig.suptitle(path, fontsize=9)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("embeddings", nargs="?", help="embeddings HDF5 file (/mu, /logvar, /index, optional /labels)")
    parser.add_argument("--metrics", help="a run directory or its metrics.jsonl: plot the training curves")
    parser.add_argument("--out-dir", help="directory for latent-scatter.png and training-curves.png "
                        "(default: the run directory: the embeddings file's, else the --metrics one)")
    parser.add_argument("--max-points", type=int, default=20000, help="scatter at most this many points (a seeded subset)")
    parser.add_argument("--label-names", help="comma-separated class names, label i -> name i "
                        "(default: the file's label_names attribute)")
    args = parser.parse_args(argv)
    if not args.embeddings and not args.metrics:
        parser.error("give an embeddings file, --metrics, or both")
    if args.max_points < 1:
        parser.error("--max-points must be at least 1")
    if args.out_dir is None:
        if args.embeddings:
            args.out_dir = os.path.dirname(os.path.abspath(args.embeddings))
        else:
            metrics = os.path.abspath(args.metrics)
            args.out_dir = metrics if os.path.isdir(metrics) else os.path.dirname(metrics)
    os.makedirs(args.out_dir, exist_ok=True)
    if args.embeddings:
        out = os.path.join(args.out_dir, "latent-scatter.png")
        names = args.label_names.split(",") if args.label_names else None
        legend = plot_latent(args.embeddings, out, max_points=args.max_points, label_names=names)
        print(f"wrote {out}" + (f" (legend: {', '.join(legend)})" if legend else ""))
    if args.metrics:
        out = os.path.join(args.out_dir, "training-curves.png")
        plot_curves(args.metrics, out)
        print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
