#!/usr/bin/env bash
# The shortest path to a trained model: set up the machine, build vae-dist
# (release), and train the default model (784-400-20, Bernoulli, Adam 1e-3,
# global batch 128, 10 epochs) on Fashion-MNIST with one MPI rank per core.
#
# It also links vae-dist onto PATH (scripts/install.sh) and points runs/latest at the new
# run directory, so README's commands work as written afterwards.
#
#   scripts/run.sh                 # run directory runs/default-<date>, also runs/latest
#   scripts/run.sh --epochs 2      # extra options go to `vae-dist train`
#   VAE_DIST_RANKS=1 scripts/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

echo "run: setting up system packages"
scripts/setup.sh

echo "run: building vae-dist (release)"
swift build -c release --product vae-dist
binary="$(swift build -c release --show-bin-path)/vae-dist"
scripts/install.sh

ranks="${VAE_DIST_RANKS:-$(nproc)}"
run_dir="runs/default-$(date +%Y%m%d-%H%M%S)"

# Prepare the default data once, before the ranks start.
"$binary" prepare fashion-mnist

if [ "$(id -u)" -eq 0 ]; then
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# One BLAS thread per rank: the ranks already fill the cores.
export OPENBLAS_NUM_THREADS=1

echo "run: mpirun -n $ranks vae-dist train --out $run_dir $*"
mpirun -n "$ranks" --bind-to none "$binary" train --out "$run_dir" "$@"

ln -sfn "$(basename "$run_dir")" runs/latest
echo "run: done. The run directory is $run_dir (also runs/latest):"
ls -l "$run_dir"
echo "run: next: vae-dist eval --checkpoint runs/latest; vae-dist sample --checkpoint runs/latest --out samples.png --scale 3"
