#!/bin/bash
# normlab on a cluster this test builds on one machine (tests/cluster/cluster.sh:
# three hosts as network namespaces on a bridge, munged and slurmd on each,
# slurmctld on node1, Open MPI across them over TCP), and the checks that
# only several hosts can show:
#
#   array      a sweep as a Slurm array spread over the hosts, and its merge:
#              summary.csv as the same sweep on one host with -j 1
#   syncbn     synchronized batch norm over ranks on different hosts (mpirun
#              across them, and mpirun inside a Slurm job of 3 nodes): every
#              step's loss as one process's on the global batch, to 1e-6
#   claim      --claim workers on every host (one through a second mount of
#              the shared directory) drain one sweep: every run once
#   host-lost  a host killed while it runs its array task: the merge reports
#              exactly its unfinished runs as pending, never ok; the array
#              queued again resumes them from their checkpoints, and
#              summary.csv is then the one-host sweep's, bit for bit
#   rank-lost  one rank's process killed: the job ends within 30 s, mpirun
#              names the rank and its host, the run directory says failed,
#              and a restart on the hosts left resumes from the checkpoint;
#              one rank frozen (as a host that stops answering): every other
#              rank says it waited NORMLAB_MPI_TIMEOUT seconds, the job ends,
#              the run says failed, a restart resumes
#   ranks      a run checkpointed on 4 ranks resumes on 2, and one on 2 on 4:
#              the steps before the checkpoint as written, the 20 after it as
#              the uninterrupted run's to 1e-6; a run whose layers train
#              per rank (unsynchronized batch norm) is refused on another
#              rank count, exit 2, its files untouched
#   exchange   timing: the all-reduce's share of a step and its rate, 2 ranks
#              on one host (shared memory) against 2 on two hosts (TCP)
#
# Usage: run.sh up | check NAME NORMLAB | down | all NORMLAB
# (CTest label cluster: cluster_up, one test per check, cluster_down, which
# runs even when a check fails). `all` builds the cluster, runs every check
# and takes it down, whatever happens. Needs root, iproute2 and Debian's
# Slurm, munge and Open MPI: tests/deps.sh installs Open MPI, and
# tests/deps.sh slurm the rest (the label's first test, slurm_deps, runs
# it). Fails, saying why, without them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=tests/cluster/cluster.sh
. "$here/cluster.sh"

# the check's jobs on the hosts (mpirun, its daemons, the normlab
# processes) killed before a check fails: otherwise the test would end only
# when they do (a frozen rank's job when NORMLAB_MPI_TIMEOUT, 600 s by
# default, runs out: 616 s when NORMLAB_MPI_TIMEOUT was ignored), since
# CTest waits for every process that holds its output
end_jobs() {
    local i pid
    for i in $(seq "$hosts"); do
        [ -s "$work/node$i/holder.pid" ] || continue
        for pid in $(node_pids "$i"); do
            case "$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" in
            mpirun\ *|orted\ *|"${normlab:-normlab} "*) kill -9 "$pid" 2>/dev/null || true ;;
            esac
        done
    done
}

fail() {
    if [ -n "${work:-}" ] && [ -n "${hosts:-}" ]; then end_jobs; fi
    cluster_fail "$@"
}

# ---- helpers ----

# the train losses of a run directory, one a line (metrics.csv's 4th column)
losses() { awk -F, '$3 == "train" {print $4}' "$1/metrics.csv"; }

# Compares the train losses of runs A and B: rows 1..SAME identical text,
# then rows SAME+1..SAME+N within TOL relative. Prints the worst difference.
compare_losses() {
    local a=$1 b=$2 same=$3 n=$4 tol=$5 what=$6
    paste -d' ' <(losses "$a") <(losses "$b") | awk -v same="$same" -v n="$n" -v tol="$tol" -v what="$what" '
        NR <= same && $1 != $2 { printf "FAIL: %s: step row %d: %s vs %s (before the checkpoint: must be equal)\n", what, NR, $1, $2; bad = 1; exit }
        NR > same && NR <= same + n {
            d = $1 - $2; if (d < 0) d = -d; r = d / ($2 < 0 ? -$2 : $2)
            if (r > worst) worst = r
            if (r > tol) { printf "FAIL: %s: row %d: %s vs %s (relative %.3g > %g)\n", what, NR, $1, $2, r, tol; bad = 1; exit }
            seen++ }
        END { if (bad) exit 1
              if (seen < n) { printf "FAIL: %s: %d rows after row %d, wanted %d\n", what, seen, same, n; exit 1 }
              if (same > 0) printf "%s: rows 1-%d equal, rows %d-%d within %.2g relative (bound %g)\n", what, same, same + 1, same + n, worst, tol
              else printf "%s: rows 1-%d within %.2g relative (bound %g)\n", what, n, worst, tol }'
}

