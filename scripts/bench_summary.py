#!/usr/bin/env python3
"""Summarise one scripts/bench.sh run: read the raw JSON of every part (vae-dist bench
--json, bench_jax.py, bench_torch.py), print the comparison table and the issue-8
targets as ratios from this run, and write bench/results.json (every raw result too).

    python3 scripts/bench_summary.py bench/raw bench/results.json --load-at-start "1.2 0.9 0.8"
"""
import argparse
import json
import os
import platform
import sys


def load(directory):
    parts = {}
    for name in sorted(os.listdir(directory)):
        if name.endswith(".json"):
            with open(os.path.join(directory, name)) as f:
                text = f.read().strip()
            try:
                parts[name[:-5]] = json.loads(text) if text else {"skipped": "no output"}
            except json.JSONDecodeError as error:
                parts[name[:-5]] = {"skipped": f"unreadable output: {error}"}
    return parts


def vae_row(name, report):
    training = report["training"]
    rate = training["samples_per_second"]
    allocations = report["allocations"]
    return {
        "name": name, "framework": "vae-dist",
        "ranks": report["ranks"], "threads": report["machine"]["blas_threads"],
        "batch": report["global_batch"], "ftz": report["flush_to_zero_active"],
        "median": rate["median"], "min": rate["min"], "max": rate["max"],
        "fraction_of_ceiling": training.get("fraction_of_ceiling"),
        "allreduce_share": training["allreduce_share"] if report["ranks"] > 1 else None,
        "last_over_first": training["last_over_first"],
        "peak_rss_mib": [r["peak_resident_bytes"] / 2**20 for r in report["per_rank"] if r.get("peak_resident_bytes")],
        "allocations_per_step": allocations.get("per_step"),
        "cpu_per_wall_second": [r.get("cpu_per_wall_second") for r in report["per_rank"]],
        "reproducibility": report.get("reproducibility"),
    }


def reference_row(name, result):
    if "skipped" in result:
        return {"name": name, "framework": result.get("framework", name.split("_")[0]), "skipped": result["skipped"]}
    rate = result["samples_per_s"]
    return {"name": name, "framework": f"{result['framework']} {result.get('version', '')}".strip(),
            "ranks": 1, "threads": result["threads"], "batch": result["batch"], "variant": result.get("variant"),
            "median": rate["median"], "min": rate["min"], "max": rate["max"]}


