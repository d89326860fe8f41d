#!/bin/bash
# expr_vs_builtin.sh - a formula normalizer (model.norm.type expr) against the
# built-in it is, in whole `normlab run`s: batch, layer and group norm as
# their registry formulas (`normlab list --formulas`) and as themselves, on
# the CNN, the ResNet and the LM, at batch 16 and 128, one thread, the two
# sides alternated ROUNDS times. Prints, per row, the median wall time and
# peak memory (GNU time's maximum resident set) of each side and their
# ratios expr / built-in, with the spread of the wall ratio over the rounds;
# and the same formula left to the interpreter (NORMLAB_FORMULA=interpret),
# its median wall time and ratio to the built-in beside them. The formula's
# compiled objects go to a cache of this run's own (OUT_DIR/cache), so the
# first round of each shape includes its compilation.
#   experiments/bench/expr_vs_builtin.sh [OUT_DIR]
# Environment: NORMLAB (build/normlab), ROUNDS (3), STEPS (60), THREADS (1),
# ONLY (a regular expression over "arch/norm/batch" rows).
set -euo pipefail
cd "$(dirname "$0")/../.."
normlab=${NORMLAB:-build/normlab}
rounds=${ROUNDS:-3}
steps=${STEPS:-60}
threads=${THREADS:-1}
only=${ONLY:-.}
out=${1:-$(mktemp -d /tmp/nl-expr-bench.XXXXXX)}
mkdir -p "$out"
. experiments/bench/machine.sh
describe_machine "$normlab" "$threads" > "$out/machine.txt" 2>&1 || true
cc --version | head -1 >> "$out/machine.txt" 2>&1 || true
export XDG_CACHE_HOME="$out/cache"

# the formula of kind $1 on inputs of ndim $2, and its parameters
formula() { "$normlab" list --formulas | awk -F'\t' -v k="$1" -v d="$2" '$1 == k && $2 == d { print $4 }'; }
params() { "$normlab" list --formulas | awk -F'\t' -v k="$1" -v d="$2" '$1 == k && $2 == d { print $5 }'; }

# one timed run: prints "wall_s max_rss_kib"
timed() {
  local dir=$1
  shift
  rm -rf "$dir"
  /usr/bin/time -f '%e %M' -o "$dir.time" "$normlab" run "$@" --out "$dir" > "$dir.log" 2>&1 ||
    { echo "failed: $normlab run $* (see $dir.log)" >&2; exit 1; }
  tail -1 "$dir.time"
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

printf '%-24s %10s %10s %8s %12s %12s %8s %10s %8s %s\n' row builtin_s expr_s time builtin_MiB expr_MiB memory interp_s interp "time ratios (rounds)"
for arch in cnn resnet lm; do
  case $arch in
    cnn) config=configs/quickstart-cnn.yaml ndim=4 extra=() ;;
    resnet) config=configs/resnet-pre-layer.yaml ndim=4 extra=() ;;
    lm) config=configs/lm-kjv-small.yaml ndim=3 extra=() ;;
  esac
  for kind in batch layer group; do
    for batch in 16 128; do
      row="$arch/$kind/$batch"
      [[ $row =~ $only ]] || continue
      common=(--set "threads=$threads" --set "train.batch_size=$batch" --set "train.steps=$steps" ${LAYOUT:+--set model.layout=$LAYOUT}
        --set "train.eval_every=$steps" --set "train.log_every=$steps")
      [ "$kind" = group ] && common+=(--set model.norm.groups=4)
      [ "$arch" = lm ] && common+=(--set train.eval_batch_size=64)
      builtin=(--set "model.norm.type=$kind")
      expr=(--set model.norm.type=expr --set "model.norm.expr=\"$(formula "$kind" "$ndim")\""
        --set "model.norm.params=\"$(params "$kind" "$ndim")\"" --set "model.norm.name=$kind-expr")
      : > "$out/$arch-$kind-$batch.txt"
      for r in $(seq "$rounds"); do
        a=$(timed "$out/run-b" "$config" "${common[@]}" "${builtin[@]}")
        b=$(timed "$out/run-e" "$config" "${common[@]}" "${expr[@]}")
        c=$(NORMLAB_FORMULA=interpret timed "$out/run-i" "$config" "${common[@]}" "${expr[@]}")
        echo "$a $b $c" >> "$out/$arch-$kind-$batch.txt"
      done
      f="$out/$arch-$kind-$batch.txt"
      bw=$(awk '{print $1}' "$f" | median); ew=$(awk '{print $3}' "$f" | median)
      bm=$(awk '{print $2}' "$f" | median); em=$(awk '{print $4}' "$f" | median)
      iw=$(awk '{print $5}' "$f" | median)
      ratios=$(awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $3 / $1}' "$f")
      printf '%-24s %10.2f %10.2f %7.2fx %12.1f %12.1f %7.2fx %10.2f %7.2fx %s\n' "$row" "$bw" "$ew" \
        "$(echo "$ew / $bw" | bc -l)" "$(echo "$bm / 1024" | bc -l)" "$(echo "$em / 1024" | bc -l)" \
        "$(echo "$em / $bm" | bc -l)" "$iw" "$(echo "$iw / $bw" | bc -l)" "$ratios"
    done
  done
done | tee "$out/table.txt"
echo "machine and raw rounds: $out"
