#!/bin/bash
# Kill and resume on the emulated GPU with the dataset resident on the device
# (train.device_data: on): a run killed with SIGKILL between checkpoints and
# started again with the same command must say it resumes and must end as
# the same run uninterrupted: the same metrics.csv rows (elapsed_s aside) and
# the same results in summary.json. A CNN with batch norm (cumulative running
# statistics) and AdamW with clipping, run directly and with its step
# recorded as a CUDA graph, and an LM with batch norm over its tokens (token
# windows gathered on the device). Needs the `normlab` that run.sh builds:
#   tests/cuda_emu/run.sh [build-dir] && tests/cuda_emu/resume_check.sh [build-dir]
# About five minutes on 2 cores (the emulator runs a GPU thread as a fiber).
set -e
B=${1:-/tmp/normlab-cuda-emu}
N="$B/normlab"
[ -x "$N" ] || { echo "resume_check.sh: no $N; run tests/cuda_emu/run.sh $B first" >&2; exit 2; }
W=$(mktemp -d /tmp/normlab-emu-resume-XXXXXX)

cat > "$W/image.yaml" <<'YAML'
data: {dataset: synthetic, shape: [1, 12, 12], classes: 4, train_size: 512, test_size: 128}
model: {arch: cnn, widths: [8, 16], norm: {type: batch, momentum: cumulative}}
train:
  batch_size: 16
  steps: 300
  optimizer: {type: adamw, lr: 0.003}
  clip_grad_norm: 1.0
  eval_every: 100
  log_every: 10
  checkpoint_every: 25
  device_data: on
device: cuda
YAML
cat > "$W/tokens.yaml" <<'YAML'
data: {dataset: synthetic_text, markov: {vocab: 8, length: 20000}}
model: {arch: lm, d_model: 32, heads: 2, layers: 2, context: 32, norm: {type: batch}}
train:
  batch_size: 16
  steps: 160
  optimizer: {type: adamw, lr: 0.003}
  clip_grad_norm: 1.0
  eval_every: 80
  log_every: 10
  checkpoint_every: 20
  device_data: on
device: cuda
YAML

# the last step metrics.csv has logged (0 before the first row)
last_step() { tail -n 1 "$1/metrics.csv" 2>/dev/null | cut -d, -f1 | grep -E '^[0-9]+$' || echo 0; }
# summary.json's results, without what depends on the clock or the attempt
results() { tr ',' '\n' < "$1/summary.json" | grep -E '"(status|steps|final_|best_|test_)'; }
# metrics.csv without its elapsed_s column, found by name
rows() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "elapsed_s") skip = i }
             { line = ""; for (i = 1; i <= NF; i++) if (i != skip) line = line (line == "" ? "" : ",") $i; print line }' \
        "$1/metrics.csv"
}

check() { # name config kill-after-step [--set ...]
    local name=$1 config=$2 at=$3
    shift 3
    "$N" run "$config" --out "$W/$name-whole" --quiet "$@" > /dev/null 2>&1
    "$N" run "$config" --out "$W/$name" --quiet "$@" > "$W/$name-killed.txt" 2>&1 &
    local pid=$! t0=$SECONDS
    while ! { [ -f "$W/$name/checkpoint.nlck" ] && [ "$(last_step "$W/$name")" -ge "$at" ]; }; do
        if ! kill -0 "$pid" 2> /dev/null || [ $((SECONDS - t0)) -gt 600 ]; then
            echo "resume_check.sh: $name ended or stalled before step $at ($W)" >&2
            exit 1
        fi
        sleep 0.05
    done
    kill -KILL "$pid"
    wait "$pid" 2> /dev/null || true
    grep -q '"status": "ok"' "$W/$name/summary.json" 2> /dev/null &&
        { echo "resume_check.sh: $name finished before the kill ($W)" >&2; exit 1; }
    local killed_at
    killed_at=$(last_step "$W/$name")
    "$N" run "$config" --out "$W/$name" "$@" > "$W/$name-resumed.txt" 2>&1
    grep -q "resuming" "$W/$name-resumed.txt" ||
        { echo "resume_check.sh: $name did not resume ($W/$name-resumed.txt)" >&2; exit 1; }
    cmp -s <(rows "$W/$name-whole") <(rows "$W/$name") ||
        { echo "resume_check.sh: $name, killed after step $killed_at, logs other rows than uninterrupted ($W)" >&2; exit 1; }
    cmp -s <(results "$W/$name-whole") <(results "$W/$name") ||
        { echo "resume_check.sh: $name, killed after step $killed_at, ends with other results ($W)" >&2; exit 1; }
    [ -n "$(results "$W/$name")" ] || { echo "resume_check.sh: $name has no results ($W)" >&2; exit 1; }
    echo "resume_check.sh: $name killed after step $killed_at, resumed, the same rows and results"
}

check image "$W/image.yaml" 120
check image-graph "$W/image.yaml" 120 --set train.cuda_graph=auto
grep -q '"replayed_steps": [1-9]' "$W/image-graph/summary.json" ||
    { echo "resume_check.sh: image-graph replayed no step ($W)" >&2; exit 1; }
check tokens "$W/tokens.yaml" 70
rm -rf "$W"