# summary.csv without the columns that time the runs
untimed() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "wall_s" || $i == "samples_per_s") skip[i] = 1 }
             { line = ""; for (i = 1; i <= NF; i++) if (!skip[i]) line = line (line == "" ? "" : ",") $i; print line }' "$1"
}

# a field of a run's summary.json
field() { sed -n "s/^ *\"$2\": \"*\([^\",]*\)\"*,*$/\1/p" "$1/summary.json"; }

# waits (up to $1 s) until Slurm holds no job
queue_empty() { [ -z "$(on 1 squeue -h -o %i 2>/dev/null)" ]; }

# every node up and idle, no job queued: a check that took a node down
# brings it back (the node's daemons started again; Slurm returns it to
# service when its slurmd registers)
cluster_ready() {
    local i pid
    for i in $(seq "$hosts"); do
        local has_slurmd=0 has_munged=0
        for pid in $(node_pids "$i"); do
            case "$(tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null)" in
            slurmd*) has_slurmd=1 ;;
            munged*) has_munged=1 ;;
            esac
        done
        if [ "$has_munged" = 0 ]; then
            rm -f "$work/node$i/munge/munge.socket"
            on "$i" munged --foreground --force --socket="$work/munge/munge.socket" \
                --key-file="$work/munge.key" --pid-file="$work/node$i/munged.pid" \
                --seed-file="$work/node$i/munged.seed" --log-file="$work/log/munged-node$i.log" \
                >> "$work/log/munged-node$i.out" 2>&1 &
            wait_until 10 test -S "$work/node$i/munge/munge.socket" || fail "node$i's munged did not start again"
        fi
        if [ "$has_slurmd" = 0 ]; then
            echo "starting node$i's slurmd again"
            on "$i" slurmd -D -f "$SLURM_CONF" -N "node$i" >> "$work/log/slurmd-node$i.out" 2>&1 &
        fi
    done
    wait_until 120 queue_empty || fail "jobs left in the queue: $(on 1 squeue -h 2>&1)"
    all_idle() { [ "$(on 1 sinfo -h -o '%T %D' -t idle 2>/dev/null | awk '{n += $2} END {print n + 0}')" = "$hosts" ]; }
    wait_until 120 all_idle || fail "not every node is idle: $(on 1 sinfo -h -N -o '%N %T' 2>&1)"
}

# waits (up to $2 s) for the jobs of a sweep submitted with `bash FILE`
# from directory $1 to end, and for its merge job's output
wait_merge() {
    local dir=$1 limit=$2 merge_job=$3
    merged() { queue_empty && [ -s "$dir/normlab-$name-merge-$merge_job.out" ]; }
    wait_until "$limit" merged ||
        fail "the jobs did not end within $limit s: $(on 1 squeue -h -o '%i %j %T %R' 2>&1)"
    cat "$dir/normlab-$name-merge-$merge_job.out"
}

# `bash job.sbatch` on node1 in $1: sets array_job and merge_job
submit() {
    local said
    said=$(cd "$1" && on 1 bash job.sbatch 2>&1) || fail "bash job.sbatch: $said"
    read -r array_job merge_job < <(echo "$said" | sed -n 's/.*queued array job \([0-9]*\) and merge job \([0-9]*\) after it.*/\1 \2/p')
    [ -n "$array_job" ] && [ -n "$merge_job" ] || fail "no job ids in: $said"
}

# a small classification run's base config; $1 steps, $2 extra train keys
write_base() {
    cat > base.yaml <<YAML
data: {dataset: synthetic, shape: [16], classes: 4, train_size: 512, test_size: 128}
model: {arch: mlp, widths: [32, 32], norm: {type: batch}}
train: {batch_size: 16, steps: $1, eval_every: 100, log_every: 25, optimizer: {lr: 0.05, momentum: 0.9}$2}
YAML
}

# a classification run's base config whose runs take seconds (the tiny
# one's take milliseconds): for the checks that act while a run is in flight
write_big() {
    cat > base.yaml <<YAML
data: {dataset: synthetic, shape: [64], classes: 4, train_size: 1024, test_size: 128}
model: {arch: mlp, widths: [256, 256], norm: {type: batch}}
train: {batch_size: 32, steps: $1, eval_every: 500, log_every: 25, optimizer: {lr: 0.05, momentum: 0.9}$2}
YAML
}

