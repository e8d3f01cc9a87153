#!/usr/bin/env python3
"""The step cost model of docs/scaling.md, from one scripts/bench.sh run.

    python3 scripts/scaling_model.py [bench/results.json]

Step time on n ranks with b rows each, no overlap of compute and communication:
    T(n, b) = a + c b + 2 (n-1)/n S / W + 2 (n-1) alpha
a: per-step cost independent of b (optimizer over all P parameters, gradient scaling,
   per-layer call overheads), c: compute seconds per row; both fitted from the 1-rank
   1-thread runs at global batch 128 and 256 of the same bench run (mean step times).
S: the fused allreduce (P gradients + 4 floats), W, alpha: bandwidth and latency per
   link of a ring allreduce (assumed numbers, below; shared memory as measured).
"""
import json
import sys

INTERCONNECTS = [
    # name, bytes/s per direction, latency per message (s): assumptions, not measurements
    ("InfiniBand HDR100 (100 Gb/s)", 12e9, 1.5e-6),
    ("25 GbE (TCP)", 3e9, 15e-6),
]
RANKS = [8, 16, 32, 64, 128, 256, 512, 1024]


def allreduce_seconds(n, size_bytes, bandwidth, latency):
    return 2 * (n - 1) / n * size_bytes / bandwidth + 2 * (n - 1) * latency


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "bench/results.json"
    with open(path) as f:
        results = json.load(f)
    raw = results["raw"]
    step128 = raw["r1t1_b128"]["training"]["mean_compute_milliseconds"] / 1e3
    step256 = raw["r1t1_b256"]["training"]["mean_compute_milliseconds"] / 1e3
    per_row = (step256 - step128) / 128
    fixed = step128 - 128 * per_row
    size = raw["r2t1_b128"]["allreduce"]["bytes"]
    shared_ms = raw["r2t1_b128"]["allreduce"]["bare_milliseconds"]["median"]
    load = results["machine"]["load_average_at_start"]
    print(f"measured ({results['machine']['cpu_model']}, 1 thread, load {' '.join(map(str, load))} at start): "
          f"step {step128 * 1e3:.3f} ms at b=128, {step256 * 1e3:.3f} ms at b=256 -> "
          f"a = {fixed * 1e3:.3f} ms per step, c = {per_row * 1e6:.1f} us per row "
          f"({1 / per_row:.0f} rows/s marginal); allreduce {size / 1e6:.2f} MB, "
          f"2 ranks shared memory {shared_ms:.3f} ms")

    def table(title, rows_per_rank, weak=False):
        """Efficiency at a fixed global batch B: speedup / n, the speedup over ONE rank
        computing the same B per step (a + c B), i.e. what n ranks buy for the same
        optimisation. Weak scaling (fixed b): samples/s per rank over one rank's at b."""
        print(f"\n{title}")
        header = "| n | rows/rank | compute ms |"
        rule = "|---:|---:|---:|"
        for name, _, _ in INTERCONNECTS:
            header += f" {name}: allreduce ms | samples/s | efficiency |"
            rule += "---:|---:|---:|"
        print(header)
        print(rule)
        for n in RANKS:
            b = rows_per_rank(n)
            if b < 1:
                print(f"| {n} | <1 | - |" + " - | - | - |" * len(INTERCONNECTS))
                continue
            compute = fixed + per_row * b
            one_rank = fixed + per_row * b * n
            line = f"| {n} | {b:g} | {compute * 1e3:.3f} |"
            for _, bandwidth, latency in INTERCONNECTS:
                ar = allreduce_seconds(n, size, bandwidth, latency)
                efficiency = compute / (compute + ar) if weak else one_rank / (compute + ar) / n
                line += f" {ar * 1e3:.3f} | {n * b / (compute + ar):,.0f} | {efficiency:.0%} |"
            print(line)

    table("Fixed global batch 128 (strong scaling): b = 128 / n", lambda n: 128 / n)
    table("Fixed global batch 4096: b = 4096 / n", lambda n: 4096 / n)
    table("Fixed rows per rank b = 128 (weak scaling, global batch 128 n)", lambda n: 128, weak=True)
    print(f"\none rank, one thread, b = 128: {128 / step128:,.0f} samples/s (efficiency reference)")


if __name__ == "__main__":
    main()
