#!/bin/sh
# The one build both README commands use (the first command, and
# tests/run.sh after it): build/ configured as CI configures it (Release,
# gcc's and nvcc's warnings as errors), so that the test command after the
# first rebuilds nothing, and built with one compiler per core (a bare -j
# started one per target: a load of 110 on 2 cores, several GiB of
# compilers at once).
set -eu
cd "$(dirname "$0")/.."
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DNORMLAB_WERROR=ON >/dev/null
cmake --build build -j "$(nproc)"
