#!/bin/bash
# The default suite's look at the CUDA backend on a machine without a GPU
# (CTest's cuda_emu): core/cuda compiled as C++ against the emulated GPU
# (run.sh), a few parity cases (the ops, the dataset resident on the device,
# the step recorded as a graph, formula normalizers) and a sweep through the command line
# (sweep_check.sh). Where no CUDA toolkit is installed, nothing else compiles
# core/cuda; the full parity suite is `tests/cuda_emu/run.sh` (~20 min).
#   tests/cuda_emu/check.sh BUILD_DIR
# Exit 77 (skipped) off x86-64 (the emulator switches contexts in x86-64
# assembly) or without g++ and python3.
set -e
E=$(cd "$(dirname "$0")" && pwd)
B=${1:?usage: check.sh BUILD_DIR}
if [ "$(uname -m)" != x86_64 ]; then
    echo "skipped: the emulator runs on x86-64 only"
    exit 77
fi
for tool in g++ python3; do
    command -v "$tool" > /dev/null || { echo "skipped: $tool is not installed"; exit 77; }
done
NL_PARITY_QUICK=1 CK_RUN_CASE=ops "$E/run.sh" "$B"
for c in resident recorded formula; do
    (cd "$B" && NL_PARITY_QUICK=1 CK_RUN_CASE=$c CK_FORK=no ./test_cuda_parity)
done
"$E/sweep_check.sh" "$B"
