#!/bin/bash
# The in-cell normalized lstm's training step against PyTorch's, 1 thread,
# CPU-clock timing, ROUNDS interleaved rounds (normlab then PyTorch), batch
# norm apart since a batch of 1 has no batch statistics.
# usage: NORMLAB=path/to/normlab [FIRST=1] [ROUNDS=2] bash run.sh OUT_DIR
# (FIRST > 1 adds rounds FIRST..ROUNDS to a directory's earlier ones)
set -eu
root=$(cd "$(dirname "$0")/../../.." && pwd)
out=${1:?usage: run.sh OUT_DIR}
nl=${NORMLAB:-$root/build/normlab}
common=(--training --model lstm --threads 1 --cpu-clock --hidden 128,256,512 --reps 3 --warmup 3)
[ "${FIRST:-1}" -gt 1 ] || : > "$out/load.txt"
for round in $(seq "${FIRST:-1}" "${ROUNDS:-2}"); do
  echo "round $round start: $(uptime)" | tee -a "$out/load.txt"
  "$nl" bench "${common[@]}" --norm none,layer,rms --batch 1,8,64 --csv "$out/normlab-$round.csv" \
    > "$out/normlab-$round.txt"
  "$nl" bench "${common[@]}" --norm batch --batch 8,64 --csv "$out/normlab-bn-$round.csv" \
    >> "$out/normlab-$round.txt"
  rm -f "$out/torch-$round.csv" "$out/torch-bn-$round.csv"
  /usr/bin/python3 "$root/experiments/bench/torch_bench.py" "${common[@]}" --norm none,layer,rms \
    --batch 1,8,64 --csv "$out/torch-$round.csv" > "$out/torch-$round.txt"
  /usr/bin/python3 "$root/experiments/bench/torch_bench.py" "${common[@]}" --norm batch \
    --batch 8,64 --csv "$out/torch-bn-$round.csv" >> "$out/torch-$round.txt"
  echo "round $round end: $(uptime)" | tee -a "$out/load.txt"
done
