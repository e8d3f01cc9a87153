"""The data section of scripts/bench.sh: streaming against in-memory training, in one run.

    python3 scripts/bench_data.py --binary .build/release/vae-dist --out bench/data [--quick]

Every comparison alternates its two sides round by round (the machine is shared: its
speed drifts within minutes), and each number is the median of a run's epochs after the
first (the first of a cold-cache run is reported on its own). Prints a table and writes
OUT/data.json:

- Fashion-MNIST as `prepare` writes it (gzip 4): `--reading memory` vs `--reading
  streaming` under `--shuffle blocks`, at 1 rank and `mpirun -n 2` (samples/s, ratio);
- the same with the file's pages dropped from the page cache first (drop_caches as
  root where allowed, else posix_fadvise DONTNEED on the file);
- whether streaming and in-memory runs of the same options and seed end with identical
  parameters (the final checkpoints' bytes);
- a generated file (Fashion-MNIST tiled 4x, 188 MB) streamed within a budget of a
  fraction of it, against holding it in memory, with each run's peak RSS, and the peak
  RSS of a run on 10 rows (the process's fixed overhead);
- `mpirun -n 2 --reading memory`: each rank's peak RSS split into private and shared
  pages, and the node's shared segments in /dev/shm;
- `--shuffle rows` streaming on Fashion-MNIST (its blocks all fit the default budget)
  and on the generated file within the budget.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import threading
import time

import numpy as np


def log(message):
    print(f"bench-data: {message}", flush=True)


class Memory:
    """Peak memory of every process running `binary`, sampled from /proc while a command runs."""

    def __init__(self, binary):
        self.binary = os.path.realpath(binary)
        self.peaks = {}  # pid -> {field: max kB}
        self.shm_peak = 0
        self._stop = threading.Event()

    def _sample(self):
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                with open(f"/proc/{pid}/cmdline", "rb") as f:
                    argv0 = f.read().split(b"\0")[0].decode()
                if os.path.realpath(argv0) != self.binary:
                    continue
                fields = {}
                with open(f"/proc/{pid}/status") as f:
                    for line in f:
                        key, _, value = line.partition(":")
                        if key in ("VmHWM", "VmRSS", "RssAnon", "RssShmem", "RssFile"):
                            fields[key] = int(value.split()[0])
            except (OSError, IndexError, ValueError):
                continue
            peak = self.peaks.setdefault(int(pid), {})
            for key, value in fields.items():
                peak[key] = max(peak.get(key, 0), value)
        try:
            usage = shutil.disk_usage("/dev/shm")
            self.shm_peak = max(self.shm_peak, usage.used)
        except OSError:
            pass

    def __enter__(self):
        self.shm_before = shutil.disk_usage("/dev/shm").used

        def loop():
            while not self._stop.is_set():
                self._sample()
                time.sleep(0.05)
        self._thread = threading.Thread(target=loop, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *_):
        self._stop.set()
        self._thread.join()

    def ranks(self):
        """Per process (in pid order), MiB: peak RSS, and private / shared resident pages at their peaks."""
        mib = lambda kb: round(kb / 1024, 1)
        return [dict(peak_rss_mib=mib(p.get("VmHWM", 0)), anon_mib=mib(p.get("RssAnon", 0)),
                     shmem_mib=mib(p.get("RssShmem", 0)), file_mib=mib(p.get("RssFile", 0)))
                for _, p in sorted(self.peaks.items())]

    def shm_segment_mib(self):
        return round((self.shm_peak - self.shm_before) / 2**20, 1)


class Bench:
    def __init__(self, args):
        self.binary = os.path.abspath(args.binary)
        self.out = os.path.abspath(args.out)
        self.quick = args.quick
        self.epochs = 2 if args.quick else 4
        self.rounds = 1 if args.quick else 3
        self.results = {}
        os.makedirs(self.out, exist_ok=True)
        self.env = dict(os.environ)
        if os.getuid() == 0:
            self.env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

    def run(self, arguments, ranks=1):
        """Runs vae-dist (under mpirun for ranks > 1); returns its memory samples."""
        command = [self.binary] + arguments
        if ranks > 1:
            command = ["mpirun", "-n", str(ranks), "--bind-to", "core", "-x", "OPENBLAS_NUM_THREADS=1"] + command
        with Memory(self.binary) as memory:
            done = subprocess.run(command, env=self.env, capture_output=True, text=True)
        if done.returncode != 0:
            sys.exit(f"bench-data: failed ({done.returncode}): {' '.join(command)}\n{done.stderr}")
        memory.stdout = done.stdout
        return memory

    def train(self, name, data, extra, ranks=1, epochs=None):
        """One training run; returns (epoch samples/s list, memory, run directory)."""
        directory = os.path.join(self.out, "runs", name)
        shutil.rmtree(directory, ignore_errors=True)
        memory = self.run(["train", "--data", data, "--out", directory, "--no-progress", "--seed", "1",
                           "--epochs", str(epochs or self.epochs)] + extra, ranks)
        with open(os.path.join(directory, "metrics.jsonl")) as f:
            speeds = [json.loads(line)["samples_per_second"] for line in f]
        log(f"{name}: {' '.join(f'{s:,.0f}' for s in speeds)} samples/s per epoch")
        return speeds, memory, directory

    def drop_from_page_cache(self, paths):
        """Evicts the files' pages: drop_caches where this user may, else posix_fadvise DONTNEED."""
        subprocess.run(["sync"])
        try:
            with open("/proc/sys/vm/drop_caches", "w") as f:
                f.write("3\n")
            return "drop_caches"
        except OSError:
            for path in paths:
                fd = os.open(path, os.O_RDONLY)
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                os.close(fd)
            return "posix_fadvise DONTNEED on the data file (drop_caches is not writable here)"

    def prepare_data(self):
        data = os.path.join(self.out, "data")
        train = os.path.join(data, "fashion-mnist-train.h5")
        if not os.path.exists(train):
            self.run(["prepare", "fashion-mnist", "--data-dir", data])
        big = os.path.join(data, "fashion-mnist-x4.h5")
        if not os.path.exists(big):
            log("writing Fashion-MNIST tiled 4x (240,000 rows)")
            images = read_idx("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz").reshape(60000, 784)
            npy = os.path.join(data, "x4.npy")
            np.save(npy, np.concatenate([np.roll(images, shift, axis=1) for shift in range(4)]))
            self.run(["prepare", "npy", npy, "-o", big])
            os.remove(npy)
        tiny = os.path.join(data, "tiny.h5")
        if not os.path.exists(tiny):
            npy = os.path.join(data, "tiny.npy")
            np.save(npy, np.full((10, 784), 128, dtype=np.uint8))
            self.run(["prepare", "npy", npy, "-o", tiny])
            os.remove(npy)
        return train, big, tiny

    def compare(self, name, data, sides, ranks=1, epochs=None):
        """Alternates the sides' runs; returns {side: [median samples/s per round]} and the runs."""
        medians = {side: [] for side in sides}
        runs = {}
        for round_ in range(self.rounds):
            for side, extra in sides.items():
                speeds, memory, directory = self.train(f"{name}-{side}-{round_ + 1}", data, extra, ranks, epochs)
                medians[side].append(statistics.median(speeds[1:] or speeds))
                runs.setdefault(side, []).append((speeds, memory, directory))
        return medians, runs

    def main(self):
        log(f"load average {open('/proc/loadavg').read().split()[:3]}, {os.cpu_count()} CPUs")
        train, big, tiny = self.prepare_data()
        sides = {"memory": ["--reading", "memory"], "streaming": ["--reading", "streaming"]}
        blocks = ["--shuffle", "blocks"]
        for ranks in (1, 2):
            medians, runs = self.compare(f"fmnist-r{ranks}", train, {k: v + blocks for k, v in sides.items()}, ranks)
            ratio = [s / m for s, m in zip(medians["streaming"], medians["memory"])]
            self.results[f"fashion_mnist_{ranks}_rank"] = dict(
                memory_samples_per_second=medians["memory"], streaming_samples_per_second=medians["streaming"],
                ratio_per_round=ratio, ratio_median=statistics.median(ratio),
                identical_parameters=same_checkpoint(runs["memory"][0][2], runs["streaming"][0][2]),
                memory_per_rank=runs["memory"][0][1].ranks(), shared_segment_mib=runs["memory"][0][1].shm_segment_mib(),
                streaming_per_rank=runs["streaming"][0][1].ranks())
            if ranks == 1:
                cold = []
                for round_ in range(self.rounds):
                    how = self.drop_from_page_cache([train])
                    speeds, _, _ = self.train(f"fmnist-cold-streaming-{round_ + 1}", train, sides["streaming"] + blocks)
                    warm, _, _ = self.train(f"fmnist-warm-memory-{round_ + 1}", train, sides["memory"] + blocks)
                    cold.append(dict(cold_first_epoch=speeds[0], cold_median=statistics.median(speeds),
                                     warm_memory_median=statistics.median(warm[1:]),
                                     ratio_first_epoch=speeds[0] / statistics.median(warm[1:])))
                self.results["fashion_mnist_cold_cache"] = dict(how=how, rounds=cold,
                                                                ratio_first_epoch_median=statistics.median(
                                                                    r["ratio_first_epoch"] for r in cold))
        # A file 4x (and more) the budget.
        budget = "40M"
        _, fixed, _ = self.train("tiny-memory", tiny, ["--reading", "memory", "--batch", "10"], epochs=1)
        medians, runs = self.compare("x4", big, {"memory": sides["memory"] + blocks,
                                                  "streaming": sides["streaming"] + blocks + ["--memory-budget", budget]},
                                     epochs=2 if self.quick else 3)
        ratio = [s / m for s, m in zip(medians["streaming"], medians["memory"])]
        self.results["fashion_mnist_x4_streamed_within_budget"] = dict(
            file_mib=round(os.path.getsize(big) / 2**20, 1), feature_mib=round(240000 * 784 / 2**20, 1), budget=budget,
            memory_samples_per_second=medians["memory"], streaming_samples_per_second=medians["streaming"],
            ratio_per_round=ratio, ratio_median=statistics.median(ratio),
            streaming_peak_rss_mib=max(r["peak_rss_mib"] for _, m, _ in runs["streaming"] for r in m.ranks()),
            memory_peak_rss_mib=max(r["peak_rss_mib"] for _, m, _ in runs["memory"] for r in m.ranks()),
            fixed_overhead_peak_rss_mib=fixed.ranks()[0]["peak_rss_mib"])
        # --shuffle rows streaming.
        rows = ["--shuffle", "rows"]
        speeds, _, _ = self.train("fmnist-rows-streaming", train, sides["streaming"] + rows)
        memory_rows, _, _ = self.train("fmnist-rows-memory", train, sides["memory"] + rows)
        big_rows, _, _ = self.train("x4-rows-streaming", big, sides["streaming"] + rows + ["--memory-budget", budget], epochs=1)
        self.results["shuffle_rows_streaming"] = dict(
            fashion_mnist_default_budget=statistics.median(speeds[1:]), fashion_mnist_in_memory=statistics.median(memory_rows[1:]),
            x4_within_budget_first_epoch=big_rows[0], budget=budget)
        with open(os.path.join(self.out, "data.json"), "w") as f:
            json.dump(self.results, f, indent=1)
        print(summary(self.results))


