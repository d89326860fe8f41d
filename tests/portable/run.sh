#!/bin/bash
# normlab on CPUs older than the one it was built on, emulated by qemu-user:
#  - a portable build (NORMLAB_NATIVE=OFF, the default) picks the x86-64
#    kernel set on a CPU without AVX (qemu's Nehalem) and x86-64-v3 on one
#    with AVX2 but no AVX-512 (Haswell), trains, records the set in
#    summary.json, and computes the metrics of the same set run natively on
#    this machine bit for bit (the set pins OpenBLAS's core: the native run
#    pins it itself, the emulated one is given it);
#  - a native build (NORMLAB_NATIVE=ON) refuses, before writing anything, a
#    CPU that lacks an extension it was compiled for (cmd/isa_guard.c),
#    naming them.
# The build under test is one of the two; the other is made here, in its own
# directory (normlab alone, without CUDA, MPI or tests).
# qemu-user emulates only the process: normlab must not re-execute it (it
# re-executes /proc/self/exe to bound OpenMP's spinning and to load OpenBLAS
# with its kernel set's core, and that exec would run natively), so
# GOMP_SPINCOUNT and, for the emulated runs, OPENBLAS_CORETYPE are set here.
#
# usage: tests/portable/run.sh SOURCE_DIR WORK_DIR NORMLAB NATIVE(ON|OFF)
# Exit 77 (skipped) without qemu-x86_64 (tests/deps.sh installs qemu-user)
# or off x86-64.
set -euo pipefail

src=$(realpath "$1")
work=$2
tested=$(realpath "$3")
tested_native=$4
. "$(dirname "${BASH_SOURCE[0]}")/skip_unless_qemu.sh"

case $tested_native in
ON | on | 1 | TRUE | true) other=OFF ;;
*) other=ON ;;
esac
mkdir -p "$work"
cmake -S "$src" -B "$work/build" -DCMAKE_BUILD_TYPE=Release -DNORMLAB_NATIVE=$other \
    -DNORMLAB_CUDA=OFF -DNORMLAB_MPI=OFF -DNORMLAB_TESTS=OFF >"$work/configure.log"
cmake --build "$work/build" -j "$(nproc)" --target normlab >"$work/build.log"
if [ $other = OFF ]; then
    portable=$work/build/normlab native=$tested
else
    portable=$tested native=$work/build/normlab
fi
export GOMP_SPINCOUNT=3000
unset NORMLAB_CPU_KERNELS

fail() {
    echo "FAILED: $*"
    exit 1
}

# metrics.csv without its last column (elapsed_s, the clock's)
metrics() { sed 's/,[^,]*$//' "$1/metrics.csv"; }

run=(run "$src/configs/synthetic-smoke.yaml" --set train.steps=60 --threads 1)
# the kernel sets this machine runs, as the portable build says: the
# comparison with a native run needs the emulated CPU's set to be one
host_runs=" $("$portable" --version | sed -n 's/.*this CPU runs \([^;]*\);.*/\1/p' | tr -d ,) "
checks=0
for pair in Nehalem:x86-64 Haswell:x86-64-v3; do
    cpu=${pair%%:*}
    want=${pair#*:}
    rm -rf "$work/emulated-$cpu" "$work/native-$cpu"
    # the core the set pins, as normlab names it (run natively)
    core=$("$portable" --version | sed -n "s/^openblas core: .*[ ,]$want \([A-Za-z0-9]*\)[,;].*/\1/p")
    [ -n "$core" ] || fail "normlab --version names no OpenBLAS core for $want"
    export OPENBLAS_CORETYPE=$core
    qemu-x86_64 -cpu "$cpu" "$portable" --version >"$work/version-$cpu.txt" 2>/dev/null ||
        fail "the portable build's --version on $cpu"
    grep -q "^cpu kernels: $want " "$work/version-$cpu.txt" ||
        fail "on $cpu the portable build did not pick $want: $(grep kernels "$work/version-$cpu.txt")"
    qemu-x86_64 -cpu "$cpu" "$portable" "${run[@]}" --out "$work/emulated-$cpu" \
        >"$work/emulated-$cpu.log" 2>&1 || fail "the run on $cpu: $(tail -3 "$work/emulated-$cpu.log")"
    grep -q "\"cpu_kernels\": \"$want\"" "$work/emulated-$cpu/summary.json" ||
        fail "summary.json on $cpu does not record $want"
    grep -q "\"openblas_core\": \"$core\"" "$work/emulated-$cpu/summary.json" ||
        fail "summary.json on $cpu does not record OpenBLAS's $core core"
    unset OPENBLAS_CORETYPE
    [ "$(metrics "$work/emulated-$cpu" | wc -l)" -gt 3 ] || fail "no metrics rows on $cpu"
    if [[ $host_runs != *" $want "* ]]; then
        echo "ok: $cpu runs the portable build's $want kernels (this CPU runs only$host_runs: not compared)"
        checks=$((checks + 1))
        continue
    fi
    NORMLAB_CPU_KERNELS=$want "$portable" "${run[@]}" --out "$work/native-$cpu" \
        >"$work/native-$cpu.log" 2>&1 || fail "the run of $want on this CPU"
    # normlab's kernels compute alike on both, and the native run pins
    # OpenBLAS to the core the emulated one was given: bit for bit (before
    # the pin, OpenBLAS's own kernels for each CPU moved the last bits)
    grep -q "\"openblas_core\": \"$core\"" "$work/native-$cpu/summary.json" ||
        fail "the native run of $want did not pin OpenBLAS's $core core"
    same=$(paste -d, <(metrics "$work/emulated-$cpu") <(metrics "$work/native-$cpu") | awk -F, '
        NR == 1 { half = NF / 2; next }
        { for (i = 1; i <= half; i++)
              if ($i != $(i + half)) { print "row " NR ": " $i " and " $(i + half); exit } }')
    [ -z "$same" ] || fail "$want on $cpu and on this CPU differ: $same"
    how="bit for bit"
    echo "ok: $cpu runs the portable build's $want kernels, the metrics of this CPU's $how"
    checks=$((checks + 1))
done

# the native build on a CPU without AVX: refused before main, nothing written
rm -rf "$work/refused"
set +e
qemu-x86_64 -cpu Nehalem "$native" "${run[@]}" --out "$work/refused" >"$work/refused.log" 2>&1
status=$?
set -e
if grep -q "this CPU lacks" "$work/refused.log"; then
    [ "$status" = 1 ] || fail "the native build's refusal exited $status, not 1"
    grep -q "cmake -DNORMLAB_NATIVE=OFF" "$work/refused.log" || fail "the refusal names no way out"
    [ ! -e "$work/refused" ] || fail "the refused run wrote $work/refused"
    echo "ok: the native build refuses Nehalem: $(head -c 200 "$work/refused.log")"
else
    # a build machine without AVX builds nothing Nehalem lacks
    [ "$status" = 0 ] || fail "the native build on Nehalem exited $status: $(tail -3 "$work/refused.log")"
    echo "ok: the native build needs nothing Nehalem lacks, and ran"
fi
checks=$((checks + 1))
echo "$checks passed, 0 failed"
