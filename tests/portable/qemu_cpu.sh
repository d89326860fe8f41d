#!/bin/bash
# Prints qemu-x86_64's -cpu argument for the model CPU (a name `qemu-x86_64
# -cpu help` lists) less every feature this qemu's TCG cannot emulate. Asked
# for, qemu warns about each on the stderr of every program it starts, where
# tests compare normlab's output; none is an extension a kernel set is chosen
# by except AVX-512's, which TCG lacks (an AVX-512 host's model then runs the
# AVX2 set with that host's CPUID: its cache sizes, which oneDNN's blocking
# and OpenBLAS's follow). The features are read from qemu's own warnings, so
# a model or qemu version added later needs no list here.
#
# usage: tests/portable/qemu_cpu.sh CPU
set -euo pipefail
cpu=$1
warnings=$(qemu-x86_64 -cpu "$cpu" /bin/true 2>&1 >/dev/null) || {
    echo "qemu-x86_64 does not run the CPU model '$cpu': $warnings" >&2
    exit 1
}
spec=$cpu
for feature in $(printf '%s\n' "$warnings" |
    sed -n 's/.*TCG doesn.t support requested feature: CPUID\.[0-9A-Fa-f]*H:[A-Z]*\.\([^ ]*\) \[bit.*/\1/p' | sort -u); do
    spec="$spec,-$feature"
done
# what is left must start silently
left=$(qemu-x86_64 -cpu "$spec" /bin/true 2>&1 >/dev/null)
[ -z "$left" ] || {
    echo "qemu-x86_64 -cpu $spec still warns: $left" >&2
    exit 1
}
echo "$spec"
