#!/bin/bash
# One unit-test program of a portable build run under qemu-user as an older
# CPU (CTest's TEST@qemu-CPU, label "portable"): the program itself is
# emulated, and so is every normlab it starts (NORMLAB_TEST_BINARY names a
# script that runs the build's normlab under the same emulated CPU). It
# must pass there as it does natively, and its CPU kernels must be the set
# that CPU runs: NORMLAB_CPU_KERNELS=auto makes the program print the set it
# took ("CPU kernel set: ..."), checked against WANT.
# qemu-user emulates only the process: normlab must not re-execute it
# (it re-executes /proc/self/exe to bound OpenMP's spinning and to load
# OpenBLAS with its kernel set's core, and that exec would run natively), so
# GOMP_SPINCOUNT and OPENBLAS_CORETYPE (WANT's, as normlab --version names
# it) are set here. check's timeouts are multiplied: emulation is 10-50x
# slower.
#
# usage: tests/portable/unit.sh CPU WANT PROGRAM NORMLAB NATIVE(ON|OFF) [LIBRARY]
#   CPU: a qemu -cpu model; WANT: the kernel set the build should pick there;
#   LIBRARY: NORMLAB_GEMM for the program and every normlab it starts
# Exit 77 (skipped) without qemu-x86_64, off x86-64, or in a native build
# (compiled for this CPU: it would trap on an older one; test_portable
# checks that such a build refuses it).
set -euo pipefail

cpu=$1
want=$2
program=$(realpath "$3")
normlab=$(realpath "$4")
native=$5
library=${6:-}
. "$(dirname "${BASH_SOURCE[0]}")/skip_unless_qemu.sh"
# the model less the features qemu's TCG cannot emulate (qemu_cpu.sh)
qemu_cpu=$("$(dirname "${BASH_SOURCE[0]}")/qemu_cpu.sh" "$cpu")
case $native in
ON | on | 1 | TRUE | true)
    echo "skipped: a native build (NORMLAB_NATIVE=ON) is compiled for this CPU alone;" \
        "configure with -DNORMLAB_NATIVE=OFF to run its tests on emulated CPUs"
    exit 77
    ;;
esac

launcher=$(mktemp -d "${TMPDIR:-/tmp}/normlab-qemu-$cpu-XXXXXX")
trap 'rm -rf "$launcher"' EXIT
trap 'exit 143' TERM INT
printf '#!/bin/sh\nexec qemu-x86_64 -cpu %s %q "$@"\n' "$qemu_cpu" "$normlab" >"$launcher/normlab"
chmod +x "$launcher/normlab"
export NORMLAB_TEST_BINARY=$launcher/normlab
# the tests learn that they run emulated from here, never from the CPU's
# identity (qemu's EPYC-Milan reports a Zen 3's family and model exactly)
export NORMLAB_TEST_EMULATOR=qemu-$cpu
export GOMP_SPINCOUNT=3000 NORMLAB_CPU_KERNELS=auto
[ -z "$library" ] || export NORMLAB_GEMM=$library
OPENBLAS_CORETYPE=$("$normlab" --version | sed -n "s/^openblas core: .*[ ,]$want \([A-Za-z0-9]*\)[,;].*/\1/p")
[ -n "$OPENBLAS_CORETYPE" ] || {
    echo "FAILED: normlab --version names no OpenBLAS core for $want"
    exit 1
}
export OPENBLAS_CORETYPE
export CK_TIMEOUT_MULTIPLIER=${CK_TIMEOUT_MULTIPLIER:-20}

log=$launcher/log
set +e
qemu-x86_64 -cpu "$qemu_cpu" "$program" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] || {
    echo "FAILED: $(basename "$program") on qemu's $cpu exited $status"
    exit 1
}
got=$(sed -n 's/^CPU kernel set: //p' "$log" | head -1)
[ "$got" = "$want" ] || {
    echo "FAILED: on qemu's $cpu the program took the CPU kernel set '$got', not $want"
    exit 1
}
echo "ok: $(basename "$program") passed on qemu's $cpu with the $want kernels"
