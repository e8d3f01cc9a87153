"""Quality of vae-dist's default convolutional VAE against PyTorch's, several seeds.

For each seed: `vae-dist train --architecture conv` for --epochs epochs on
Fashion-MNIST (its test -ELBO from metrics.jsonl), and bench_torch_conv.py --eval
for the same epochs (the same model, init scheme, Adam 1e-3, batch 128). Prints
both per seed, their means, and the difference of the means against the 0.5-nat
goal (docs/performance.md, "The convolutional model"); writes the numbers as JSON.
PyTorch absent: vae-dist's numbers alone, and a note.

    python3 scripts/reference/conv_quality.py --vae-dist .build/release/vae-dist --seeds 0 1 2
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))


def vae_dist_run(binary, seed, epochs, data_dir, out):
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", VAE_DIST_DATA_DIR=data_dir)
    subprocess.run([binary, "train", "--architecture", "conv", "--epochs", str(epochs), "--seed", str(seed),
                    "--out", out, "--no-progress"], env=env, check=True, stdout=subprocess.DEVNULL)
    with open(os.path.join(out, "metrics.jsonl")) as f:
        metrics = [json.loads(line) for line in f if line.strip()]
    return [m["test_neg_elbo"] for m in metrics]


def torch_run(seed, epochs):
    result = subprocess.run([sys.executable, os.path.join(HERE, "bench_torch_conv.py"), "--ftz", "--eval",
                             "--epochs", str(epochs), "--seed", str(seed)],
                            check=True, capture_output=True, text=True)
    report = json.loads(result.stdout.strip().splitlines()[-1])
    return None if "skipped" in report else report["test_neg_elbo"]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--vae-dist", required=True, help="the vae-dist binary (a release build)")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--data-dir", default=os.environ.get("VAE_DIST_DATA_DIR", "data"),
                   help="where vae-dist finds (or prepares) the Fashion-MNIST files")
    p.add_argument("--json", default=None, help="also write the numbers here")
    args = p.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as scratch:
        for seed in args.seeds:
            ours = vae_dist_run(os.path.abspath(args.vae_dist), seed, args.epochs, args.data_dir,
                                os.path.join(scratch, f"seed{seed}"))
            theirs = torch_run(seed, args.epochs)
            rows.append({"seed": seed, "vae_dist": ours, "pytorch": theirs})
            print(f"seed {seed}: test -ELBO after {args.epochs} epochs: vae-dist {ours[-1]:.2f}, "
                  f"PyTorch {'-' if theirs is None else f'{theirs[-1]:.2f}'}", flush=True)
    ours = [r["vae_dist"][-1] for r in rows]
    summary = {"epochs": args.epochs, "seeds": args.seeds, "runs": rows, "vae_dist_mean": statistics.mean(ours)}
    line = f"mean test -ELBO: vae-dist {summary['vae_dist_mean']:.2f}"
    if all(r["pytorch"] is not None for r in rows):
        summary["pytorch_mean"] = statistics.mean(r["pytorch"][-1] for r in rows)
        summary["difference"] = summary["vae_dist_mean"] - summary["pytorch_mean"]
        line += (f", PyTorch {summary['pytorch_mean']:.2f}: difference {summary['difference']:+.2f} nats "
                 f"(goal within 0.5: {'met' if abs(summary['difference']) <= 0.5 else 'missed'})")
    else:
        line += " (PyTorch not available: no comparison)"
    print(line)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(summary, f, indent=1)


if __name__ == "__main__":
    main()
