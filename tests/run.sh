#!/bin/sh
# The test command: installs what is missing, builds into build/, and runs
# the default test suite through CTest: everything but the labels "long",
# "fuzz" and "sanitize" (see the README). Those: ctest --test-dir build -L LABEL
set -eu
cd "$(dirname "$0")/.."
tests/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)"
ctest --test-dir build --output-on-failure -j "$(nproc)" -LE "long|fuzz|sanitize" "$@"