def fmt(value, pattern="{:.0f}", missing="-"):
    return missing if value is None else pattern.format(value)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("raw")
    p.add_argument("output")
    p.add_argument("--load-at-start", default="")
    p.add_argument("--mode", default="full")
    args = p.parse_args()

    parts = load(args.raw)
    vae = {name: vae_row(name, r) for name, r in parts.items() if r.get("tool") == "vae-dist bench"}
    refs = {name: reference_row(name, r) for name, r in parts.items() if r.get("tool") != "vae-dist bench"}
    if "r1t1_b128" not in vae:
        sys.exit("bench_summary: the 1-rank 1-thread vae-dist result is missing")
    base = parts["r1t1_b128"]
    machine = base["machine"]

    def median(rows, name):
        row = rows.get(name)
        return None if row is None or "median" not in row else row["median"]

    def ratio(a, b):
        return None if a is None or b is None or b == 0 else a / b

    one = median(vae, "r1t1_b128")
    jax_best_1 = max([m for m in (median(refs, "jax_t1_jit"), median(refs, "jax_t1_scan")) if m] or [None],
                     key=lambda m: m or 0)
    ceiling_1 = (base.get("ceiling") or {}).get("gflops")
    ceiling_2 = ((parts.get("r1t2_b128") or {}).get("ceiling") or {}).get("gflops")
    # This VM's two-CPU speed flips between a fast and a slow mode within seconds to minutes
    # (docs/performance.md), even between adjacent runs, so medians of two-CPU runs compare
    # whatever modes they caught. The best epoch of each (the least-disturbed repetition,
    # as timeit's minimum) over all its runs (the repeat* runs add samples) compares the
    # fast mode with the fast mode.
    def best(rows, names):
        values = [rows[n]["max"] for n in names if n in rows and "max" in rows[n]]
        return max(values) if values else None
    vae_two_ranks_best = best(vae, ["r2t1_b128"] + [n for n in vae if n.startswith("repeat") and n.endswith("_vae_r2t1")])
    jax_two_threads_best = best(refs, ["jax_t2_scan"] + [n for n in refs if n.startswith("repeat") and n.endswith("_jax_t2_scan")])
    one_best = best(vae, ["r1t1_b128"])
    # The alternating one-thread rounds: each round's ratio compares runs a minute apart.
    def paired(reference):
        ratios = [ratio(median(vae, f"pair{r}_vae_r1t1"), median(refs, f"pair{r}_{reference}")) for r in (1, 2, 3)]
        ratios = sorted(x for x in ratios if x is not None)
        return ratios[len(ratios) // 2] if ratios else None
    # The guarantee's cost: each round's reproducible run over its fast one, a minute apart.
    def cost(ranks):
        ratios = [ratio(median(vae, f"cost{r}_same_{ranks}"), median(vae, f"cost{r}_fast_{ranks}")) for r in (1, 2, 3)]
        ratios = sorted(x for x in ratios if x is not None)
        return ratios[len(ratios) // 2] if ratios else None
    same_step = (vae.get("cost1_same_r2t1") or {}).get("reproducibility") or "not measured"
    targets = [
        ("1 rank 1 thread / JAX best 1 thread", ratio(one, jax_best_1), 1.2),
        ("  the same against JAX scan, median of 3 alternating rounds", paired("jax_t1_scan"), 1.2),
        ("1 rank 1 thread / PyTorch 1 thread FTZ", ratio(one, median(refs, "torch_t1_ftz")), 2.0),
        ("  the same, median of 3 alternating rounds", paired("torch_t1_ftz"), 2.0),
        ("epoch last / epoch 1 (FTZ)", vae["r1t1_b128"]["last_over_first"], 0.95),
        ("mpirun -n 2 / 1 rank, global batch 128", ratio(median(vae, "r2t1_b128"), one), 1.7),
        ("  the same, best epoch of each (fast mode)", ratio(vae_two_ranks_best, one_best), 1.7),
        ("mpirun -n 2 / 1 rank, global batch 256", ratio(median(vae, "r2t1_b256"), median(vae, "r1t1_b256")), 1.85),
        ("mpirun -n 2 / JAX scan 2 threads, batch 128", ratio(median(vae, "r2t1_b128"), median(refs, "jax_t2_scan")), 1.2),
        ("  the same, best epoch of each (fast mode)", ratio(vae_two_ranks_best, jax_two_threads_best), 1.2),
        ("exchange share of step, mpirun -n 2, batch 128", (vae.get("r2t1_b128") or {}).get("allreduce_share"), 0.05),
        ("allocations per steady-state step, 1 rank", vae["r1t1_b128"]["allocations_per_step"], 0),
        ("reproducible / fast step, 2 ranks, median of 3 rounds", cost("r2t1"), 0.97),
    ]
    # The convolutional model (issue 17): against PyTorch's conv VAE in alternating rounds.
    def conv_paired():
        ratios = sorted(x for x in (ratio(median(vae, f"conv_pair{r}_vae_r1t1"), median(refs, f"conv_pair{r}_torch_t1_ftz"))
                                    for r in (1, 2, 3)) if x is not None)
        return ratios[len(ratios) // 2] if ratios else None
    conv_one = median(vae, "conv_r1t1")
    targets += [
        ("conv: 1 rank 1 thread / PyTorch conv 1 thread FTZ, median of 3 rounds", conv_paired(), 1.5),
        ("conv: mpirun -n 2 / 1 rank, batch 128", ratio(median(vae, "conv_r2t1"), conv_one), 1.8),
        ("allocations per steady-state step, conv 1 rank", (vae.get("conv_r1t1") or {}).get("allocations_per_step"), 0),
        ("allocations per steady-state step, conv 2 ranks", (vae.get("conv_r2t1") or {}).get("allocations_per_step"), 0),
    ]
    extra = {
        "1 process 2 threads / 1 thread, batch 128": ratio(median(vae, "r1t2_b128"), one),
        "1 rank 1 thread / PyTorch 1 thread default": ratio(one, median(refs, "torch_t1")),
        "1 process 2 threads / JAX scan 2 threads": ratio(median(vae, "r1t2_b128"), median(refs, "jax_t2_scan")),
        "mpirun -n 2 shared-memory / allreduce exchange, batch 128":
            ratio(median(vae, "r2t1_b128"), median(vae, "r2t1_b128_allreduce")),
        "exchange share of step, mpirun -n 2, allreduce exchange":
            (vae.get("r2t1_b128_allreduce") or {}).get("allreduce_share"),
        "2 threads / PyTorch 2 threads FTZ": ratio(median(vae, "r1t2_b128"), median(refs, "torch_t2_ftz")),
        "epoch last / epoch 1 without FTZ": (vae.get("r1t1_b128_noftz") or {}).get("last_over_first"),
        "1 rank 1 thread, dormant units skipped / computed": ratio(one, median(vae, "r1t1_b128_dense")),
        "1 rank 1 thread with every unit computed / JAX best 1 thread": ratio(median(vae, "r1t1_b128_dense"), jax_best_1),
        "conv: 1 rank 1 thread, fraction of the SGEMM ceiling of its GEMMs":
            (vae.get("conv_r1t1") or {}).get("fraction_of_ceiling"),
        "conv: SGEMM ceiling of its GEMMs, GFLOP/s": ((parts.get("conv_r1t1") or {}).get("ceiling") or {}).get("gflops"),
        "reproducible / fast step, 1 rank, median of 3 rounds": cost("r1t1"),
        "the step of the reproducible runs": same_step,
    }

    print()
    print(f"vae-dist bench ({args.mode}), {machine['cpu_model']}, {machine['online_processors']} CPUs, "
          f"OpenBLAS {machine['blas_kernel']} ({machine.get('blas_kernel_choice') or 'start-up choice not recorded'}); "
          f"load average at start {args.load_at_start}")
    print(f"SGEMM ceiling on the model's GEMMs (time-weighted): {fmt(ceiling_1, '{:.1f}')} GFLOP/s at 1 thread, "
          f"{fmt(ceiling_2, '{:.1f}')} GFLOP/s at 2 threads; "
          f"{base['model']['flops_per_sample'] / 1e6:.2f} MFLOP per sample")
    print()
    header = (f"{'run':<20}{'framework':<16}{'ranks x thr':>11}{'batch':>7}{'samples/s':>11}{'min-max':>15}"
              f"{'x 1r1t':>8}{'ceiling':>9}{'exchange':>10}{'last/1st':>9}{'RSS MiB':>10}{'allocs/step':>12}{'CPU/wall':>11}")
    print(header)
    print("-" * len(header))
    for row in list(vae.values()) + list(refs.values()):
        if "skipped" in row:
            print(f"{row['name']:<20}{row['framework']:<16}  skipped: {row['skipped']}")
            continue
        ranks_threads = f"{row['ranks']} x {row['threads']}"
        spread = f"{row['min']:.0f}-{row['max']:.0f}"
        rss = "/".join(f"{m:.0f}" for m in row.get("peak_rss_mib", [])) or "-"
        print(f"{row['name']:<20}{row['framework'][:15]:<16}{ranks_threads:>11}{row['batch']:>7}{row['median']:>11.0f}"
              f"{spread:>15}{fmt(ratio(row['median'], one), '{:.2f}'):>8}"
              f"{fmt(row.get('fraction_of_ceiling'), '{:.0%}'):>9}{fmt(row.get('allreduce_share'), '{:.1%}'):>10}"
              f"{fmt(row.get('last_over_first'), '{:.3f}'):>9}{rss:>10}{fmt(row.get('allocations_per_step'), '{:.2f}'):>12}"
              f"{'/'.join(f'{c:.2f}' for c in row.get('cpu_per_wall_second') or [] if c is not None) or '-':>11}")
    print("CPU/wall: CPU seconds per wall second of each rank while training; below its thread count the rank")
    print("waited for a CPU (other work on the machine), and multi-rank ratios then say little.")
    print()
    print("targets (issue 8), ratios from this run:")
    for label, value, goal in targets:
        if value is None:
            verdict = "not measured"
        elif label.startswith(("exchange", "allocations")):
            verdict = "met" if value <= goal else "missed"
        else:
            verdict = "met" if value >= goal else "missed"
        goal_text = f"<= {goal:g}" if label.startswith(("exchange", "allocations")) else f">= {goal:g}"
        print(f"  {label:<50}{fmt(value, '{:.3f}'):>9}   goal {goal_text:<8} {verdict}")
    for label, value in extra.items():
        shown = value if isinstance(value, str) else fmt(value, '{:.3f}')
        print(f"  {label:<50}{shown:>9}")

    results = {
        "mode": args.mode,
        "machine": {**machine, "load_average_at_start": [float(x) for x in args.load_at_start.split()],
                    "python": platform.python_version()},
        "blas": {"kernel": machine["blas_kernel"], "kernel_choice": machine.get("blas_kernel_choice"),
                 "ceiling_gflops_1_thread": ceiling_1, "ceiling_gflops_2_threads": ceiling_2},
        "rows": list(vae.values()) + list(refs.values()),
        "targets": [{"label": label, "value": value, "goal": goal} for label, value, goal in targets],
        "ratios": extra,
        "raw": parts,
    }
    with open(args.output, "w") as f:
        json.dump(results, f, indent=1, sort_keys=True)
    print(f"\nwrote {args.output}")


if __name__ == "__main__":
    main()
