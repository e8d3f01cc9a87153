#!/bin/bash
# vae-dist on PBS Pro / Torque: one MPI rank per core, checkpoint-and-stop before the walltime.
#   qsub cluster/pbs.sh                                       # defaults below (50 epochs)
#   qsub -v VAE_DIST_ARGS="--epochs 200 --batch 4096" cluster/pbs.sh   # more `vae-dist train` options
#   qsub -l select=4:ncpus=32:mpiprocs=32 -v VAE_DIST_RUN_DIR=runs/big,VAE_DIST_ARGS="--epochs 200" cluster/pbs.sh
# The script's own arguments go to `vae-dist train` too (Torque: qsub -F "--epochs 200" cluster/pbs.sh;
# PBS Pro reads no directives from a script given arguments, so use VAE_DIST_ARGS there).
# Torque: replace the select line with  #PBS -l nodes=1:ppn=32
# See cluster/README.md for the outputs, exit codes and how a run resumes.
#PBS -N vae-dist
# Most sites want an account and a queue: remove one '#' from these lines and fill them in.
##PBS -A PROJECT
##PBS -q QUEUE
#PBS -l select=1:ncpus=32:mpiprocs=32
#PBS -l walltime=04:00:00
#PBS -r y
#PBS -j oe
# -r y: the job is rerunnable: after preemption or a node failure PBS may run it again.

set -euo pipefail

VAE_DIST=${VAE_DIST:-vae-dist}
RUN_DIR=${VAE_DIST_RUN_DIR:-runs/pbs-${PBS_JOBID:-local}}
DATA=${VAE_DIST_DATA:-}
ARGS=${VAE_DIST_ARGS-}                   # more `vae-dist train` options (before the script's arguments)
# PBS sends no warning before the walltime: stop this many seconds after the start
# (e.g. walltime minus 5 minutes) to leave time for the checkpoint. Empty: no timer.
STOP_AFTER=${VAE_DIST_STOP_AFTER:-}
NODEFILE=${PBS_NODEFILE:?PBS_NODEFILE is not set: run this script with qsub}
NRANKS=$(wc -l < "$NODEFILE")   # one line per MPI slot (mpiprocs)

# The software vae-dist was built with, if your site provides it as modules, e.g.:
# module load openmpi hdf5 openblas

export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1
cd "${PBS_O_WORKDIR:-.}"

# In the job log, rank 0 writes a progress line every 60 s (loss, samples/s, time left).
train=("$VAE_DIST" train --out "$RUN_DIR" --progress lines --progress-interval 60)
if [[ -n $DATA ]]; then train+=(--data "$DATA"); fi
read -r -a extra <<< "$ARGS"
train+=("${extra[@]}" "$@")              # the script's arguments (Torque: qsub -F)
if [[ -z $ARGS && $# -eq 0 ]]; then train+=(--epochs 50); fi
if compgen -G "$RUN_DIR/checkpoint-epoch-*.h5" > /dev/null; then
    echo "vae-dist job: $RUN_DIR has a checkpoint: resuming"
    train+=(--resume latest)
elif [[ -e $RUN_DIR/metrics.jsonl ]]; then
    mv "$RUN_DIR/metrics.jsonl" "$RUN_DIR/metrics.jsonl.attempt-$(date +%s)"
fi
launch=(mpirun -n "$NRANKS" --hostfile "$NODEFILE" --map-by core --bind-to core)
if [[ -n ${VAE_DIST_MPIRUN_ARGS:-} ]]; then read -r -a more <<< "$VAE_DIST_MPIRUN_ARGS"; launch+=("${more[@]}"); fi

# qdel, preemption and the walltime send TERM: pass USR1 to mpirun, which forwards it to
# every rank (mpirun turns a TERM of its own into "kill the job within a second").
forward() {
    echo "vae-dist job: $1 received: asking the ranks to checkpoint and stop"
    kill -USR1 "$pid" 2> /dev/null || true
}
trap 'forward TERM' TERM
trap 'forward USR1' USR1

echo "vae-dist job: ${launch[*]} ${train[*]}"
"${launch[@]}" "${train[@]}" &
pid=$!
if [[ -n $STOP_AFTER ]]; then
    ( sleep "$STOP_AFTER" && kill -USR1 "$pid" 2> /dev/null ) &
    timer=$!
fi
status=0
wait "$pid" || status=$?
while kill -0 "$pid" 2> /dev/null; do
    status=0
    wait "$pid" || status=$?
done
if (( status > 128 )); then
    again=0
    wait "$pid" || again=$?
    (( again == 127 )) || status=$again
fi
if [[ -n ${timer:-} ]]; then kill "$timer" 2> /dev/null || true; fi

case $status in
    0) echo "vae-dist job: training finished: $RUN_DIR" ;;
    75) echo "vae-dist job: stopped with a checkpoint in $RUN_DIR (exit 75: resume me): qsub the same script again" ;;
    *) echo "vae-dist job: training failed with exit status $status (see the vae-dist: error: line above)" >&2 ;;
esac
exit "$status"