# ---- the checks ----

check_array() {
    local d="$work/shared/array"
    rm -rf "$d" && mkdir -p "$d" && cd "$d"
    name=spread
    write_base 300 ""
    printf 'name: spread\nbase: base.yaml\nthreads: 1\ngrid:\n  seed: [1, 2, 3, 4, 5, 6]\n' > exp.yaml
    # three tasks of two runs, each task a whole node (2 CPUs): one per host
    "$normlab" sweep exp.yaml --emit-sbatch --array-tasks 3 --cpus-per-task "$(nproc)" \
        --out "$d/sweep" --time 10 > job.sbatch
    submit "$d"
    echo "array job $array_job, merge job $merge_job"
    local merged
    merged=$(wait_merge "$d" 300 "$merge_job")
    echo "merge: $merged"
    grep -q "6 runs: 6 ok, 0 diverged, 0 failed, 0 pending" <<< "$merged" || fail "merge: $merged"
    local ran_on
    ran_on=$(for r in sweep/runs/*; do field "$r" host; done | sort -u | tr '\n' ' ')
    [ "$ran_on" = "$(seq -f 'node%g' "$hosts" | tr '\n' ' ')" ] || fail "the runs ran on $ran_on, not on every node"
    on 2 "$normlab" sweep exp.yaml --out "$d/one-host" -j 1 > /dev/null 2>&1 || fail "the sweep on one host failed"
    diff <(untimed one-host/summary.csv) <(untimed sweep/summary.csv) > diff.txt ||
        fail "summary.csv of the array differs from the one-host sweep's: $(cat diff.txt)"
    echo "ok: 6 runs in 3 array tasks on $ran_on; the merge's summary.csv is the one-host -j 1 sweep's (timing columns aside)"
}

sync_config='seed: 3
data: {dataset: synthetic, shape: [24], classes: 5, train_size: 512, test_size: 100}
model: {arch: mlp, widths: [32, 32], norm: {type: batch, sync: true}}
train: {batch_size: 16, steps: 20, log_every: 1, eval_every: 10, eval_batch_size: 30, optimizer: {lr: 0.02, momentum: 0.9}}
threads: 1
'

check_syncbn() {
    local d="$work/shared/syncbn"
    rm -rf "$d" && mkdir -p "$d" && cd "$d"
    echo "$sync_config" > c.yaml
    on 1 "$normlab" run c.yaml --quiet --out one > /dev/null || fail "one process failed"
    # 4 ranks on 3 hosts: 2 on node1 (shared memory between them), 1 each on node2 and node3
    cluster_mpirun node1:2,node2:1,node3:1 -np 4 --display-map "$normlab" run c.yaml --quiet --out four > four.txt 2>&1 ||
        fail "4 ranks across the hosts: $(cat four.txt)"
    for node in node1 node2 node3; do
        grep -q "Data for node: $node" four.txt || fail "no rank on $node: $(cat four.txt)"
    done
    compare_losses four one 0 20 1e-6 "sync, 4 ranks on 3 hosts vs one process" || exit 1
    cluster_mpirun node2:1,node3:1 -np 2 "$normlab" run c.yaml --quiet --out two > two.txt 2>&1 ||
        fail "2 ranks on 2 hosts: $(cat two.txt)"
    compare_losses two one 0 20 1e-6 "sync, 2 ranks on 2 hosts vs one process" || exit 1
    # as a user would on a cluster: mpirun inside a Slurm job of 3 nodes,
    # which starts its daemons through srun
    local job
    job=$(on 1 sbatch --parsable -N 3 -n 4 --output="$d/slurm-%j.out" --wrap \
        "mpirun --allow-run-as-root --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 --mca mpi_yield_when_idle 1 -x OMP_NUM_THREADS=1 '$normlab' run c.yaml --quiet --out slurm4") ||
        fail "sbatch refused the MPI job"
    wait_until 120 queue_empty || fail "the MPI job did not end: $(on 1 squeue -h 2>&1)"
    grep -q "slurm4: ok" "slurm-$job.out" || fail "the MPI job under Slurm: $(cat "slurm-$job.out")"
    grep -q "4 MPI ranks" "slurm-$job.out" || fail "the MPI job under Slurm: $(cat "slurm-$job.out")"
    on 1 scontrol show job "$job" | grep -q " NodeList=node\[1-3\]" ||
        fail "the MPI job did not run on 3 nodes: $(on 1 scontrol show job "$job")"
    compare_losses slurm4 one 0 20 1e-6 "sync, 4 ranks in a Slurm job of 3 nodes vs one process" || exit 1
    echo "ok: synchronized batch norm across hosts trains as one process on the global batch"
}

check_claim() {
    local d="$work/shared/claim"
    rm -rf "$d" && mkdir -p "$d" && cd "$d"
    # runs of a second or more, so that the workers' runs overlap
    write_big 1500 ""
    printf 'name: claimed\nbase: base.yaml\nthreads: 1\ngrid:\n  seed: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n' > exp.yaml
    local pids=() i out
    for i in $(seq "$hosts"); do
        out="$d/sweep"
        # the last node reaches the shared directory by a second path
        [ "$i" = "$hosts" ] && out="$work/alt/claim/sweep"
        on "$i" "$normlab" sweep "$d/exp.yaml" --claim -j 1 --out "$out" > "worker$i.txt" 2>&1 &
        pids+=($!)
    done
    for i in "${!pids[@]}"; do
        wait "${pids[$i]}" || fail "worker on node$((i + 1)): $(cat "worker$((i + 1)).txt")"
    done
    local run n by=""
    for run in sweep/runs/*; do
        n=$(grep -c '^== ' "$run/stderr.txt")
        [ "$n" = 1 ] || fail "$run was started $n times"
        grep -q '^1 finished [0-9]* node[0-9]*$' "$run/.normlab-claim" ||
            fail "$run's claim: $(cat "$run/.normlab-claim")"
        by="$by $(awk '{print $4}' "$run/.normlab-claim")"
    done
    [ "$(ls -d sweep/runs/* | wc -l)" = 9 ] || fail "not 9 run directories"
    for i in $(seq "$hosts"); do
        grep -qw "node$i" <<< "$by" || fail "node$i's worker ran none of the runs ($by)"
    done
    grep -l "alt/claim/sweep" sweep/runs/*/summary.json > /dev/null ||
        fail "no run was written through the second mount path"
    on 1 "$normlab" sweep exp.yaml --merge --out "$d/sweep" > merge.txt 2>&1
    grep -q "9 runs: 9 ok, 0 diverged, 0 failed, 0 pending" merge.txt || fail "merge: $(cat merge.txt)"
    echo "ok: 9 runs, each run once, by the workers on$(tr ' ' '\n' <<< "$by" | grep . | sort | uniq -c | awk '{printf " %s (%d)", $2, $1}')"
}

check_host_lost() {
    local d="$work/shared/host-lost"
    rm -rf "$d" && mkdir -p "$d" && cd "$d"
    name=lost
    # runs of a few seconds with a checkpoint every 200 steps
    write_big 4000 ", checkpoint_every: 200"
    printf 'name: lost\nbase: base.yaml\nthreads: 1\ngrid:\n  seed: [1, 2, 3, 4, 5, 6, 7, 8, 9]\n' > exp.yaml
    "$normlab" sweep exp.yaml --emit-sbatch --array-tasks 3 --cpus-per-task "$(nproc)" \
        --out "$d/sweep" --time 20 > job.sbatch
    submit "$d"
    local first_merge=$merge_job
    # the last node's task, once its run in flight has a checkpoint
    local victim="node$hosts"
    in_flight() {
        local r
        for r in sweep/runs/*; do
            [ -e "$r/checkpoint.nlck" ] && [ "$(field "$r" host)" = "$victim" ] &&
                [ "$(field "$r" status)" = running ] && { echo "$r"; return 0; }
        done
        return 1
    }
    wait_until 120 in_flight > /dev/null || fail "no run on $victim reached a checkpoint: $(on 1 squeue -h 2>&1)"
    local pid killed=0
    for pid in $(node_pids "$hosts"); do
        [ "$pid" = "$(holder "$hosts")" ] && continue
        kill -9 "$pid" 2>/dev/null && killed=$((killed + 1))
    done
    local lost_run
    lost_run=$(in_flight) || fail "the run in flight on $victim finished before the host was lost"
    echo "$victim lost ($killed processes killed: slurmd, munged, the task, its runs) with $lost_run at its checkpoint of step $("$normlab" show "$lost_run" 2>/dev/null | sed -n 's/.*checkpoint at step \([0-9]*\).*/\1/p' | head -1)"
    # what the files say now: the runs in flight on the lost host, and
    # those no task had started (the lost task's queue; the other tasks'
    # unstarted runs still finish)
    # the grid's runs (a run no task started has no directory yet)
    local runs
    runs=$(seq -f 'sweep/runs/seed-%g' 9)
    local in_flight_lost="" unstarted=""
    for r in $runs; do
        if [ ! -s "$r/summary.json" ]; then
            unstarted="$unstarted ${r##*/}"
        elif [ "$(field "$r" host)" = "$victim" ] && [ "$(field "$r" status)" != ok ]; then
            in_flight_lost="$in_flight_lost ${r##*/}"
        fi
    done
    # Slurm notices the host (SlurmdTimeout), ends its task NODE_FAIL, and the merge runs
    local merged
    merged=$(wait_merge "$d" 300 "$first_merge")
    echo "merge: $merged"
    # lost: the runs in flight on the host, and those of its queue that no
    # other task took, which have not started since
    local expected="" pending
    for r in $runs; do
        case " $in_flight_lost " in *" ${r##*/} "*) expected="$expected ${r##*/}"; continue ;; esac
        case " $unstarted " in *" ${r##*/} "*) [ -s "$r/summary.json" ] || expected="$expected ${r##*/}" ;; esac
    done
    pending=$(awk -F, 'NR > 1 && $3 == "pending" {printf " %s", $1}' sweep/summary.csv)
    [ "$pending" = "$expected" ] || fail "pending in summary.csv:$pending; lost with $victim:$expected"
    # the others are done, as their own files say
    for r in $runs; do
        case " $expected " in *" ${r##*/} "*) continue ;; esac
        [ "$(field "$r" status)" = ok ] || fail "$r is not pending in summary.csv but says $(field "$r" status)"
    done
    local n_expected
    n_expected=$(wc -w <<< "$expected")
    grep -q "9 runs: $((9 - n_expected)) ok, 0 diverged, 0 failed, $n_expected pending" <<< "$merged" || fail "merge: $merged"
    grep -q "$n_expected unfinished run" <<< "$merged" || fail "the merge does not name the unfinished runs: $merged"
    for r in $expected; do
        grep -q "runs/$r" <<< "$merged" || fail "the merge does not name $r: $merged"
    done
    grep -q "runs/${lost_run##*/} (checkpoint at step" <<< "$merged" || fail "the merge does not give ${lost_run##*/}'s checkpoint: $merged"
    [ "$(field "$lost_run" status)" = running ] || fail "$lost_run says $(field "$lost_run" status)"
    # queued again, on the hosts left: the lost runs finish, the one in flight from its checkpoint
    submit "$d"
    merged=$(wait_merge "$d" 300 "$merge_job")
    grep -q "9 runs: 9 ok, 0 diverged, 0 failed, 0 pending" <<< "$merged" || fail "merge after requeueing: $merged"
    grep -q "resumed from the checkpoint at step" "$lost_run/stderr.txt" ||
        fail "$lost_run did not resume from its checkpoint: $(cat "$lost_run/stderr.txt")"
    on 1 "$normlab" sweep exp.yaml --out "$d/one-host" -j 1 > /dev/null 2>&1 || fail "the sweep on one host failed"
    diff <(untimed one-host/summary.csv) <(untimed sweep/summary.csv) > diff.txt ||
        fail "summary.csv after the requeue differs from the one-host sweep's: $(cat diff.txt)"
    echo "ok: the merge reported exactly the lost runs ($n_expected:$expected) as pending; requeued, ${lost_run##*/} resumed" \
        "from its checkpoint and summary.csv is the one-host sweep's"
    cluster_ready
}

