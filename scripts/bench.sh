#!/usr/bin/env bash
# One run on one machine: vae-dist's training step against the machine's SGEMM ceiling,
# 1 rank vs 2 BLAS threads vs `mpirun -n 2`, and the JAX and PyTorch references on the
# same model, batch and threads; then the convolutional model against PyTorch's. Prints
# a table and writes bench/results.json.
#
#   scripts/bench.sh            # the full run: Fashion-MNIST, 10/5 epochs, a few minutes
#   scripts/bench.sh --quick    # a smoke test in about a minute (synthetic data, short runs)
#   scripts/bench.sh --gemm     # only its last section: GEMM backends and bf16 (scripts/bench-gemm.sh)
#   scripts/bench.sh --data     # only the data section: streaming against in memory (~10 minutes)
#
# The data section (scripts/bench_data.py, the full run ends with it) compares streaming
# with in-memory training on Fashion-MNIST at 1 and 2 ranks, warm and cold page cache, a
# file 4x the memory budget with peak RSS, the node's one copy under mpirun -n 2, and
# --shuffle rows; it writes bench/data/data.json.
#
# Compare ratios from ONE run: absolute numbers move with the machine's load, which the
# results record (load average at start and in every part).
set -euo pipefail
cd "$(dirname "$0")/.."

quick=0
gemm_only=0
data_only=0
for argument in "$@"; do
    case "$argument" in
        --quick) quick=1 ;;
        --gemm) gemm_only=1 ;;
        --data) data_only=1 ;;
        -h|--help) sed -n '2,17p' "$0"; exit 0 ;;
        *) echo "bench: unknown option $argument (use --quick, --gemm, --data or nothing)" >&2; exit 2 ;;
    esac
done

