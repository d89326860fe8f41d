#!/bin/bash
# A real single-node Slurm on localhost, started here and stopped again:
# munged, slurmctld and slurmd with a generated slurm.conf (this machine's
# CPUs and memory, no cgroups, no accounting), all state in a scratch
# directory, on ports of their own. Submits a small synthetic sweep through
# the script `normlab sweep --emit-sbatch` writes, with the user's --time,
# --mem, --partition, --account and --qos, as a user on a login node does
# (`bash FILE`: the array job, then the merge job after it); checks that
# Slurm holds both jobs with those options and the merge's afterany
# dependency, and that slurm.txt names them; waits (bounded) for the array
# and the merge; checks that no more tasks ran at once than the throttle,
# that nothing but the two jobs was submitted (no sbatch on the compute
# node), that summary.csv has every run ok, and that each run ran once.
# Then a second sweep submitted with plain sbatch, whose first task queues
# the merge: merged, every run ok.
#
# Needs root and Debian's packages, which tests/deps.sh slurm installs (the
# label's first test, slurm_deps, runs it).
# Run: ctest --test-dir build -L slurm --output-on-failure
# (or tests/slurm/run.sh path/to/normlab). Fails, saying why, without them.
set -euo pipefail

normlab=$(realpath "${1:-build/normlab}")
for tool in munged slurmctld slurmd sbatch squeue sinfo scontrol; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: $tool is not installed (tests/deps.sh slurm installs it)"
        exit 1
    fi
done
if [ "$(id -u)" != 0 ]; then
    echo "FAIL: needs root (the daemons run as root here)"
    exit 1
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
    --time 10 --mem 64M --partition normlab --account normlab-test --qos normal > "$work/job.sbatch"
cd "$work"
bash job.sbatch > submit.txt 2>&1 || fail "bash job.sbatch: $(cat submit.txt)"
echo "$(cat submit.txt)"
read -r job merge_job < <(sed -n 's/.*queued array job \([0-9]*\) and merge job \([0-9]*\) after it.*/\1 \2/p' submit.txt)
[ -n "$job" ] && [ -n "$merge_job" ] || fail "no job ids in: $(cat submit.txt)"
grep -qx "array_job: $job" sweep/slurm.txt && grep -qx "merge_job: $merge_job" sweep/slurm.txt ||
    fail "slurm.txt: $(cat sweep/slurm.txt)"
# both jobs as Slurm holds them: the user's options (a QOS shows only with
# accounting, which this Slurm lacks: it is in the job's script); the merge
# after the array
for id in "$job" "$merge_job"; do
    info=$(scontrol show job -o "$id" | head -1)
    for want in TimeLimit=00:10:00 MinMemoryNode=64M Partition=normlab Account=normlab-test; do
        case " $info " in *" $want "*) ;; *) fail "job $id lacks $want: $info" ;; esac
    done
    scontrol write batch_script "$id" - | grep -qx '#SBATCH --qos=normal' ||
        fail "job $id's script lacks --qos: $(scontrol write batch_script "$id" -)"
done
scontrol show job -o "$merge_job" | grep -q "Dependency=afterany:${job}_\*\|Dependency=afterany:$job[( ]" ||
    fail "the merge does not wait for the array: $(scontrol show job -o "$merge_job")"
"$normlab" sweep "$work/exp.yaml" --dry-run --out "$work/sweep" | grep -q "slurm: array job $job, then merge job $merge_job" ||
    fail "--dry-run does not name the jobs: $("$normlab" sweep "$work/exp.yaml" --dry-run --out "$work/sweep")"

# waits (up to 5 minutes) for the jobs to end, and for the merge's output
wait_all() {
    for i in $(seq 600); do
        mine=$(squeue -h -o %i 2>/dev/null | wc -l)
        if [ "$mine" = 0 ] && ls "$work"/normlab-"$1"-merge-*.out >/dev/null 2>&1; then
            return 0
        fi
        sleep 0.5
    done
    fail "jobs still queued or running after 5 minutes: $(squeue -h -o '%i %j %T %r')"
}
wait_all slurmtest
merge_log="$work/normlab-slurmtest-merge-$merge_job.out"
[ -e "$merge_log" ] || fail "the merge job never ran (no $merge_log)"
echo "merge: $(cat "$merge_log")"
grep -q "6 runs: 6 ok, 0 diverged, 0 failed, 0 pending" "$merge_log" || fail "merge: $(cat "$merge_log")"
# the most tasks running at once, from the controller's log: a task starts
# (sched: Allocate, or the backfill scheduler's Started) and ends (done)
most=$(grep -E "(Allocate|Started) JobId=${job}_[0-9]+|_job_complete: JobId=${job}_[0-9]+\([0-9]+\) done" \
    "$work/log/slurmctld.log" | awk '/Allocate|Started/ {n++; if (n > m) m = n} / done$/ {n--} END {print m + 0}')
[ "$most" -ge 1 ] || fail "no array task start in the controller's log"
[ "$most" -le 1 ] || fail "$most array tasks ran at once; the throttle is 1"
# the login node submitted two jobs; the compute node none
submitted=$(grep -c "_slurm_rpc_submit_batch_job: JobId=" "$work/log/slurmctld.log")
[ "$submitted" = 2 ] || fail "$submitted jobs submitted, not 2 (the array and the merge)"
for task in 1 2 3; do
    [ -e "$work/normlab-slurmtest-${job}_$task.out" ] || fail "no output of array task $task"
    if grep -q "merge" "$work/normlab-slurmtest-${job}_$task.out"; then
        fail "array task $task spoke of the merge: $(cat "$work/normlab-slurmtest-${job}_$task.out")"
    fi
done
ok=$(awk -F, 'NR > 1 && $3 == "ok"' "$work/sweep/summary.csv" | wc -l)
rows=$(awk 'NR > 1' "$work/sweep/summary.csv" | wc -l)
[ "$rows" = 6 ] && [ "$ok" = 6 ] || fail "summary.csv: $rows rows, $ok ok: $(cat "$work/sweep/summary.csv")"
for seed in 1 2 3 4 5 6; do
    n=$(grep -c '^== ' "$work/sweep/runs/seed-$seed/stderr.txt")
    [ "$n" = 1 ] || fail "seed-$seed was started $n times"
done
echo "ok: array job $job (3 tasks, at most $most running at once, throttle 1) and merge job $merge_job," \
    "queued from the login node with the user's options: 6 runs ok, each once"

# plain sbatch: the first task queues the merge (sbatch on the compute node)
sed 's/^name: slurmtest$/name: plain/' exp.yaml > plain.yaml
"$normlab" sweep "$work/plain.yaml" --emit-sbatch --array-tasks 2 --out "$work/plain" --time 5 > plain.sbatch
plain_job=$(sbatch --parsable plain.sbatch)
echo "submitted array job $plain_job with plain sbatch"
wait_all plain
plain_log=$(ls "$work"/normlab-plain-merge-*.out | head -1)
grep -q "6 runs: 6 ok, 0 diverged, 0 failed, 0 pending" "$plain_log" || fail "plain merge: $(cat "$plain_log")"
grep -qx "array_job: $plain_job" plain/slurm.txt && grep -q "^merge_job: [0-9]" plain/slurm.txt ||
    fail "plain/slurm.txt: $(cat plain/slurm.txt)"
echo "ok: array job $plain_job, submitted with plain sbatch, queued its merge from its first task"
keep=0
