#!/usr/bin/env bash
# Shows that the streaming reader keeps a process's memory bounded by its
# budget, whatever the file size: writes a float32 data file several times
# larger than the budget, reads every row once through the streaming reader
# (`vae-dist check --reading streaming`), and reports the reader's high-water
# mark and the process's peak resident memory (VmHWM), next to a run on a tiny
# file (the baseline: Swift runtime, Foundation, libhdf5). Then it TRAINS on
# the large file with the same budget (one epoch, streaming) and reports that run's peak RSS from
# /usr/bin/time or the kernel's accounting.
#
# Environment: ROWS (200000), FEATURES (784), BUDGET (64M), WORK_DIR
# (/tmp/vae-dist-streaming), COMPRESSION (gzip level, 1), BINARY (default: a
# release build of vae-dist).
set -euo pipefail
cd "$(dirname "$0")/.."

rows=${ROWS:-200000}
features=${FEATURES:-784}
budget=${BUDGET:-64M}
work=${WORK_DIR:-/tmp/vae-dist-streaming}
mkdir -p "$work"

if [ -z "${BINARY:-}" ]; then
  echo "streaming-memory: building vae-dist (release)"
  swift build -c release --product vae-dist
  BINARY="$(swift build -c release --show-bin-path)/vae-dist"
fi

data="$work/uniform-${rows}x${features}.h5"
if [ ! -f "$data" ]; then
  echo "streaming-memory: writing $rows x $features float32 uniform [0, 1) values"
  python3 - "$work/uniform.npy" "$rows" "$features" <<'PY'
import sys, numpy as np
path, rows, features = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, features))
rng = np.random.default_rng(0)
for start in range(0, rows, 10000):
    stop = min(rows, start + 10000)
    out[start:stop] = rng.random((stop - start, features), dtype=np.float32)
out.flush()
PY
  "$BINARY" prepare npy "$work/uniform.npy" --output "$data" --compression-level "${COMPRESSION:-1}"
  rm -f "$work/uniform.npy"
else
  echo "streaming-memory: reusing $data"
fi

tiny="$work/tiny.h5"
python3 - "$work/tiny.npy" <<'PY'
import sys, numpy as np
np.save(sys.argv[1], np.full((10, 784), 0.5, dtype=np.float32))
PY
"$BINARY" prepare npy "$work/tiny.npy" --output "$tiny" >/dev/null

echo "streaming-memory: baseline (10 rows, in memory)"
"$BINARY" check "$tiny" --reading memory | sed 's/^/  /'
echo "streaming-memory: $(du -h "$data" | cut -f1) on disk, streaming with a budget of $budget"
"$BINARY" check "$data" --reading streaming --memory-budget "$budget" --batch 128 --bernoulli | sed 's/^/  /'

echo "streaming-memory: training one epoch on $(du -h "$data" | cut -f1) with --reading streaming --memory-budget $budget"
run="$work/train-run"
rm -rf "$run"
peak_file="$work/train-peak.txt"
# GNU time's %M is the peak resident set in KiB.
if [ -x /usr/bin/time ]; then
  /usr/bin/time -f "%M" -o "$peak_file" "$BINARY" train --data "$data" --out "$run" --epochs 1 \
    --reading streaming --memory-budget "$budget" --no-progress | sed 's/^/  /'
  echo "streaming-memory: training peak RSS $(( $(tail -1 "$peak_file") / 1024 )) MiB with a $budget data budget" \
       "for a $(du -h "$data" | cut -f1) file"
else
  # No GNU time: sample the process's own high-water mark while it runs.
  "$BINARY" train --data "$data" --out "$run" --epochs 1 --reading streaming --memory-budget "$budget" \
    --no-progress > "$work/train.log" &
  pid=$!
  peak=0
  while kill -0 "$pid" 2>/dev/null; do
    rss=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)
    if [ -n "$rss" ] && [ "$rss" -gt "$peak" ]; then peak=$rss; fi
    sleep 0.2
  done
  wait "$pid"
  sed 's/^/  /' "$work/train.log"
  echo "streaming-memory: training peak RSS about $((peak / 1024)) MiB with a $budget data budget (sampled VmHWM)"
fi
