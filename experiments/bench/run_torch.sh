#!/bin/bash
# run_torch.sh - PyTorch's side of the comparison under each threading setting,
# one process per setting (the environment must be set before `import torch`),
# one after another (2 shared cores: never run two measurements at once).
#
# usage: bash experiments/bench/run_torch.sh OUT.csv [torch_bench.py options...]
#   e.g. bash experiments/bench/run_torch.sh results/bench/torch.csv
#        bash experiments/bench/run_torch.sh /tmp/t.csv --quick --model mlp --batch 8
# SETTINGS="default ob1" restricts the settings (default: all six below).
# PYTHON: the PyTorch (default: the pinned peer .venv-peer/bin/python where it
# is installed, experiments/bench/requirements-peer.txt; else Debian's 1.13,
# /usr/bin/python3, eager only: the history rows).
# COMPILE: torch_bench.py --compile modes run after the eager pass of each
# setting in COMPILE_SETTINGS (default "default"), the training steps only,
# as settings SETTING+MODE, so compare.py's best setting is the faster of
# eager and compiled (default with the peer: "compile max-autotune"; with
# /usr/bin/python3 none). Give --training or nothing as options with COMPILE.
#
# settings (name: environment, oneDNN):
#   default            nothing set; oneDNN (mkldnn) on
#   ob1                OPENBLAS_NUM_THREADS=1: OpenBLAS single-threaded, so only
#                      PyTorch's OpenMP pool runs (its sgemm then uses one core)
#   passive            OMP_WAIT_POLICY=passive: idle OpenMP threads sleep instead
#                      of spinning against OpenBLAS's pthread pool
#   *+nomkldnn         the same with torch.backends.mkldnn.enabled = False
#                      (convolutions through im2col + BLAS instead of oneDNN)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: run_torch.sh OUT.csv [torch_bench.py options]}
shift
peer_py="$here/../../.venv-peer/bin/python"
if [ -n "${PYTHON:-}" ]; then py=$PYTHON
elif [ -x "$peer_py" ]; then py=$peer_py
else py=/usr/bin/python3
fi
if [ "$py" = "$peer_py" ]; then compiles=${COMPILE-"compile max-autotune"}
else compiles=${COMPILE-}
fi
compile_settings=" ${COMPILE_SETTINGS:-default} "
mkdir -p "$(dirname "$out")"
rm -f "$out"
settings=${SETTINGS:-"default ob1 passive default+nomkldnn ob1+nomkldnn passive+nomkldnn"}
for s in $settings; do
  base=${s%+nomkldnn}
  flags=()
  [ "$base" != "$s" ] && flags+=(--no-mkldnn)
  case $base in
    default) envs=(NORMLAB_BENCH_SETTING=default) ;;
    ob1) envs=(OPENBLAS_NUM_THREADS=1) ;;
    passive) envs=(OMP_WAIT_POLICY=passive) ;;
    *) echo "run_torch.sh: unknown setting '$s'" >&2; exit 2 ;;
  esac
  echo "== setting $s: ${envs[*]} ${flags[*]:-}" >&2
  env "${envs[@]}" "$py" "$here/torch_bench.py" --setting "$s" "${flags[@]}" --csv "$out" "$@"
  case $compile_settings in *" $s "*) ;; *) continue ;; esac
  for c in $compiles; do
    echo "== setting $s+$c: ${envs[*]} ${flags[*]:-} --compile $c" >&2
    env "${envs[@]}" "$py" "$here/torch_bench.py" --setting "$s" "${flags[@]}" --compile "$c" \
      --csv "$out" "$@"
  done
done
