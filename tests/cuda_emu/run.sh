#!/bin/bash
# Builds tests/test_cuda_parity.c with core/cuda running on an emulated GPU
# (see README.md) and runs it. x86-64 Linux, g++ >= 10, the project's
# build dependencies; no CUDA toolkit and no GPU needed.
#   tests/cuda_emu/run.sh [build-dir]     (default /tmp/normlab-cuda-emu)
# The environment passes through: EMU_SMS (the emulated SM count, default 2),
# NL_PARITY_QUICK=1 (leave out the large shapes), CK_RUN_CASE=ops|norms|formula|tokens|training|resident|recorded|threads|precision|...
set -e
E=$(cd "$(dirname "$0")" && pwd)
R=$(cd "$E/../.." && pwd)
B=${1:-/tmp/normlab-cuda-emu}
mkdir -p "$B/obj" "$B/gen"
rm -rf "$B/src" && python3 "$E/prep.py" "$R/core/cuda" "$B/src/cuda"
echo '#define NORMLAB_GIT_COMMIT "emulated"' > "$B/gen/version_git.h"
# CMake compiles the CPU kernels once more per instruction set and lists the
# sets here; this build compiles them once, with its own flags
echo '#define NL_CPU_KERNEL_SETS(X)' > "$B/gen/cpu_kernel_sets.h"
# the plot templates, embedded as CMake's build embeds them
cmake -DOUTPUT="$B/gen/plot_templates.c" -DTEMPLATE_DIR="$R/plots" -P "$R/core/plot/embed_templates.cmake"
# and normlab report's page assets, as CMakeLists.txt embeds them
cmake -DOUTPUT="$B/gen/report_assets.c" -DTEMPLATE_DIR="$R/core/report/assets" -DGLOB='report.*' \
      -DHEADER=report/assets.h -DTYPE=nl_report_asset -DTABLE=nl_report_assets -DCOUNT=nl_n_report_assets \
      -DNAME_PART=NAME -P "$R/core/plot/embed_templates.cmake"
OB=/usr/include/$(gcc -print-multiarch)/openblas-openmp
OL=/usr/lib/$(gcc -print-multiarch)/openblas-openmp
FL="-O1 -g -ffp-contract=off"
# Locals nobody initialized hold a pattern (0xfe bytes), as a real build's
# stack holds whatever the last call left: a struct field a test forgets
# (test_pool's nl_pool_geom.block once sent the CPU down its channel-blocked
# path on an H100's host and not here) then fails here too, every time.
if echo 'int main(void){return 0;}' | gcc -x c -ftrivial-auto-var-init=pattern -o /dev/null - 2>/dev/null; then
    FL="$FL -ftrivial-auto-var-init=pattern"
fi
# compiles run EMU_JOBS at a time (default: the cores), and a failed one
# stops the script
jobs_max=${EMU_JOBS:-$(nproc)}
throttle() { while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do wait -n; done; }
wait_all() { while [ -n "$(jobs -rp)" ]; do wait -n; done; }
# -I core: the 16-bit float conversions round with core/base/precision.h
g++ -std=c++17 $FL -Wall -I"$E/include" -I"$R/core" -c "$E/emu.cpp" -o "$B/obj/emu.o"
# the emulator's own capture and graph semantics first (selftest.cpp)
g++ -std=c++17 $FL -Wall -pthread -I"$E/include" -I"$R/core" "$E/selftest.cpp" "$B/obj/emu.o" -o "$B/emu_selftest"
"$B/emu_selftest"
for f in "$B"/src/cuda/*.cpp; do
    throttle
    g++ -std=c++17 $FL -Wall -Wno-unused-function -Wno-unknown-pragmas -D_DEFAULT_SOURCE \
        -I"$E/include" -I"$B/src" -I"$R/core" -c "$f" -o "$B/obj/cuda_$(basename "$f" .cpp).o" &
done
wait_all
objs=""
core_objs=""
cmd_objs=""
for f in $(cd "$R" && find core cmd -name '*.c') tests/testutil.c tests/norm_space.c tests/test_cuda_parity.c; do
    o="$B/obj/$(echo "$f" | tr / _).o"
    throttle
    gcc -std=c11 $FL -fopenmp -Wno-unknown-pragmas -DNORMLAB_HAVE_CUDA=1 \
        -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE -DNORMLAB_VERSION=\"emulated\" \
        -DNORMLAB_SOURCE_DIR=\"$R\" -DNORMLAB_BUILT_BINARY=\"/bin/false\" \
        -I"$R/core" -I"$R/cmd" -I"$R/tests" -I"$B/gen" -I"$OB" $(pkg-config --cflags yaml-0.1 check) \
        -c "$R/$f" -o "$o" &
    case "$f" in
    core/*) core_objs="$core_objs $o" ;;
    cmd/*) cmd_objs="$cmd_objs $o" ;;
    *) objs="$objs $o" ;;
    esac
done
for g in plot_templates report_assets; do
    gcc -std=c11 $FL -I"$R/core" -c "$B/gen/$g.c" -o "$B/obj/$g.o"
    core_objs="$core_objs $B/obj/$g.o"
done
wait_all
g++ -fopenmp -pthread -o "$B/test_cuda_parity" $objs $core_objs "$B"/obj/cuda_*.o "$B/obj/emu.o" -L"$OL" \
    -Wl,-rpath,"$OL" -lopenblas $(pkg-config --libs check yaml-0.1) -lsqlite3 -lz -lm
# the command-line program on the emulated GPU, for sweep_check.sh
g++ -fopenmp -pthread -o "$B/normlab" $cmd_objs $core_objs "$B"/obj/cuda_*.o "$B/obj/emu.o" -L"$OL" \
    -Wl,-rpath,"$OL" -lopenblas $(pkg-config --libs yaml-0.1) -lsqlite3 -lz -lm
cd "$B" && CK_FORK=no ./test_cuda_parity