# a run of tens of seconds on 4 ranks across the hosts, so that it is lost mid-run
long_config='seed: 3
data: {dataset: synthetic, shape: [64], classes: 5, train_size: 1024, test_size: 100}
model: {arch: mlp, widths: [128, 128], norm: {type: batch, sync: true}}
train: {batch_size: 32, steps: 3000, log_every: 50, eval_every: 1000, checkpoint_every: 100}
threads: 1
'

# how long mpirun on node1 took to end after a rank was lost ($1: its start file)
check_rank_lost() {
    local d="$work/shared/rank-lost"
    rm -rf "$d" && mkdir -p "$d" && cd "$d"
    echo "$long_config" > long.yaml
    # a rank killed: the launcher sees it and ends the others
    # (set -e: the status is kept, not the subshell ended, when mpirun fails)
    (rc=0; cluster_mpirun node1:2,node2:1,node3:1 -np 4 "$normlab" run long.yaml --quiet --out killed > killed.txt 2>&1 || rc=$?
     echo "$rc" > killed.rc) &
    # its pid: a bare `wait` would also wait for daemons cluster_ready
    # started again in this shell
    local job=$!
    wait_until 60 test -e killed/checkpoint.nlck || fail "no checkpoint: $(cat killed.txt)"
    local victim
    victim=$(normlab_pids_on "$hosts" long.yaml)
    [ -n "$victim" ] || fail "no rank on node$hosts"
    local t0=$SECONDS
    kill -9 "$victim"
    wait_until 30 test -s killed.rc || fail "the job still runs 30 s after its rank on node$hosts was killed"
    wait "$job"
    echo "rank on node$hosts killed: mpirun ended $((SECONDS - t0)) s later with status $(cat killed.rc)"
    [ "$(cat killed.rc)" != 0 ] || fail "mpirun exited 0"
    grep -q "process rank 3 with PID $victim on node node$hosts exited on signal 9" killed.txt ||
        fail "mpirun does not name the lost rank: $(cat killed.txt)"
    # Open MPI kills the ranks left within a fraction of a second, before
    # rank 0 can write its summary: the directory says the run did not
    # finish through its lock, which no live process holds
    local shown
    shown=$("$normlab" show killed 2>&1 | head -1)
    case $(field killed status) in
    failed) ;;
    running) grep -q "^killed: interrupted: summary.json still says running, but no process holds" <<< "$shown" ||
        fail "the run directory of the lost job: $shown" ;;
    *) fail "the run directory says $(field killed status): $(cat killed/summary.json)" ;;
    esac
    echo "the run directory: $(field killed status) in summary.json; show: $shown"
    # what mpirun said of the ranks that did not wait for its SIGTERM (a
    # rank its TCP transport ended on the lost rank's hang-up: results/usage.md)
    grep -E "unexpectedly disconnected|returned a non-zero exit code|Local host" killed.txt | sed 's/^ */mpirun: /' || true
    for i in $(seq "$hosts"); do
        [ -z "$(normlab_pids_on "$i" long.yaml)" ] || fail "a rank is left on node$i"
    done
    # restarted on the hosts left
    cluster_mpirun node1:1,node2:1 -np 2 "$normlab" run long.yaml --out killed > restart.txt 2>&1 ||
        fail "the restart: $(cat restart.txt)"
    grep -q "resuming killed from its checkpoint at step" restart.txt && grep -q "killed: ok" restart.txt ||
        fail "the restart did not resume: $(cat restart.txt)"

    # a rank frozen (a host that stops answering, its connections open):
    # no launcher notices; every other rank waits NORMLAB_MPI_TIMEOUT s
    (rc=0; cluster_mpirun node1:2,node2:1,node3:1 -np 4 -x NORMLAB_MPI_TIMEOUT=5 "$normlab" run long.yaml --quiet --out frozen > frozen.txt 2>&1 || rc=$?
     echo "$rc" > frozen.rc) &
    job=$!
    wait_until 60 test -e frozen/checkpoint.nlck || fail "no checkpoint: $(cat frozen.txt)"
    victim=$(normlab_pids_on "$hosts" long.yaml)
    t0=$SECONDS
    kill -STOP "$victim"
    wait_until 40 test -s frozen.rc || fail "the job still runs 40 s after its rank on node$hosts froze"
    wait "$job"
    echo "rank on node$hosts frozen: mpirun ended $((SECONDS - t0)) s later with status $(cat frozen.rc)"
    [ "$(cat frozen.rc)" != 0 ] || fail "mpirun exited 0"
    local r
    for r in 0 1 2; do
        grep -q "normlab run: rank $r of 4: waited [0-9]* s in an MPI .* for the other ranks without an answer (NORMLAB_MPI_TIMEOUT=5)" frozen.txt ||
            fail "rank $r did not say why it stopped: $(cat frozen.txt)"
    done
    [ "$(field frozen status)" = failed ] && grep -q "without an answer" frozen/summary.json ||
        fail "the run directory: $(cat frozen/summary.json)"
    for i in $(seq "$hosts"); do
        [ -z "$(normlab_pids_on "$i" long.yaml)" ] || fail "a rank is left on node$i"
    done
    cluster_mpirun node1:2,node2:1,node3:1 -np 4 "$normlab" run long.yaml --out frozen > restart2.txt 2>&1 ||
        fail "the restart: $(cat restart2.txt)"
    grep -q "resuming frozen from its checkpoint at step" restart2.txt && grep -q "frozen: ok" restart2.txt ||
        fail "the restart did not resume: $(cat restart2.txt)"
    echo "ok: a killed rank and a frozen one each ended the job in bounded time, the run said failed, and it resumed"
}

