#!/bin/bash
# A small sweep on the emulated GPU through the command line, its runs as
# processes and as threads of one process (--one-process), with the
# training step recorded as a CUDA graph: the runs must log the same rows
# either way and replay every step. Needs the `normlab` that run.sh builds:
#   tests/cuda_emu/run.sh [build-dir] && tests/cuda_emu/sweep_check.sh [build-dir]
set -e
B=${1:-/tmp/normlab-cuda-emu}
N="$B/normlab"
[ -x "$N" ] || { echo "sweep_check.sh: no $N; run tests/cuda_emu/run.sh $B first" >&2; exit 2; }
W=$(mktemp -d /tmp/normlab-emu-sweep-XXXXXX)
cat > "$W/exp.yaml" <<'YAML'
name: emu-sweep
base:
  data: {dataset: synthetic, train_size: 256, test_size: 64}
  model: {arch: mlp, widths: [16]}
  train: {batch_size: 8, steps: 24, eval_every: 12, log_every: 4, cuda_graph: auto}
  device: cuda
grid:
  model.norm.type: [none, batch, layer]
  seed: [1, 2]
YAML
"$N" sweep "$W/exp.yaml" --out "$W/processes" -j 2 > /dev/null 2>&1
"$N" sweep "$W/exp.yaml" --out "$W/threads" -j 3 --one-process > /dev/null 2>&1
runs=0
for d in "$W"/processes/runs/*/; do
    run=$(basename "$d")
    # metrics.csv without elapsed_s, the last column
    if ! cmp -s <(sed 's/,[^,]*$//' "$d/metrics.csv") <(sed 's/,[^,]*$//' "$W/threads/runs/$run/metrics.csv"); then
        echo "sweep_check.sh: $run logs other rows as a thread than as a process ($W)" >&2
        exit 1
    fi
    for mode in processes threads; do
        if ! grep -q '"replayed_steps": 24,' "$W/$mode/runs/$run/summary.json"; then
            echo "sweep_check.sh: $run ($mode) did not replay its 24 steps ($W)" >&2
            exit 1
        fi
    done
    runs=$((runs + 1))
done
[ "$runs" = 6 ] || { echo "sweep_check.sh: $runs runs, want 6 ($W)" >&2; exit 1; }
rm -rf "$W"
echo "sweep_check.sh: $runs runs on the emulated GPU, the same rows as processes and as threads, every step replayed"
