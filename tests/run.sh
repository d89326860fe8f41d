#!/bin/sh
# The test command: installs what is missing, builds into build/ (the
# README's first command's build, tests/build.sh: nothing again after it), and runs
# the default test suite (everything but the "long", "heavy", "slurm",
# "fuzz", "sanitize", "mpi" and "cluster" labels) through CTest.
# Long checks: ctest --test-dir build -L long --output-on-failure
# A second build and emulated runs of it (test_portable, cuda_emu):
#   ctest --test-dir build -L heavy --output-on-failure
# MPI (runs mpirun): ctest --test-dir build -L mpi --output-on-failure
# Slurm (starts daemons; root): ctest --test-dir build -L slurm --output-on-failure
# A cluster of namespaces (root): ctest --test-dir build -L cluster --output-on-failure
set -eu
cd "$(dirname "$0")/.."
tests/deps.sh
tests/build.sh
ctest --test-dir build --output-on-failure -j "$(nproc)" -LE "long|heavy|slurm|fuzz|sanitize|mpi|cluster" "$@"