# losses near 1 for the first few hundred steps: relative differences stay
# those of the arithmetic, not of a loss near 0
ranks_config='seed: 5
data: {dataset: synthetic, shape: [64], classes: 8, train_size: 2048, test_size: 128}
model: {arch: mlp, widths: [128, 128], norm: {type: batch, sync: true}}
train: {batch_size: 16, steps: 3000, log_every: 1, eval_every: 1000, checkpoint_every: 50, optimizer: {lr: 0.003, momentum: 0.9}}
threads: 1
'

# runs config $1 on hosts $2 (ranks $3) into $4 and interrupts it once its
# first checkpoint is written: SIGINT to every rank, as Ctrl-C reaches every
# process of a terminal's job (mpirun, sent SIGINT, ends the ranks before
# rank 0 can record the stop); prints the checkpoint's step
run_interrupted() {
    local config=$1 where=$2 ranks=$3 out=$4
    (cluster_mpirun "$where" -np "$ranks" "$normlab" run "$config" --quiet --out "$out" > "$out.txt" 2>&1 || true) &
    local job=$!
    wait_until 60 test -e "$out/checkpoint.nlck" || fail "no checkpoint in $out: $(cat "$out.txt")"
    local i pid
    for i in $(seq "$hosts"); do
        for pid in $(node_pids "$i"); do
            tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "^$normlab run $config --quiet --out $out " &&
                kill -INT "$pid"
        done
    done
    wait "$job"
    [ "$(field "$out" status)" = failed ] || fail "$out: $(cat "$out.txt")"
    "$normlab" show "$out" | sed -n 's/.*checkpoint at step \([0-9]*\).*/\1/p' | head -1
}

