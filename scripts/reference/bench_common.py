"""Shared pieces of the PyTorch and JAX reference benchmarks (bench_torch.py,
bench_jax.py): options, thread pinning, Fashion-MNIST loading, the timed epoch
loop and the JSON report. Nothing here imports a framework: thread settings
must be in the environment before the framework loads.

The measured model and method are those of docs/bench-log.md (the reference table) and
docs/algorithm.md: 784-400(ReLU)-20 VAE, Bernoulli likelihood on logits,
analytic KL, L = 1, loss = mean over the batch of per-datapoint -ELBO,
Adam(lr 1e-3, eps 1e-8), batch 128, x = uint8 / 255, the whole data set
preloaded, one repetition = one epoch (the last, shorter batch included).
"""
import argparse
import gzip
import json
import os
import statistics
import struct
import sys
import time

import numpy as np

DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist"
DATA_DIM, HIDDEN, LATENT = 784, 400, 20
LEARNING_RATE, ADAM_EPS = 1e-3, 1e-8


def log(message):
    print(message, file=sys.stderr, flush=True)


def parser(description):
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--threads", type=int, default=1,
                   help="math threads; the process is also pinned to this many CPUs (default 1)")
    p.add_argument("--epochs", type=int, default=5, help="timed repetitions, one epoch each (default 5)")
    p.add_argument("--batch", type=int, default=128, help="rows per step (default 128)")
    p.add_argument("--eval", action="store_true",
                   help="test -ELBO (nats per datapoint, one noise draw) after each epoch, not timed")
    p.add_argument("--steps-limit", type=int, default=0,
                   help="at most this many steps per epoch, for smoke runs (0 = whole epoch)")
    p.add_argument("--data-dir", default=DEFAULT_DATA_DIR,
                   help="folder with the Fashion-MNIST IDX files (*-idx3-ubyte.gz, *-idx1-ubyte.gz)")
    p.add_argument("--seed", type=int, default=0)
    return p


def validate(p, args):
    for name in ("threads", "epochs", "batch"):
        if getattr(args, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(args, name)}")
    if args.steps_limit < 0:
        p.error(f"--steps-limit must be 0 (off) or positive, got {args.steps_limit}")


def limit_threads(threads, extra_env=None):
    """Thread-count variables for OpenMP/MKL/OpenBLAS (and the caller's, e.g. XLA),
    then pin the process to the first `threads` allowed CPUs: thread pools that
    size themselves from the schedulable CPUs (XLA's) then get that size too.
    Call before importing the framework. Returns the CPUs pinned to."""
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[name] = str(threads)
    for name, value in (extra_env or {}).items():
        os.environ[name] = value
    allowed = sorted(os.sched_getaffinity(0))
    if threads < len(allowed):
        os.sched_setaffinity(0, allowed[:threads])
    return sorted(os.sched_getaffinity(0))


def skip(framework, reason):
    """The framework cannot run here: say why, report a skip, exit 0 so the bench goes on."""
    log(f"{framework}: skipped: {reason}")
    print(json.dumps({"framework": framework, "skipped": reason}), flush=True)
    sys.exit(0)


def read_idx(path):
    """An IDX file (gzip): magic 0x00 0x00 <type> <rank>, rank big-endian uint32 sizes, data."""
    with gzip.open(path, "rb") as f:
        zero, kind, rank = struct.unpack(">HBB", f.read(4))
        if zero != 0 or kind != 0x08:
            raise ValueError(f"{path}: not an unsigned-byte IDX file (magic {zero:#06x} {kind:#04x})")
        shape = struct.unpack(f">{rank}I", f.read(4 * rank))
        data = np.frombuffer(f.read(), dtype=np.uint8)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{path}: {data.size} bytes of data, header says {shape}")
    return data.reshape(shape)


def load_fashion_mnist(data_dir):
    """(train [60000, 784], test [10000, 784]) float32 in [0, 1] (float32(float64(x) / 255))."""
    def split(prefix):
        images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte.gz"))
        labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte.gz"))
        if images.shape[0] != labels.shape[0]:
            raise ValueError(f"{data_dir}: {prefix} has {images.shape[0]} images, {labels.shape[0]} labels")
        return (images.reshape(images.shape[0], -1).astype(np.float64) / 255.0).astype(np.float32)
    try:
        return split("train"), split("t10k")
    except (OSError, ValueError) as error:  # a setup error, not a skip: fail, in one line
        log(f"cannot read Fashion-MNIST from {data_dir} (--data-dir): {error}")
        sys.exit(2)


def epoch_plan(rows, batch, steps_limit):
    """(full steps, rows of the last shorter step or 0) for one epoch."""
    full, remainder = divmod(rows, batch)
    if steps_limit and steps_limit <= full:
        return steps_limit, 0
    return full, remainder


def run_epochs(args, train_epoch, evaluate=None):
    """Times `train_epoch(epoch) -> samples` (which must return only when its work
    is finished), `args.epochs` times; after each, `evaluate()` untimed if --eval.
    Returns the report fields of the measurement."""
    rates, seconds, test_neg_elbo = [], [], []
    for epoch in range(args.epochs):
        start = time.perf_counter()
        samples = train_epoch(epoch)
        elapsed = time.perf_counter() - start
        rates.append(samples / elapsed)
        seconds.append(elapsed)
        line = f"epoch {epoch + 1}/{args.epochs}: {samples} samples in {elapsed:.3f} s, {rates[-1]:,.0f} samples/s"
        if args.eval and evaluate is not None:
            test_neg_elbo.append(float(evaluate()))
            line += f", test -ELBO {test_neg_elbo[-1]:.2f}"
        log(line)
    fields = {
        "samples_per_s": {"min": min(rates), "median": statistics.median(rates), "max": max(rates)},
        "per_epoch": rates,
        "epoch_seconds": seconds,
        "samples_per_epoch": samples,
    }
    if args.eval:
        fields["test_neg_elbo"] = test_neg_elbo
    log("samples/s min {min:,.0f} median {median:,.0f} max {max:,.0f}".format(**fields["samples_per_s"]))
    return fields


def report(result):
    """The one JSON object on stdout; load averages say how busy the machine was."""
    result["load_average_at_end"] = list(os.getloadavg())
    print(json.dumps(result), flush=True)
