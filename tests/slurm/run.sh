#!/bin/bash
# A real single-node Slurm on localhost, started here and stopped again:
# munged, slurmctld and slurmd with a generated slurm.conf (this machine's
# CPUs and memory, no cgroups, no accounting), all state in a scratch
# directory, on ports of their own. Submits a small synthetic sweep through
# the script `normlab sweep --emit-sbatch` writes, as an array job with a
# throttle; waits (bounded) for the array and the merge it queues; checks
# that no more tasks ran at once than the throttle, that summary.csv has
# every run ok, and that each run ran once.
#
# Needs root and Debian's packages (installs nothing):
#   apt-get install slurmctld slurmd munge slurm-client
# Run: ctest --test-dir build -L slurm --output-on-failure
# (or tests/slurm/run.sh path/to/normlab). Exit 77 (skipped) without them.
set -euo pipefail

normlab=$(realpath "${1:-build/normlab}")
for tool in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
    if ! command -v "$tool" >/dev/null; then
        echo "skipped: $tool is not installed (apt-get install slurmctld slurmd munge slurm-client)"
        exit 77
    fi
done
if [ "$(id -u)" != 0 ]; then
    echo "skipped: needs root (the daemons run as root here)"
    exit 77
fi

work=$(mktemp -d /tmp/normlab-slurmd-XXXXXX)
chmod 755 "$work"
pids=()
stop() {
    # the daemons this script started, by their pids; nothing else
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    if [ "${keep:-0}" = 1 ]; then
        echo "left $work to look at"
    else
        rm -rf "$work"
    fi
}
trap stop EXIT
keep=1 # until the checks pass
fail() {
    echo "FAIL: $*" >&2
    for log in "$work"/log/*; do
        echo "---- $log (last lines)" >&2
        tail -n 15 "$log" >&2 || true
    done
    exit 1
}

mkdir -p "$work/munge" "$work/state" "$work/spool" "$work/log" "$work/sweep"
chmod 700 "$work/munge"
head -c 1024 /dev/urandom > "$work/munge/munge.key"
chmod 400 "$work/munge/munge.key"
munged --foreground --force --socket="$work/munge/munge.socket" --key-file="$work/munge/munge.key" \
    --pid-file="$work/munge/munged.pid" --seed-file="$work/munge/munged.seed" \
    --log-file="$work/log/munged.log" > "$work/log/munged.out" 2>&1 &
pids+=($!)

host=$(hostname -s)
cpus=$(nproc)
mem_mb=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
# ports that a system Slurm, if any, does not use
port=$((17000 + RANDOM % 2000))
cat > "$work/slurm.conf" <<CONF
ClusterName=normlabtest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
SchedulerParameters=defer_batch=0
MaxArraySize=1001
NodeName=$host CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=normlab Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF="$work/slurm.conf"
# Debian's slurm reads plugstack.conf next to slurm.conf
: > "$work/plugstack.conf"

for i in $(seq 50); do [ -S "$work/munge/munge.socket" ] && break; sleep 0.1; done
[ -S "$work/munge/munge.socket" ] || fail "munged did not start"
slurmctld -D -f "$SLURM_CONF" > "$work/log/slurmctld.out" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" > "$work/log/slurmd.out" 2>&1 &
pids+=($!)

state=
for i in $(seq 60); do
    state=$(sinfo -h -n "$host" -o %T 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.5
done
[ "$state" = idle ] || fail "the node is not idle after 30 s (state '$state')"

# six runs of a few hundred milliseconds, three array tasks, one at a time
# (the node has room for more: the throttle is what holds them back)
cat > "$work/base.yaml" <<'YAML'
data: {dataset: synthetic, shape: [8], classes: 3, train_size: 256, test_size: 64}
model: {arch: mlp, widths: [16]}
train: {batch_size: 16, steps: 100, eval_every: 50, log_every: 10, optimizer: {lr: 0.05}}
YAML
cat > "$work/exp.yaml" <<'YAML'
name: slurmtest
base: base.yaml
threads: 1
grid:
  seed: [1, 2, 3, 4, 5, 6]
YAML
"$normlab" sweep "$work/exp.yaml" --emit-sbatch --array-tasks 3 --array-throttle 1 --out "$work/sweep" \
    > "$work/job.sbatch"
cd "$work"
job=$(sbatch --parsable job.sbatch)
echo "submitted array job $job"

# waits (up to 5 minutes) for the array and the merge
for i in $(seq 600); do
    mine=$(squeue -h -o %i 2>/dev/null | wc -l)
    if [ "$mine" = 0 ] && ls "$work"/normlab-slurmtest-merge-*.out >/dev/null 2>&1; then
        break
    fi
    sleep 0.5
done
[ "$mine" = 0 ] || fail "jobs still queued or running after 5 minutes: $(squeue -h -o '%i %j %T %r')"
merge_log=$(ls "$work"/normlab-slurmtest-merge-*.out 2>/dev/null | head -1)
[ -n "$merge_log" ] || fail "the merge job never ran"
echo "merge: $(cat "$merge_log")"
grep -q "6 runs: 6 ok, 0 diverged, 0 failed, 0 pending" "$merge_log" || fail "merge: $(cat "$merge_log")"
# the most tasks running at once, from the controller's log: a task starts
# (sched: Allocate, or the backfill scheduler's Started) and ends (done)
most=$(grep -E "(Allocate|Started) JobId=${job}_[0-9]+|_job_complete: JobId=${job}_[0-9]+\([0-9]+\) done" \
    "$work/log/slurmctld.log" | awk '/Allocate|Started/ {n++; if (n > m) m = n} / done$/ {n--} END {print m + 0}')
[ "$most" -ge 1 ] || fail "no array task start in the controller's log"
[ "$most" -le 1 ] || fail "$most array tasks ran at once; the throttle is 1"
for task in 1 2 3; do
    [ -e "$work/normlab-slurmtest-${job}_$task.out" ] || fail "no output of array task $task"
done
ok=$(awk -F, 'NR > 1 && $3 == "ok"' "$work/sweep/summary.csv" | wc -l)
rows=$(awk 'NR > 1' "$work/sweep/summary.csv" | wc -l)
[ "$rows" = 6 ] && [ "$ok" = 6 ] || fail "summary.csv: $rows rows, $ok ok: $(cat "$work/sweep/summary.csv")"
for seed in 1 2 3 4 5 6; do
    n=$(grep -c '^== ' "$work/sweep/runs/seed-$seed/stderr.txt")
    [ "$n" = 1 ] || fail "seed-$seed was started $n times"
done
echo "ok: array job $job (3 tasks, at most $most running at once, throttle 1) and its merge: 6 runs ok, each once"
keep=0
