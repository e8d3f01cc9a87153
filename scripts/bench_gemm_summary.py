#!/usr/bin/env python3
"""Summarise scripts/bench-gemm.sh: the GEMM backends and bf16 against issue 22's bar.

    python3 scripts/bench_gemm_summary.py bench/gemm-raw bench/gemm-runs bench/gemm.json

Reads bench/gemm-raw/gemm_*.json (vae-dist bench --json) and the runs' metrics.jsonl, prints
the table and the ratios of this run, and writes them to the JSON file.
"""
import json
import os
import statistics
import sys

ENGINES = {"openblas": "OpenBLAS fp32", "onednn": "oneDNN fp32", "bf16": "oneDNN bf16"}


def main(raw, runs, output):
    def load(name):
        path = os.path.join(raw, f"gemm_{name}.json")
        return json.load(open(path)) if os.path.exists(path) else None

    summary = {"ceilings": {}, "rounds": {}, "ratios": {}}
    for setting in ("r1t1", "r2t1"):
        ceiling = load(f"ceiling_{setting}")
        if ceiling:
            summary["ceilings"][setting] = {c["rank0"]["engine"]: {"gflops": c["gflops"],
                                                                   "samples_per_second": c["samples_per_second"]}
                                            for c in ceiling["ceilings"]}
    print("GEMM backends and bf16 (scripts/bench-gemm.sh; one run, rounds alternating)")
    for setting, label in (("r1t1", "1 rank x 1 thread"), ("r2t1", "mpirun -n 2 x 1 thread")):
        ceilings = summary["ceilings"].get(setting, {})
        print(f"\n{label}: samples/s (median epoch) and fraction of the matching GEMM ceiling")
        rounds, round_number = [], 1
        while load(f"{setting}_openblas_{round_number}"):
            row = {}
            for key, engine in ENGINES.items():
                report = load(f"{setting}_{key}_{round_number}")
                rate = report["training"]["samples_per_second"]["median"]
                # The run's own ceiling when it measured one (moments before training), else this run's.
                fraction = report["training"].get("fraction_of_ceiling")
                ceiling = ceilings.get(engine, {}).get("samples_per_second")
                if fraction is None and ceiling:
                    fraction = rate / ceiling
                busy = [r.get("cpu_per_wall_second") or 0 for r in report["per_rank"]]
                row[key] = {"samples_per_second": rate, "fraction_of_ceiling": fraction,
                            "last_over_first": report["training"]["last_over_first"], "cpu_per_wall": busy,
                            # On a shared machine a rank also waits for a CPU: samples per second of
                            # its CPU time is the steadier figure (one thread per rank here).
                            "samples_per_cpu_second": rate / (sum(busy) / len(busy)) if all(busy) else None}
            faster = max(row["openblas"]["samples_per_second"], row["onednn"]["samples_per_second"])
            row["fp32_faster_over_openblas"] = faster / row["openblas"]["samples_per_second"]
            row["bf16_over_fp32_faster"] = row["bf16"]["samples_per_second"] / faster
            per_cpu = {k: row[k]["samples_per_cpu_second"] for k in ENGINES}
            if all(per_cpu.values()):
                faster_cpu = max(per_cpu["openblas"], per_cpu["onednn"])
                row["per_cpu_second"] = {"fp32_faster_over_openblas": faster_cpu / per_cpu["openblas"],
                                         "bf16_over_fp32_faster": per_cpu["bf16"] / faster_cpu}
            rounds.append(row)
            print(f"  round {round_number}: " + ", ".join(
                f"{ENGINES[k]} {row[k]['samples_per_second']:.0f}"
                + (f" ({100 * row[k]['fraction_of_ceiling']:.0f}%)" if row[k]["fraction_of_ceiling"] else "")
                + f" x{row[k]['last_over_first']:.2f}" for k in ENGINES)
                + f"; fp32 faster / OpenBLAS {row['fp32_faster_over_openblas']:.3f}, bf16 / fp32 {row['bf16_over_fp32_faster']:.3f}"
                + ("; per CPU-second {fp32_faster_over_openblas:.3f}, {bf16_over_fp32_faster:.3f}".format(**row["per_cpu_second"])
                   if "per_cpu_second" in row else ""))
            round_number += 1
        summary["rounds"][setting] = rounds
        if rounds:
            medians = {k: statistics.median(r[k] for r in rounds) for k in ("fp32_faster_over_openblas", "bf16_over_fp32_faster")}
            summary["ratios"][setting] = medians
            bar = "1.10" if setting == "r1t1" else "-"
            print(f"  median over rounds: fp32 faster / OpenBLAS {medians['fp32_faster_over_openblas']:.3f} (bar {bar}), "
                  f"bf16 / fp32 {medians['bf16_over_fp32_faster']:.3f} (bar 1.6); last/first epoch x0.95-1.05 is flat")
            per_cpu = [r["per_cpu_second"] for r in rounds if "per_cpu_second" in r]
            if per_cpu:
                medians["per_cpu_second"] = {k: statistics.median(r[k] for r in per_cpu) for k in per_cpu[0]}
                print("  the same per CPU-second: fp32 faster / OpenBLAS {fp32_faster_over_openblas:.3f}, "
                      "bf16 / fp32 {bf16_over_fp32_faster:.3f}".format(**medians["per_cpu_second"]))
        for engine, c in ceilings.items():
            print(f"  ceiling {engine}: {c['gflops']:.1f} GFLOP/s -> {c['samples_per_second']:.0f} samples/s")

    print("\nallocations per steady-state step (1 thread, malloc_count):")
    summary["allocations_per_step"] = {}
    for key, engine in ENGINES.items():
        report = load(f"alloc_{key}")
        per_step = report["allocations"].get("per_step") if report else None
        summary["allocations_per_step"][engine] = per_step
        print(f"  {engine}: {'-' if per_step is None else f'{per_step:.1f}'}")

    bf16 = load("r1t1_bf16_1")
    difference = bf16.get("gradient_difference") if bf16 else None
    summary["gradient_difference"] = difference
    if difference:
        print(f"\nbf16 gradient vs fp32 on {difference['rows']} rows: ||g_bf16 - g_fp32|| / ||g_fp32|| = "
              f"{difference['initial']['relative_norm']:.2e} at init, {difference['trained']['relative_norm']:.2e} "
              f"after training (cosine {difference['trained']['cosine']:.6f}; worst tensor "
              f"{difference['trained']['worst_tensor']} {difference['trained']['worst_tensor_relative_norm']:.2e})")

    determinism = load("determinism")
    summary["determinism"] = determinism
    if determinism:
        print(f"\nrun twice, 2 epochs: fp32 on {determinism['faster_fp32']} {determinism['fp32']}, "
              f"bf16 {determinism['bf16']} (h5diff of /model and /optimizer)")

    quality = {}
    for name in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
        if name.startswith("quality_"):
            lines = open(os.path.join(runs, name, "metrics.jsonl")).read().split("\n")
            metrics = [json.loads(line) for line in lines if line.strip()]
            _, precision, seed = name.split("_")
            quality.setdefault(seed, {})[precision] = [m.get("test_neg_elbo") for m in metrics]
    summary["quality"] = quality
    if quality:
        print("\ntest -ELBO after the last epoch (nats), fp32 / bf16 / bf16 - fp32 (bar |.| <= 0.3):")
        for seed, runs_of_seed in sorted(quality.items()):
            fp32, bf16 = runs_of_seed.get("fp32", [None])[-1], runs_of_seed.get("bf16", [None])[-1]
            if fp32 is not None and bf16 is not None:
                print(f"  seed {seed}: {fp32:.3f} / {bf16:.3f} / {bf16 - fp32:+.3f}")

    with open(output, "w") as f:
        json.dump(summary, f, indent=1)
    print(f"\nwrote {output}")


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    main(*sys.argv[1:])