out=bench
raw=$out/raw
mkdir -p "$raw"
rm -f "$raw"/*.json "$raw"/*.log "$out/results.json"
load_at_start=$(cut -d' ' -f1-3 /proc/loadavg)
echo "bench: load average at start $load_at_start ($(nproc) CPUs)"

echo "bench: building release"
swift build -c release --product vae-dist >"$out/build.log" 2>&1 \
    || { tail -30 "$out/build.log"; exit 1; }
vae_dist=$(swift build -c release --show-bin-path)/vae-dist

if [ "$gemm_only" = 1 ]; then
    exec scripts/bench-gemm.sh "$vae_dist" $([ "$quick" = 1 ] && echo --quick)
fi

echo "bench: building the malloc_count shim"
shim=$PWD/$out/malloc_count.so
cc -O2 -shared -fPIC -o "$shim" scripts/malloc-count/malloc_count.c

if [ "$(id -u)" = 0 ]; then
    export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

# The data section: streaming against in memory, alternating (docs/performance.md, "Data").
data_section() {
    echo "bench: data: streaming against in memory (scripts/bench_data.py)"
    python3 scripts/bench_data.py --binary "$vae_dist" --out "$out/data" $([ "$quick" = 1 ] && echo --quick)
}
if [ "$data_only" = 1 ]; then
    data_section
    exit 0
fi

if [ "$quick" = 1 ]; then
    long=(--quick)
    short=(--quick)
    counting=(--quick)
    reference=(--epochs 2 --steps-limit 30)
    repeat=(--quick)
    repeat_reference=(--epochs 1 --steps-limit 30)
    pair=(--quick)
    pair_reference=(--epochs 1 --steps-limit 30)
else
    long=(--data fashion-mnist --epochs 10)
    short=(--data fashion-mnist --epochs 5)
    counting=(--data fashion-mnist --epochs 2)
    reference=(--epochs 5)
    repeat=(--data fashion-mnist --epochs 3 --ceiling-seconds 0)
    repeat_reference=(--epochs 3)
    # Five epochs: the median is epoch 3, the first with dormant units (a conservative pick).
    pair=(--data fashion-mnist --epochs 5 --ceiling-seconds 0)
    pair_reference=(--epochs 3)
fi

# vae-dist NAME [launcher words...] -- [bench options...]
vae_dist_bench() {
    local name=$1; shift
    local launcher=()
    while [ "$1" != "--" ]; do launcher+=("$1"); shift; done
    shift
    echo "bench: $name: ${launcher[*]} vae-dist bench $*"
    "${launcher[@]}" "$vae_dist" bench --json "$@" >"$raw/$name.json" 2>"$raw/$name.log" \
        || { cat "$raw/$name.log" >&2; exit 1; }
}

# The malloc-counting shim is preloaded only in a separate short run per configuration:
# an interposed malloc slows Open MPI's allreduce (measured at mpirun -n 2, batch 128:
# 27,500 samples/s with the shim, 38,800 without), so timings never run under it.
# counted NAME [launcher words...] -- [extra bench options...]: counts allocations and
# writes them into NAME's timed result.
counted() {
    local name=$1; shift
    local launcher=()
    while [ "$1" != "--" ]; do launcher+=("$1"); shift; done
    shift
    vae_dist_bench "$name.allocations" "${launcher[@]}" -- "${counting[@]}" --ceiling-seconds 0 "$@"
    python3 - "$raw/$name.json" "$raw/$name.allocations.json" <<'PY'
import json, sys
timed_path, counted_path = sys.argv[1], sys.argv[2]
timed, counted = json.load(open(timed_path)), json.load(open(counted_path))
def copy(timed, counted):
    for key in ("allocations",):
        if key in counted:
            timed[key] = counted[key]
    for t, c in zip(timed.get("per_rank", []), counted.get("per_rank", [])):
        for key in ("steady_state_allocations_per_step", "steady_state_allocations"):
            if key in c:
                t[key] = c[key]
copy(timed, counted)
json.dump(timed, open(timed_path, "w"))
PY
    rm -f "$raw/$name.allocations.json"
}

one_thread=(env OPENBLAS_NUM_THREADS=1 taskset -c 0)
two_threads=(env OPENBLAS_NUM_THREADS=2)
two_ranks=(mpirun -n 2 --bind-to core -x OPENBLAS_NUM_THREADS=1)
one_thread_counting=(env OPENBLAS_NUM_THREADS=1 LD_PRELOAD="$shim" taskset -c 0)
two_threads_counting=(env OPENBLAS_NUM_THREADS=2 LD_PRELOAD="$shim")
two_ranks_counting=(mpirun -n 2 --bind-to core -x OPENBLAS_NUM_THREADS=1 -x LD_PRELOAD="$shim")

# The 1-rank run first: with --data fashion-mnist it prepares ./data before any mpirun.
vae_dist_bench r1t1_b128 "${one_thread[@]}" -- "${long[@]}"
counted r1t1_b128 "${one_thread_counting[@]}" --
vae_dist_bench r1t1_b128_noftz "${one_thread[@]}" -- "${long[@]}" --no-ftz --ceiling-seconds 0
# Every unit computed: what skipping the first layer's dormant units is worth (docs/performance.md).
vae_dist_bench r1t1_b128_dense "${one_thread[@]}" -- "${long[@]}" --dormant-units compute --ceiling-seconds 0
vae_dist_bench r1t2_b128 "${two_threads[@]}" -- "${short[@]}"
counted r1t2_b128 "${two_threads_counting[@]}" --
vae_dist_bench r2t1_b128 "${two_ranks[@]}" -- "${short[@]}"
counted r2t1_b128 "${two_ranks_counting[@]}" --
vae_dist_bench r2t1_b128_allreduce "${two_ranks[@]}" -- "${short[@]}" --gradient-exchange allreduce
vae_dist_bench r1t1_b256 "${one_thread[@]}" -- "${short[@]}" --batch 256
vae_dist_bench r2t1_b256 "${two_ranks[@]}" -- "${short[@]}" --batch 256

if ! python3 -c 'import jax' 2>/dev/null; then
    echo "bench: installing jax (CPU) with pip"
    python3 -m pip install --quiet jax || echo "bench: pip install jax failed; JAX will be reported as skipped"
fi

# reference NAME script.py [options...]: the script prints one JSON object, or {"skipped": ...}.
reference_bench() {
    local name=$1 script=$2; shift 2
    echo "bench: $name: python3 $script $*"
    if ! python3 "scripts/reference/$script" "$@" >"$raw/$name.json" 2>"$raw/$name.log"; then
        echo "bench: $name failed (see $raw/$name.log); reported as skipped"
        printf '{"skipped": "failed: see %s"}\n' "$raw/$name.log" >"$raw/$name.json"
    fi
}

reference_bench jax_t1_jit bench_jax.py --threads 1 "${reference[@]}"
reference_bench jax_t1_scan bench_jax.py --threads 1 --scan "${reference[@]}"
reference_bench jax_t2_scan bench_jax.py --threads 2 --scan "${reference[@]}"
# More two-CPU runs, alternating: this VM's speed with both CPUs busy flips between a fast
# and a slow mode within seconds to minutes (docs/performance.md), so one run of each may
# compare different machines. The summary also compares the best epoch of each framework
# over all its two-CPU runs: the fast mode against the fast mode.
for round in 1 2 3; do
    vae_dist_bench "repeat${round}_vae_r2t1" "${two_ranks[@]}" -- "${repeat[@]}"
    reference_bench "repeat${round}_jax_t2_scan" bench_jax.py --threads 2 --scan "${repeat_reference[@]}"
done
reference_bench torch_t1_ftz bench_torch.py --threads 1 --ftz "${reference[@]}"
reference_bench torch_t1 bench_torch.py --threads 1 "${reference[@]}"
reference_bench torch_t2_ftz bench_torch.py --threads 2 --ftz "${reference[@]}"
# One-thread runs in alternating triples too: this VM's one-CPU speed (the references'
# included) drifts by 5-10% between runs minutes apart, so the summary also gives the
# median over rounds of each round's ratio, its runs taken within a minute.
for round in 1 2 3; do
    vae_dist_bench "pair${round}_vae_r1t1" "${one_thread[@]}" -- "${pair[@]}"
    reference_bench "pair${round}_jax_t1_scan" bench_jax.py --threads 1 --scan "${pair_reference[@]}"
    reference_bench "pair${round}_torch_t1_ftz" bench_torch.py --threads 1 --ftz "${pair_reference[@]}"
done

# The convolutional model (docs/performance.md, "The convolutional model"): one rank
# against PyTorch's conv VAE of the same shape in alternating rounds (its convolutions
# are oneDNN's), two ranks against one, and the allocations of a steady-state step.
if [ "$quick" = 1 ]; then
    conv=(--architecture conv --quick)
    conv_reference=(--epochs 1 --steps-limit 20)
else
    conv=(--architecture conv --data fashion-mnist --epochs 3)
    conv_reference=(--epochs 1)
fi
vae_dist_bench conv_r1t1 "${one_thread[@]}" -- "${conv[@]}"
counted conv_r1t1 "${one_thread_counting[@]}" -- --architecture conv
vae_dist_bench conv_r2t1 "${two_ranks[@]}" -- "${conv[@]}" --ceiling-seconds 0
counted conv_r2t1 "${two_ranks_counting[@]}" -- --architecture conv
for round in 1 2 3; do
    vae_dist_bench "conv_pair${round}_vae_r1t1" "${one_thread[@]}" -- "${conv[@]}" --ceiling-seconds 0
    reference_bench "conv_pair${round}_torch_t1_ftz" bench_torch_conv.py --threads 1 --ftz "${conv_reference[@]}"
done

# What the same-bits guarantee costs (docs/performance.md): the reproducible step, the
# default, against the fast one (--no-reproducible), alternating, at one rank and at two.
for round in 1 2 3; do
    vae_dist_bench "cost${round}_fast_r1t1" "${one_thread[@]}" -- "${pair[@]}" --no-reproducible
    vae_dist_bench "cost${round}_same_r1t1" "${one_thread[@]}" -- "${pair[@]}"
    vae_dist_bench "cost${round}_fast_r2t1" "${two_ranks[@]}" -- "${pair[@]}" --no-reproducible
    vae_dist_bench "cost${round}_same_r2t1" "${two_ranks[@]}" -- "${pair[@]}"
done

# GEMM backends and bf16 (issue 22): its own runs, alternating, and its own summary.
scripts/bench-gemm.sh "$vae_dist" $([ "$quick" = 1 ] && echo --quick)

echo "bench: summarising into $out/results.json"
python3 scripts/bench_summary.py "$raw" "$out/results.json" --load-at-start "$load_at_start" \
    --mode "$([ "$quick" = 1 ] && echo quick || echo full)"

data_section
