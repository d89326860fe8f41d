#!/bin/sh
# Installs the Debian packages normlab needs to build, test and render plots,
# when they are missing (bible-kjv: the build makes the default text corpus
# from it; qemu-user: test_portable runs normlab on emulated older CPUs;
# g++ and python3: the cuda_emu test compiles the CUDA backend as C++).
# Runs apt-get as root, or through sudo.
set -eu
packages="cmake make gcc pkg-config libyaml-dev libopenblas-openmp-dev zlib1g-dev check gnuplot-nox dataset-fashion-mnist libopenmpi-dev openmpi-bin bible-kjv qemu-user g++ python3"
missing=""
for p in $packages; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "normlab: installing$missing" >&2
if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends $missing >/dev/null
