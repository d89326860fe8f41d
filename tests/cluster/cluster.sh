# A cluster on this one machine, for tests/cluster/run.sh (sourced, not run).
#
# Hosts node1..nodeN (NL_CLUSTER_HOSTS, default 3) are Linux namespaces: each
# its own network namespace (one end of a veth pair, the other end on a
# bridge of its own; 10.x.y.(10+i)/24), UTS namespace (its hostname) and
# mount namespace (its /etc/hosts naming every node, its munge directory,
# and on the last node a second path to the shared directory). Every node
# runs munged and slurmd; node1 runs slurmctld too and is where jobs are
# submitted from, as a login node. Open MPI starts its daemons on the other
# nodes through an agent (bin/nl-host-agent) that enters a node's
# namespaces where ssh would log in, so ranks on two nodes talk over TCP on
# the bridge, and ranks on one node over shared memory, as on a cluster.
# Every node sees the work directory at the same path: shared/ is the
# shared file system (the sweep directories), alt/ on the last node a
# second mount of it.
#
# State: the work directory (a fresh /tmp/normlab-cluster-XXXXXX), named in
# the state file $NL_CLUSTER_STATE. `cluster_up` builds it all; `cluster_down`
# ends every process inside the nodes' namespaces, deletes the namespaces
# and the bridge and the work directory, and checks that nothing is left.

# the state file: one line, the work directory
: "${NL_CLUSTER_STATE:=/tmp/normlab-cluster.state}"
: "${NL_CLUSTER_HOSTS:=3}"

