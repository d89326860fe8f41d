#!/bin/bash
# expr_layers.sh - a formula normalizer's layers against the built-in's, layer
# by layer: batch, layer and group norm as their registry formulas (`normlab
# list --formulas`), compiled to native code and interpreted
# (NORMLAB_FORMULA=interpret), and the built-in, on the CNN, the ResNet and
# the LM at batch 16 and 128, one thread, timed by build/bench_layer_times
# inside real training steps by the thread's CPU clock (what other processes
# take is left out; where the built-in's ReLU is fused into the pooling
# after it, the formula takes it into its own layer). Prints, per row, the normalizer layers' summed median
# forward and backward microseconds on each side and the ratios to the
# built-in. The compiled objects go to a cache of this run's own, filled by a
# warm-up run first (its compile is not timed here: expr_vs_builtin.sh's whole
# runs include it).
#   experiments/bench/expr_layers.sh [OUT_DIR]
# Environment: STEPS (6), ONLY (a regular expression over "arch/norm/batch").
set -euo pipefail
cd "$(dirname "$0")/../.."
cmake --build build --target bench_layer_times > /dev/null
normlab=build/normlab
times=build/bench_layer_times
steps=${STEPS:-6}
only=${ONLY:-.}
out=${1:-$(mktemp -d /tmp/nl-expr-layers.XXXXXX)}
mkdir -p "$out"
. experiments/bench/machine.sh
describe_machine "$normlab" 1 > "$out/machine.txt" 2>&1 || true
cc --version | head -1 >> "$out/machine.txt" 2>&1 || true
export XDG_CACHE_HOME="$out/cache"

formula() { "$normlab" list --formulas | awk -F'\t' -v k="$1" -v d="$2" '$1 == k && $2 == d { print $4 }'; }
params() { "$normlab" list --formulas | awk -F'\t' -v k="$1" -v d="$2" '$1 == k && $2 == d { print $5 }'; }

# the normalizer layers' summed forward and backward medians: "fwd bwd"
layers() {
  "$times" "$@" --threads 1 --steps "$steps" --cpu-clock 2> /dev/null |
    awk -F, -v field="$field" -v pattern="$pattern" '!/^#/ && NR > 1 && $field ~ pattern { f += $3; b += $4 }
      END { printf "%.0f %.0f\n", f, b }'
}

printf '%-16s %9s %9s %9s %9s %9s %9s %8s %8s %8s %8s\n' row builtin_f builtin_b expr_f expr_b interp_f interp_b \
  expr_f/b expr_b/b interp_f/b interp_b/b
for arch in cnn resnet lm; do
  case $arch in
    cnn) config=configs/quickstart-cnn.yaml ndim=4 ;;
    resnet) config=configs/resnet-pre-layer.yaml ndim=4 ;;
    lm) config=configs/lm-kjv-small.yaml ndim=3 ;;
  esac
  for kind in batch layer group; do
    for batch in 16 128; do
      row="$arch/$kind/$batch"
      [[ $row =~ $only ]] || continue
      common=("$config" --batch "$batch")
      [ "$kind" = group ] && common+=(--set model.norm.groups=4)
      expr=(--set model.norm.type=expr --set "model.norm.expr=\"$(formula "$kind" "$ndim")\""
        --set "model.norm.params=\"$(params "$kind" "$ndim")\"")
      # the built-in's layers by name (a normalizer is named norm...), the
      # formula's by kind
      field=1 pattern="norm"
      b=$(layers "${common[@]}" --set "model.norm.type=$kind")
      field=2 pattern="^expr$"
      layers "${common[@]}" "${expr[@]}" > /dev/null # the warm-up: compiles into the cache
      e=$(layers "${common[@]}" "${expr[@]}")
      i=$(NORMLAB_FORMULA=interpret layers "${common[@]}" "${expr[@]}")
      echo "$row $b $e $i" >> "$out/raw.txt"
      echo "$row $b $e $i" | awk '{ printf "%-16s %9d %9d %9d %9d %9d %9d %7.2fx %7.2fx %7.2fx %7.2fx\n",
        $1, $2, $3, $4, $5, $6, $7, $4 / $2, $5 / $3, $6 / $2, $7 / $3 }'
    done
  done
done | tee "$out/table.txt"
echo "machine and raw rows: $out"
