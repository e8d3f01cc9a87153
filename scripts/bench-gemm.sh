#!/usr/bin/env bash
# The GEMM section of scripts/bench.sh (docs/performance.md, "GEMM backends and bf16"):
# OpenBLAS fp32, oneDNN fp32 and oneDNN bf16 on the default model, in alternating rounds
# at one thread and at `mpirun -n 2`; fp32 with the faster backend run twice and compared
# bit for bit; 10 epochs of fp32 and bf16 on three seeds (test -ELBO); allocations per
# step of each. Writes bench/gemm-raw/ and bench/gemm.json and prints the summary
# (scripts/bench_gemm_summary.py).
#
#   scripts/bench-gemm.sh VAE_DIST_BINARY [--quick]
#
# scripts/bench.sh runs it after its own parts (the release build and the data exist then).
set -euo pipefail
cd "$(dirname "$0")/.."

vae_dist=$1
quick=0
[ "${2:-}" = "--quick" ] && quick=1
raw=bench/gemm-raw
rm -rf "$raw" bench/gemm-runs
mkdir -p "$raw"
shim=$PWD/bench/malloc_count.so
[ -f "$shim" ] || cc -O2 -shared -fPIC -o "$shim" scripts/malloc-count/malloc_count.c
if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

if [ "$quick" = 1 ]; then
    timed=(--quick --ceiling-seconds 0)
    counting=(--quick --ceiling-seconds 0)
    ceiling=(--quick)
    rounds=1; quality_epochs=1; seeds=(0); train_data=()
else
    # Each timed run measures the ceilings briefly first: on a shared machine a ceiling
    # measured minutes earlier is another machine's.
    timed=(--data fashion-mnist --epochs 5 --ceiling-seconds 0.03)
    counting=(--data fashion-mnist --epochs 2 --ceiling-seconds 0)
    ceiling=(--data fashion-mnist --epochs 1 --ceiling-seconds 0.2)
    rounds=3; quality_epochs=10; seeds=(0 1 2); train_data=()
fi
engines=("openblas:--gemm openblas" "onednn:--gemm onednn" "bf16:--gemm onednn --precision bf16")
one_thread=(env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 taskset -c 0)
two_ranks=(mpirun -n 2 --bind-to core -x OPENBLAS_NUM_THREADS=1 -x OMP_NUM_THREADS=1)

# bench NAME [launcher words...] -- [bench options...]
bench() {
    local name=$1; shift
    local launcher=()
    while [ "$1" != "--" ]; do launcher+=("$1"); shift; done
    shift
    echo "bench-gemm: $name: ${launcher[*]} vae-dist bench $*"
    "${launcher[@]}" "$vae_dist" bench --json "$@" >"$raw/gemm_$name.json" 2>"$raw/gemm_$name.log" \
        || { cat "$raw/gemm_$name.log" >&2; exit 1; }
}

# The ceilings of every engine (each bench run measures all of them), at one thread and
# with both ranks multiplying at once.
bench ceiling_r1t1 "${one_thread[@]}" -- "${ceiling[@]}" --gemm openblas
bench ceiling_r2t1 "${two_ranks[@]}" -- "${ceiling[@]}" --gemm openblas
# Alternating rounds: this machine drifts by 5-10% over minutes, so each ratio comes from
# runs a minute apart, and the summary gives every round's.
for round in $(seq 1 "$rounds"); do
    for engine in "${engines[@]}"; do
        read -r -a options <<<"${engine#*:}"
        bench "r1t1_${engine%%:*}_$round" "${one_thread[@]}" -- "${timed[@]}" "${options[@]}"
    done
    for engine in "${engines[@]}"; do
        read -r -a options <<<"${engine#*:}"
        bench "r2t1_${engine%%:*}_$round" "${two_ranks[@]}" -- "${timed[@]}" "${options[@]}"
    done
done
# Allocations per steady-state step, in separate runs (the shim slows what it counts).
for engine in "${engines[@]}"; do
    read -r -a options <<<"${engine#*:}"
    bench "alloc_${engine%%:*}" env OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 LD_PRELOAD="$shim" taskset -c 0 -- \
        "${counting[@]}" "${options[@]}"
done

# train NAME [options...]: a `vae-dist train` run into bench/gemm-runs/NAME.
train() {
    local name=$1; shift
    echo "bench-gemm: train $name: vae-dist train $*"
    "$vae_dist" train --no-progress --out "bench/gemm-runs/$name" "$@" >"$raw/gemm_train_$name.log" 2>&1 \
        || { cat "$raw/gemm_train_$name.log" >&2; exit 1; }
}
# Determinism: the faster fp32 backend (by this run's first round), twice, bit for bit.
faster=$(python3 -c "
import json
a = json.load(open('$raw/gemm_r1t1_openblas_1.json'))['training']['samples_per_second']['median']
b = json.load(open('$raw/gemm_r1t1_onednn_1.json'))['training']['samples_per_second']['median']
print('onednn' if b > a else 'openblas')")
for copy in a b; do train "repeat_$copy" --epochs 2 --gemm "$faster" "${train_data[@]}"; done
for precision in bf16; do
    for copy in a b; do train "repeat_${precision}_$copy" --epochs 2 --precision "$precision" "${train_data[@]}"; done
done
compare() {
    local a b
    a=$(ls bench/gemm-runs/"$1"/checkpoint-epoch-*.h5 | tail -1)
    b=$(ls bench/gemm-runs/"$2"/checkpoint-epoch-*.h5 | tail -1)
    if h5diff -q "$a" "$b" /model /model && h5diff -q "$a" "$b" /optimizer /optimizer; then echo identical; else echo different; fi
}
printf '{"faster_fp32": "%s", "fp32": "%s", "bf16": "%s"}\n' "$faster" "$(compare repeat_a repeat_b)" \
    "$(compare repeat_bf16_a repeat_bf16_b)" >"$raw/gemm_determinism.json"

# Quality: 10 epochs of each precision per seed, the test -ELBO after each epoch.
for seed in "${seeds[@]}"; do
    train "quality_fp32_$seed" --epochs "$quality_epochs" --seed "$seed" --gemm "$faster" "${train_data[@]}"
    train "quality_bf16_$seed" --epochs "$quality_epochs" --seed "$seed" --precision bf16 "${train_data[@]}"
done

python3 scripts/bench_gemm_summary.py "$raw" bench/gemm-runs bench/gemm.json
