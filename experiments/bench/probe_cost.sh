#!/bin/sh
# What the probes cost a real run: the same config run with no probe and
# with every probe that only observes on (gradient norms, weight
# statistics, the variance shift, signal propagation, the landscape probe,
# an activation trace), alternated ROUNDS times; per run the wall time, the
# process's CPU time (user + system, steadier than wall on a shared
# machine) and its peak resident memory, from GNU time. Both sides must
# log the same metrics.csv (times aside): the probes only observe.
#   experiments/bench/probe_cost.sh [CONFIG] [ROUNDS] [LANDSCAPE_EVERY]
set -eu
config=${1:-configs/quickstart-cnn.yaml}
rounds=${2:-3}
every=${3:-20}
normlab=${NORMLAB:-build/normlab}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
probes="--set train.log.grad_norms=true --set train.log.weight_stats=true
 --set train.log.variance_shift=true --set train.log.signal_propagation=true
 --set train.log.landscape.every=$every --set train.trace.activation=conv2.in"

echo "config $config, $rounds rounds, landscape every $every steps; $(nproc) cores," \
     "load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
printf '%-6s %5s %8s %8s %9s\n' side round wall_s cpu_s peak_MB
for r in $(seq 1 "$rounds"); do
    for side in none all; do
        if [ "$side" = all ]; then set -- $probes; else set --; fi
        /usr/bin/time -f '%e %U %S %M' -o "$out/time" \
            "$normlab" run "$config" --out "$out/$side-$r" --quiet --threads 1 "$@" >/dev/null
        read -r wall user sys rss < "$out/time"
        printf '%-6s %5d %8.2f %8.2f %9.1f\n' "$side" "$r" "$wall" \
            "$(echo "$user + $sys" | bc)" "$(echo "$rss / 1024" | bc -l)"
    done
    # the metrics without their time columns must agree
    for side in none all; do
        cut -d, -f1-6 "$out/$side-$r/metrics.csv" > "$out/$side.m"
    done
    cmp -s "$out/none.m" "$out/all.m" || { echo "round $r: metrics differ" >&2; exit 1; }
done
