#!/bin/sh
# Issue 45, reproduction 3 (results/README.md): the final models of
# experiments/rnn-length.yaml (plain, LN- and BN-LSTM char LMs trained at
# T = 32) evaluated with `normlab eval` at other sequence lengths and batch
# sizes, then tabulated. Run the sweep first, from the repository root:
#
#   nice build/normlab sweep experiments/rnn-length.yaml -j 2
#   experiments/rnn-length.sh [OUT]      # OUT defaults to results/rnn-length
#
# Each run gets the records (RUN/eval/NAME.json; an existing one is kept,
# so the script continues where it stopped):
#   t32, t64, t128     running statistics, context T, 2T, 4T (eval batch 64)
#   t32-b1             running statistics, batch 1
#   bs2, bs4, bs16     each batch's own statistics, batch 2, 4, 16 (16 is
#                      the training batch), context T
#   bs4-t128           batch statistics, batch 4, context 4T
# Batch statistics of one sample are refused for the BN-LSTM (x - mean is
# 0), so batch 1 is the running statistics' alone. OUT/evals.md is the
# table: test loss per character (nats), mean ± sd of the seeds.
set -eu
cd "$(dirname "$0")/.."
out=${1:-results/rnn-length}
normlab=${NORMLAB:-build/normlab}
[ -d "$out/runs" ] || { echo "no $out/runs: run the sweep first" >&2; exit 2; }

evaluate() { # RUN NAME ARGS...
    run=$1; name=$2; shift 2
    [ -f "$run/eval/$name.json" ] || "$normlab" eval "$run" --name "$name" --threads 1 "$@" > /dev/null
}

start=$(date +%s)
for run in "$out"/runs/*/; do
    run=${run%/}
    evaluate "$run" t32
    evaluate "$run" t64 --context 64
    evaluate "$run" t128 --context 128
    evaluate "$run" t32-b1 --batch 1
    evaluate "$run" bs2 --batch-stats --batch 2
    evaluate "$run" bs4 --batch-stats --batch 4
    evaluate "$run" bs16 --batch-stats --batch 16
    evaluate "$run" bs4-t128 --batch-stats --batch 4 --context 128
done

# a number of a record
field() { sed -n "s/^ *\"$2\": \([^,]*\),*$/\1/p" "$1"; }
# "mean sd" of the lines of numbers on stdin
mean_sd() { awk '{ s += $1; q += $1 * $1; n++ } END { m = s / n; v = n > 1 ? (q - n * m * m) / (n - 1) : 0;
                   printf "%.3f ± %.3f\n", m, sqrt(v > 0 ? v : 0) }'; }
records="t32 t64 t128 t32-b1 bs2 bs4 bs16 bs4-t128"
{
    echo "Test loss per character (nats), mean ± sd of $(ls -d "$out"/runs/type-none_seed-* | wc -l) seeds; trained at T = 32, batch 16."
    echo
    echo "| LSTM | T (running stats) | 2T | 4T | T, batch 1 | T, batch stats, batch 2 | batch 4 | batch 16 | 4T, batch stats, batch 4 |"
    echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
    # the LSTMs this sweep trained (a confirmation keeps only some), in the table's order
    for norm in none layer batch; do
        ls -d "$out"/runs/type-"$norm"_seed-* > /dev/null 2>&1 || continue
        row="| $norm |"
        for rec in $records; do
            row="$row $(for f in "$out"/runs/type-${norm}_seed-*/eval/$rec.json; do field "$f" loss; done | mean_sd) |"
        done
        echo "$row"
    done
    echo
    echo "Evaluations: $(($(date +%s) - start)) s (records already there are not redone)."
} > "$out/evals.md"
cat "$out/evals.md"