cluster_fail() {
    echo "FAIL: $*" >&2
    if [ -n "${work:-}" ] && [ -d "$work/log" ]; then
        for log in "$work"/log/*; do
            [ -s "$log" ] || continue
            echo "---- $log (last lines)" >&2
            tail -n 12 "$log" >&2 || true
        done
    fi
    exit 1
}

# why this machine cannot build the cluster ("" when it can)
cluster_missing() {
    if [ "$(id -u)" != 0 ]; then
        echo "needs root (network namespaces, bind mounts and the daemons)"
        return
    fi
    local tool
    for tool in ip unshare nsenter munged slurmctld slurmd sbatch squeue sinfo scontrol srun mpirun; do
        if ! command -v "$tool" >/dev/null; then
            echo "$tool is not installed (tests/deps.sh installs mpirun, tests/deps.sh slurm the others)"
            return
        fi
    done
    if ! ip netns add "nlc-probe-$$" 2>/dev/null; then
        echo "cannot create a network namespace here (ip netns add failed)"
        return
    fi
    ip netns del "nlc-probe-$$"
}

# reads the state: $work, $prefix, $hosts, $subnet; false when there is no cluster
cluster_load() {
    [ -s "$NL_CLUSTER_STATE" ] || return 1
    work=$(head -n 1 "$NL_CLUSTER_STATE")
    [ -d "$work" ] && [ -s "$work/env" ] || return 1
    # shellcheck disable=SC1091
    . "$work/env"
    export SLURM_CONF="$work/slurm.conf"
}

# the pid of node i's namespace holder
holder() { cat "$work/node$1/holder.pid"; }

# runs a command on node i, in the current directory
on() {
    local i=$1
    shift
    nsenter --target "$(holder "$i")" --net --uts --mount --wd="$PWD" -- "$@"
}

# the pids of every process inside node i's network namespace
node_pids() {
    local ns pid
    ns=$(readlink "/proc/$(holder "$1")/ns/net" 2>/dev/null) || ns=$(cat "$work/node$1/netns.id")
    for pid in $(ls /proc | grep -E '^[0-9]+$'); do
        [ "$(readlink "/proc/$pid/ns/net" 2>/dev/null)" = "$ns" ] && echo "$pid"
    done
}

# the pids of normlab processes on node i whose command line holds $2
normlab_pids_on() {
    local pid
    for pid in $(node_pids "$1"); do
        tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "normlab.* $2" && echo "$pid"
    done
    return 0
}

# mpirun on node1 across the nodes: MPIRUN HOSTS ARGS..., HOSTS as
# Open MPI's --host (node1:2,node2:1); one OpenMP thread per rank. The
# ranks yield their core while they wait (the nodes share this machine's
# cores; on a cluster each rank has its own).
cluster_mpirun() {
    local hosts=$1
    shift
    on 1 mpirun --allow-run-as-root --host "$hosts" \
        --mca plm_rsh_agent "$work/bin/nl-host-agent" \
        --mca btl_tcp_if_include eth0 --mca oob_tcp_if_include eth0 \
        --mca mpi_yield_when_idle 1 -x OMP_NUM_THREADS=1 "$@"
}

# waits up to $1 seconds for `$2...` to succeed
wait_until() {
    local limit=$1 i
    shift
    for i in $(seq $((limit * 5))); do
        "$@" && return 0
        sleep 0.2
    done
    return 1
}

cluster_up() {
    local missing
    missing=$(cluster_missing)
    if [ -n "$missing" ]; then
        echo "FAIL: cannot build the cluster: $missing"
        exit 1
    fi
    # a cluster a killed test run left behind goes first
    if cluster_load; then
        echo "removing the cluster a previous run left in $work"
        cluster_down_quiet
    fi
    work=$(mktemp -d /tmp/normlab-cluster-XXXXXX)
    chmod 755 "$work"
    echo "$work" > "$NL_CLUSTER_STATE"
    local id=$(( RANDOM % 4096 ))
    prefix=$(printf 'nlc%03x' "$id")
    hosts=$NL_CLUSTER_HOSTS
    subnet="10.$(( 200 + RANDOM % 50 )).$(( RANDOM % 250 ))"
    printf 'prefix=%s\nhosts=%s\nsubnet=%s\n' "$prefix" "$hosts" "$subnet" > "$work/env"
    export SLURM_CONF="$work/slurm.conf"
    mkdir -p "$work/log" "$work/bin" "$work/shared" "$work/alt" "$work/munge" "$work/state"
    {
        echo "127.0.0.1 localhost"
        for i in $(seq "$hosts"); do echo "$subnet.$((10 + i)) node$i"; done
    } > "$work/hosts"
    head -c 1024 /dev/urandom > "$work/munge.key"
    chmod 400 "$work/munge.key"

    ip link add "${prefix}br" type bridge || cluster_fail "cannot add a bridge"
    ip link set "${prefix}br" up
    local i
    for i in $(seq "$hosts"); do
        local ns="${prefix}-node$i" dir="$work/node$i"
        mkdir -p "$dir/munge" "$dir/spool"
        ip netns add "$ns" || cluster_fail "cannot add network namespace $ns"
        ip link add "${prefix}v$i" type veth peer name eth0 netns "$ns"
        ip link set "${prefix}v$i" master "${prefix}br" up
        ip netns exec "$ns" ip addr add "$subnet.$((10 + i))/24" dev eth0
        ip netns exec "$ns" ip link set eth0 up
        ip netns exec "$ns" ip link set lo up
        # the holder: the node's UTS and mount namespaces live while it
        # does (entered with nsenter, not `ip netns exec`, which mounts a
        # /sys of its own without the cgroup file system slurmd reads)
        local alt=""
        [ "$i" = "$hosts" ] && alt="mount --bind $work/shared $work/alt &&"
        nsenter --net="/run/netns/$ns" -- unshare --uts --mount --propagation private -- sh -c "
            hostname node$i && mount --bind $work/hosts /etc/hosts &&
            mount --bind $dir/munge $work/munge && $alt
            touch $dir/ready && exec sleep infinity" > "$work/log/holder-node$i.out" 2>&1 &
        echo $! > "$dir/holder.pid"
        wait_until 10 test -e "$dir/ready" || cluster_fail "node$i's namespaces did not come up"
        readlink "/proc/$(holder "$i")/ns/net" > "$dir/netns.id"
    done

    # the agent Open MPI starts its daemons with: `agent HOST COMMAND...`,
    # where ssh would log in to HOST (a clean environment, as a login has)
    cat > "$work/bin/nl-host-agent" <<AGENT
#!/bin/sh
host=\$1
shift
case \$host in node[0-9]*) ;; *) echo "nl-host-agent: no host \$host here" >&2; exit 255 ;; esac
pidfile="$work/\$host/holder.pid"
[ -s "\$pidfile" ] || { echo "nl-host-agent: no host \$host here" >&2; exit 255; }
exec nsenter --target "\$(cat "\$pidfile")" --net --uts --mount --wd=/ -- \\
    env -i PATH="\$PATH" HOME=/root /bin/sh -c "\$*"
AGENT
    chmod 755 "$work/bin/nl-host-agent"

    local cpus mem_mb
    cpus=$(nproc)
    mem_mb=$(awk -v n="$hosts" '/MemTotal/ {print int($2 / 1024 * 0.8 / n)}' /proc/meminfo)
    {
        cat <<CONF
ClusterName=normlabcluster
SlurmctldHost=node1($subnet.11)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/%n/spool
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/%n/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd-%n.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# a node that stops answering is down after 10 s; its jobs end NODE_FAIL and
# are not requeued by Slurm (the tests requeue them as a user would)
SlurmdTimeout=10
JobRequeue=0
ReturnToService=2
KillWait=5
MaxArraySize=1001
CONF
        for i in $(seq "$hosts"); do
            echo "NodeName=node$i NodeAddr=$subnet.$((10 + i)) CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN"
        done
        echo "PartitionName=normlab Nodes=ALL Default=YES MaxTime=INFINITE State=UP"
    } > "$work/slurm.conf"
    : > "$work/plugstack.conf"

    daemons=""
    for i in $(seq "$hosts"); do
        on "$i" munged --foreground --force --socket="$work/munge/munge.socket" \
            --key-file="$work/munge.key" --pid-file="$work/node$i/munged.pid" \
            --seed-file="$work/node$i/munged.seed" --log-file="$work/log/munged-node$i.log" \
            > "$work/log/munged-node$i.out" 2>&1 &
        daemons="$daemons $!"
    done
    for i in $(seq "$hosts"); do
        wait_until 10 test -S "$work/node$i/munge/munge.socket" || cluster_fail "node$i's munged did not start"
    done
    on 1 slurmctld -D -f "$SLURM_CONF" > "$work/log/slurmctld.out" 2>&1 &
    daemons="$daemons $!"
    for i in $(seq "$hosts"); do
        on "$i" slurmd -D -f "$SLURM_CONF" -N "node$i" > "$work/log/slurmd-node$i.out" 2>&1 &
        daemons="$daemons $!"
    done
    # every node idle, or a daemon gone (its log says why)
    idle() {
        local pid
        for pid in $daemons; do
            kill -0 "$pid" 2>/dev/null || cluster_fail "a daemon ended while the cluster started"
        done
        [ "$(on 1 sinfo -h -o '%T %D' -t idle 2>/dev/null | awk '{n += $2} END {print n + 0}')" = "$hosts" ]
    }
    wait_until 60 idle || cluster_fail "not every node is idle after 60 s: $(on 1 sinfo -h -N -o '%N %T' 2>&1)"
    # Open MPI reaches every node
    local seen
    # (its warnings, such as a setpgid refused while the agent enters a
    # namespace, go to the log, not into the host names)
    seen=$(cd "$work" && cluster_mpirun "$(seq -s, -f 'node%g:1' "$hosts")" -np "$hosts" hostname \
        2> "$work/log/mpirun-probe.err" | sort | tr '\n' ' ')
    [ "$seen" = "$(seq -f 'node%g' "$hosts" | tr '\n' ' ')" ] ||
        cluster_fail "mpirun across the nodes said: $seen $(cat "$work/log/mpirun-probe.err")"
    echo "cluster up: $hosts nodes ($subnet.11-$((10 + hosts)) on bridge ${prefix}br), slurmctld on node1," \
        "munged and slurmd on each; work directory $work"
}

# every process inside the nodes' namespaces, killed; the namespaces, the
# bridge and the work directory removed
cluster_down_quiet() {
    local i pid round left
    for round in 1 2 3 4 5; do
        left=0
        for i in $(seq "$hosts"); do
            [ -s "$work/node$i/netns.id" ] || continue
            for pid in $(node_pids "$i"); do
                kill -9 "$pid" 2>/dev/null && left=1
            done
        done
        [ "$left" = 0 ] && break
        sleep 0.3
    done
    for i in $(seq "$hosts"); do
        ip netns del "${prefix}-node$i" 2>/dev/null || true
    done
    ip link del "${prefix}br" 2>/dev/null || true
    rm -rf "$work"
    rm -f "$NL_CLUSTER_STATE"
}

cluster_down() {
    if ! cluster_load; then
        echo "no cluster to take down"
        return 0
    fi
    local dir=$work
    cluster_down_quiet
    # nothing left: no process in the namespaces (they are gone), no
    # namespace, no bridge, no mount of the work directory
    local left=""
    ip netns list 2>/dev/null | grep -q "^${prefix}-" && left="$left namespaces:$(ip netns list | grep "^${prefix}-" | tr '\n' ' ')"
    ip link show "${prefix}br" >/dev/null 2>&1 && left="$left bridge ${prefix}br"
    grep -q " $dir" /proc/self/mounts && left="$left mounts of $dir"
    [ -e "$dir" ] && left="$left $dir"
    [ -z "$left" ] || { echo "FAIL: left after the cluster was taken down:$left" >&2; exit 1; }
    echo "cluster down: every process in its namespaces ended; namespaces, bridge and $dir removed"
}