check_ranks() {
    local d="$work/shared/ranks"
    rm -rf "$d" && mkdir -p "$d" && cd "$d"
    echo "$ranks_config" > r.yaml
    cluster_mpirun node1:2,node2:1,node3:1 -np 4 "$normlab" run r.yaml --quiet --out ref4 > ref4.txt 2>&1 || fail "$(cat ref4.txt)"
    cluster_mpirun node1:1,node2:1 -np 2 "$normlab" run r.yaml --quiet --out ref2 > ref2.txt 2>&1 || fail "$(cat ref2.txt)"
    local at
    at=$(run_interrupted r.yaml node1:2,node2:1,node3:1 4 four-two)
    cluster_mpirun node2:1,node3:1 -np 2 "$normlab" run r.yaml --out four-two > resume42.txt 2>&1 || fail "$(cat resume42.txt)"
    grep -q "resuming four-two from its checkpoint at step $at" resume42.txt &&
        grep -q "the checkpoint was taken on 4 MPI ranks, this run has 2" resume42.txt || fail "$(cat resume42.txt)"
    compare_losses four-two ref4 "$at" 20 1e-6 "4 ranks to step $at, then 2, vs 4 throughout" || exit 1
    at=$(run_interrupted r.yaml node1:1,node3:1 2 two-four)
    cluster_mpirun node1:2,node2:1,node3:1 -np 4 "$normlab" run r.yaml --out two-four > resume24.txt 2>&1 || fail "$(cat resume24.txt)"
    grep -q "resuming two-four from its checkpoint at step $at" resume24.txt &&
        grep -q "the checkpoint was taken on 2 MPI ranks, this run has 4" resume24.txt || fail "$(cat resume24.txt)"
    compare_losses two-four ref2 "$at" 20 1e-6 "2 ranks to step $at, then 4, vs 2 throughout" || exit 1
    # per-rank batch statistics: another rank count would be another experiment
    sed 's/sync: true/sync: false/' r.yaml > apart.yaml
    at=$(run_interrupted apart.yaml node1:1,node2:1 2 apart)
    local before
    before=$(cd apart && md5sum checkpoint.nlck metrics.csv summary.json config.yaml)
    local rc=0
    cluster_mpirun node1:2,node2:1,node3:1 -np 4 "$normlab" run apart.yaml --out apart > refused.txt 2>&1 || rc=$?
    [ "$rc" != 0 ] && grep -q "was taken on 2 MPI ranks and this run has 4, but layer .* trains on batch statistics over each rank's own slice" refused.txt ||
        fail "4 ranks took a checkpoint of per-rank statistics from 2: $(cat refused.txt)"
    [ "$before" = "$(cd apart && md5sum checkpoint.nlck metrics.csv summary.json config.yaml)" ] ||
        fail "the refused resume changed the run directory"
    cluster_mpirun node1:1,node2:1 -np 2 "$normlab" run apart.yaml --out apart > apart2.txt 2>&1 &&
        grep -q "resuming apart from its checkpoint at step $at" apart2.txt || fail "$(cat apart2.txt)"
    echo "ok: 4 -> 2 and 2 -> 4 ranks go on as the uninterrupted runs to 1e-6; per-rank statistics refused on another count"
}