def same_checkpoint(a, b):
    """Whether two runs' final checkpoints hold the same bytes after their checksum headers."""
    def final(directory):
        names = sorted(n for n in os.listdir(directory) if n.startswith("checkpoint-epoch-"))
        with open(os.path.join(directory, names[-1]), "rb") as f:
            return f.read()[512:]
    return final(a) == final(b)


def read_idx(path):
    import gzip
    with gzip.open(path) as f:
        data = f.read()
    rank = data[3]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank)


def summary(results):
    lines = ["", "data: streaming against in memory (median samples/s of the epochs after the first)"]
    for ranks in (1, 2):
        r = results[f"fashion_mnist_{ranks}_rank"]
        lines.append(f"  Fashion-MNIST, {ranks} rank{'s' if ranks > 1 else ''}, --shuffle blocks: memory "
                     f"{statistics.median(r['memory_samples_per_second']):,.0f}, streaming "
                     f"{statistics.median(r['streaming_samples_per_second']):,.0f}: ratio {r['ratio_median']:.3f} "
                     f"(rounds {', '.join(f'{x:.3f}' for x in r['ratio_per_round'])}); identical parameters: "
                     f"{r['identical_parameters']}")
    r = results["fashion_mnist_2_rank"]
    lines.append("  mpirun -n 2 in memory, per rank (peak RSS / private / shared MiB): "
                 + "; ".join(f"{m['peak_rss_mib']} / {m['anon_mib']} / {m['shmem_mib']}" for m in r["memory_per_rank"])
                 + f"; /dev/shm segments {r['shared_segment_mib']} MiB")
    c = results["fashion_mnist_cold_cache"]
    lines.append(f"  cold page cache ({c['how']}): first streaming epoch / warm in-memory median: "
                 f"{c['ratio_first_epoch_median']:.3f} (rounds "
                 + ", ".join(f"{x['ratio_first_epoch']:.3f}" for x in c["rounds"]) + ")")
    x = results["fashion_mnist_x4_streamed_within_budget"]
    lines.append(f"  {x['feature_mib']} MiB of rows ({x['file_mib']} MiB gzip) within --memory-budget {x['budget']}: ratio "
                 f"{x['ratio_median']:.3f}; peak RSS streaming {x['streaming_peak_rss_mib']} MiB, in memory "
                 f"{x['memory_peak_rss_mib']} MiB, a 10-row run {x['fixed_overhead_peak_rss_mib']} MiB")
    s = results["shuffle_rows_streaming"]
    lines.append(f"  --shuffle rows streaming: Fashion-MNIST {s['fashion_mnist_default_budget']:,.0f} samples/s "
                 f"(in memory {s['fashion_mnist_in_memory']:,.0f}); x4 within {s['budget']}: "
                 f"{s['x4_within_budget_first_epoch']:,.0f}")
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--binary", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--quick", action="store_true")
    Bench(parser.parse_args()).main()
