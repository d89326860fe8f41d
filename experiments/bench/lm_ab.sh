#!/bin/bash
# lm_ab.sh - two normlab binaries' LM training step, alternated run by run,
# so that a change in a shared host's load falls on both alike; the load
# average before each run goes beside its result.
#   tokens/s: `normlab bench --model lm` (wall clock, BATCH windows, THREADS)
#   cpu: user+system seconds of a fixed `normlab run` of configs/lm-synthetic.yaml
#        (1 thread, CPU_STEPS steps of BATCH windows): the CPU time leaves out
#        what the host gave to other processes
#
# usage: bash experiments/bench/lm_ab.sh OUT_DIR BIN_A BIN_B
#   ROUNDS (default 4), BATCH (64), THREADS (2), NORM (layer), CPU_ROUNDS (2), CPU_STEPS (12)
set -eu
root=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:?usage: lm_ab.sh OUT_DIR BIN_A BIN_B}
a=${2:?}
b=${3:?}
mkdir -p "$out"
bench=$out/ab-tokens.csv
cpu=$out/ab-cpu.csv
echo "round,binary,tokens_per_s,ms_per_step,load1,load5" > "$bench"
for round in $(seq 1 "${ROUNDS:-4}"); do
  for bin in "$a" "$b"; do
    read -r l1 l5 _ < /proc/loadavg
    row=$("$bin" bench --model lm --norm "${NORM:-layer}" --batch "${BATCH:-64}" \
      --threads "${THREADS:-2}" --reps 3 --warmup 1 | awk -v n="${NORM:-layer}" '$1 == n {print $3 "," $5}')
    echo "$round,$bin,$row,$l1,$l5" | tee -a "$bench"
  done
done
echo "round,binary,user_s,system_s,wall_s,load1,load5" > "$cpu"
for round in $(seq 1 "${CPU_ROUNDS:-2}"); do
  for bin in "$a" "$b"; do
    run=$(mktemp -d)
    read -r l1 l5 _ < /proc/loadavg
    /usr/bin/time -f "%U,%S,%e" -o "$run/time" "$bin" run "$root/configs/lm-synthetic.yaml" \
      --quiet --threads 1 --out "$run/r" --set "model.norm.type=${NORM:-layer}" \
      --set "train.batch_size=${BATCH:-64}" --set "train.steps=${CPU_STEPS:-12}" \
      --set train.eval_every=100000 --set train.eval_batch_size=8 > /dev/null
    echo "$round,$bin,$(cat "$run/time"),$l1,$l5" | tee -a "$cpu"
    rm -rf "$run"
  done
done