# a model whose gradient exchange is large enough to time: 2 ranks on one
# host (shared memory) against 2 on two hosts (TCP over the veth pairs)
exchange_config='seed: 3
data: {dataset: synthetic, shape: [256], classes: 10, train_size: 2048, test_size: 128}
model: {arch: mlp, widths: [512, 512], norm: {type: batch, sync: true}}
train: {batch_size: 64, steps: 300, log_every: 100, eval_every: 300}
threads: 1
'

# one line of the exchange's share: $1 the run directory, $2 what it is
exchange_line() {
    awk -v what="$2" -v params="$(field "$1" parameters)" -v steps="$(field "$1" steps)" \
        -v ex="$(field "$1" exchange_s)" -v train="$(field "$1" train_s)" 'BEGIN {
        per_step = ex / steps; mb = params * 4 / 1e6
        printf "%s: exchange %.1f%% of train_s (%.2f of %.2f s), %.2f ms a step for %.2f MB of gradients: %.0f MB/s\n",
               what, 100 * ex / train, ex, train, 1e3 * per_step, mb, mb / per_step }'
}

# Timing, not a property: prints the all-reduce's share of a step and the
# rate it reaches over each transport; fails only when a run fails or
# records no exchange (the numbers in results/usage.md came from here)
check_exchange() {
    local d="$work/shared/exchange"
    rm -rf "$d" && mkdir -p "$d" && cd "$d"
    echo "$exchange_config" > x.yaml
    local where
    for where in shm tcp; do
        local hosts_of=node1:2
        [ "$where" = tcp ] && hosts_of=node1:1,node2:1
        cluster_mpirun "$hosts_of" -np 2 "$normlab" run x.yaml --quiet --out "$where" > "$where.txt" 2>&1 ||
            fail "2 ranks ($where): $(cat "$where.txt")"
        awk -v x="$(field "$where" exchange_s)" 'BEGIN { exit !(x > 0) }' ||
            fail "$where: no exchange time recorded: $(cat "$where/summary.json")"
    done
    exchange_line shm "2 ranks on node1 (shared memory)"
    exchange_line tcp "2 ranks on node1 and node2 (TCP over veth)"
    echo "(load: $(cut -d' ' -f1-3 /proc/loadavg); CPU: $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -1), $(nproc) cores shared by the hosts)"
}

checks="array syncbn claim host-lost rank-lost ranks exchange"

run_check() {
    local check=$1
    case " $checks " in *" $check "*) ;; *) echo "no check $check (checks: $checks)" >&2; exit 2 ;; esac
    if ! cluster_load; then
        local missing
        missing=$(cluster_missing)
        echo "FAIL: ${missing:-no cluster is up (cluster_up did not run, or failed)}"
        exit 1
    fi
    cluster_ready
    local start=$SECONDS
    "check_${check//-/_}"
    echo "($check: $((SECONDS - start)) s)"
}

what=${1:-}
case $what in
up)
    cluster_up
    ;;
down)
    cluster_down
    ;;
check)
    normlab=$(realpath "$3")
    run_check "$2"
    ;;
all)
    normlab=$(realpath "${2:-build/normlab}")
    cluster_up
    trap 'cd /; cluster_down' EXIT
    failed=""
    for check in $checks; do
        (run_check "$check") || failed="$failed $check"
    done
    [ -z "$failed" ] || { echo "FAILED:$failed" >&2; exit 1; }
    echo "every check passed: $checks"
    ;;
*)
    echo "usage: tests/cluster/run.sh up | check NAME NORMLAB | down | all NORMLAB" >&2
    exit 2
    ;;
esac
