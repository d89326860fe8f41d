#!/bin/sh
# Installs the Debian packages normlab needs to build, test and render plots,
# when they are missing (libdnnl-dev: oneDNN, which runs the convolutions
# and the products it wins, cpu/conv_onednn.c and products.c; bible-kjv: the
# build makes the default text corpus from it; qemu-user: test_portable runs normlab on emulated older CPUs;
# g++ and python3: the cuda_emu test compiles the CUDA backend as C++;
# chromium: test_report_browser loads normlab report's page in it), and
# TensorBoard from PyPI into .venv-tb for test_tensorboard (pinned in
# tests/tensorboard/requirements.txt; where PyPI cannot be reached the
# test skips). Runs apt-get as root, or through sudo.
#
# `tests/deps.sh slurm` installs only what the labels slurm and cluster
# need besides: Slurm's daemons and client, munge, and the tools that make
# the cluster's hosts (their first test, slurm_deps, runs it).
set -eu
packages="cmake make gcc git pkg-config libyaml-dev libopenblas-openmp-dev libdnnl-dev zlib1g-dev libsqlite3-dev check gnuplot-nox dataset-fashion-mnist libopenmpi-dev openmpi-bin bible-kjv qemu-user g++ python3 python3-venv chromium"
[ "${1:-}" = slurm ] && packages="slurmctld slurmd munge slurm-client iproute2 util-linux"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
    echo "normlab: installing$missing" >&2
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
[ "${1:-}" = slurm ] && exit 0

# .venv-tb, made again when the requirements change; a copy of them inside
# says which it holds
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv-tb"
requirements="$root/tests/tensorboard/requirements.txt"
if ! cmp -s "$requirements" "$venv/requirements.txt"; then
    echo "normlab: installing TensorBoard from PyPI into .venv-tb (for test_tensorboard)" >&2
    rm -rf "$venv"
    if python3 -m venv "$venv" >/dev/null 2>&1 && "$venv/bin/pip" install -q -r "$requirements" >/dev/null 2>&1; then
        cp "$requirements" "$venv/requirements.txt"
    else
        echo "normlab: could not make .venv-tb (no PyPI?): test_tensorboard will be skipped" >&2
        rm -rf "$venv"
    fi
fi
