#!/bin/sh
# Synchronized vs per-rank batch norm over MPI (README "On a cluster: MPI",
# results/README.md section 6), on the MLP of wu-he-batch-mlp where batch
# norm starves at small batches; ranks oversubscribed on this machine's
# cores, one thread each.
#
#   experiments/sync-bn-mpi.sh repro [OUT]   # 4 ranks x 2: sync false / true, group norm;
#                                            # one process at batch 8 and 2; 3 seeds
#   experiments/sync-bn-mpi.sh speed [OUT]   # samples/s of 1, 2, 4 ranks, sync false / true
#
# OUT defaults to results/sync-bn-mpi. SEEDS (default "1 2 3") are the
# repro's seeds (a confirmation's fresh ones: results/sync-bn-mpi-confirm
# ran SEEDS="501 502 503 504 505"). STEPS (default 400) trims the
# training runs, SPEED_STEPS (default 300) the timed ones, SPEED_BATCH
# (default 64) their global batch.
set -eu
cd "$(dirname "$0")/.."
what=${1:-repro}
out=${2:-results/sync-bn-mpi}
normlab=${NORMLAB:-build/normlab}
config=configs/mlp-sync-bn.yaml
seeds=${SEEDS:-1 2 3}
steps=${STEPS:-400}
speed_steps=${SPEED_STEPS:-300}
speed_batch=${SPEED_BATCH:-64}
root=""
[ "$(id -u)" -eq 0 ] && root="--allow-run-as-root"
# one OpenMP thread per rank. Up to one rank per core, Open MPI polls while
# it waits (a collective costs microseconds); more ranks than cores need
# --oversubscribe, which makes a waiting rank yield its core, and each
# collective then waits for a scheduler time slice.
cores=$(nproc)
mpi() {
    ranks=$1; shift
    over=""
    [ "$ranks" -gt "$cores" ] && over="--oversubscribe"
    OMP_NUM_THREADS=1 mpirun $root $over -np "$ranks" "$normlab" "$@"
}
mkdir -p "$out"

# value of a number in a run's summary.json
field() { sed -n "s/^ *\"$2\": \([^,]*\),*$/\1/p" "$1/summary.json"; }

# "mean sd" of the lines of numbers on stdin
mean_sd() { awk '{ s += $1; q += $1 * $1; n++ } END { m = s / n; v = n > 1 ? (q - n * m * m) / (n - 1) : 0;
                   printf "%.2f %.2f\n", m, sqrt(v > 0 ? v : 0) }'; }

if [ "$what" = repro ]; then
    start=$(date +%s)
    for seed in $seeds; do
        run="run $config --quiet --force --set seed=$seed --set train.steps=$steps"
        mpi 4 $run --set model.norm.sync=false --out "$out/bn-4x2-seed$seed"
        mpi 4 $run --set model.norm.sync=true --out "$out/bn-sync-4x2-seed$seed"
        mpi 4 $run --set model.norm.type=group --out "$out/gn-4x2-seed$seed"
        "$normlab" $run --out "$out/bn-1x8-seed$seed"
        "$normlab" $run --set model.norm.type=group --out "$out/gn-1x8-seed$seed"
        # batch 2: the same samples (4x the steps), the learning rate scaled down 4x
        "$normlab" run $config --quiet --force --set seed=$seed --set train.batch_size=2 \
            --set train.steps=$((4 * steps)) --set train.optimizer.lr=0.00125 \
            --set train.eval_every=800 --set train.log_every=200 --out "$out/bn-1x2-seed$seed"
    done
    {
        echo "| run | ranks x per-rank batch | test accuracy (%), mean ± sd of $(echo $seeds | wc -w) seeds |"
        echo "|---|---|---|"
        for run in bn-4x2 bn-sync-4x2 gn-4x2 bn-1x8 gn-1x8 bn-1x2; do
            acc=$(for seed in $seeds; do field "$out/$run-seed$seed" final_test_accuracy; done |
                  awk '{ print 100 * $1 }' | mean_sd)
            first=${seeds%% *}
            ranks=$(field "$out/$run-seed$first" ranks)
            batch=$(field "$out/$run-seed$first" rank_batch_size)
            echo "| $run | $ranks x $batch | ${acc% *} ± ${acc#* } |"
        done
        echo
        echo "$steps steps at global batch 8 ($((4 * steps)) at batch 2), $(($(date +%s) - start)) s in all"
    } > "$out/accuracy.md"
    cat "$out/accuracy.md"
elif [ "$what" = speed ]; then
    {
        echo "| ranks | per-rank batch | samples/s, sync false | samples/s, sync true | sync costs |"
        echo "|---:|---:|---:|---:|---:|"
        for ranks in 1 2 4; do
            for sync in false true; do
                dir="$out/speed/r$ranks-sync$sync"
                mpi $ranks run $config --quiet --force --set train.batch_size=$speed_batch \
                    --set train.steps=$speed_steps --set train.eval_every=$speed_steps \
                    --set train.optimizer.lr=0.04 --set model.norm.sync=$sync --out "$dir" > /dev/null
            done
            a=$(field "$out/speed/r$ranks-syncfalse" samples_per_s)
            b=$(field "$out/speed/r$ranks-synctrue" samples_per_s)
            echo "| $ranks | $((speed_batch / ranks)) | ${a%.*} | ${b%.*} | $(awk "BEGIN { printf \"%+.0f%%\", 100 * ($a / $b - 1) }") |"
        done
        echo
        echo "global batch $speed_batch, $speed_steps steps, one thread per rank; load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
    } > "$out/step-time.md"
    cat "$out/step-time.md"
else
    echo "usage: experiments/sync-bn-mpi.sh repro|speed [OUT]" >&2
    exit 2
fi
