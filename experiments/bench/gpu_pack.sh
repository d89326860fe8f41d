#!/bin/bash
# Packs what experiments/bench/gpu_checklist.sh needs on a GPU machine that
# has the NVIDIA driver, CUDA and PyTorch but none of the Debian libraries
# (../shared/GPU.md): the binaries of a CUDA build, the CUDA module, the
# shared libraries ldd names outside the C library and CUDA's own, a
# Fashion-MNIST subset as gzipped IDX files, and each timed config resolved
# to JSON for the PyTorch peer (which then needs neither PyYAML nor numpy).
#
#   cmake -S . -B build-gpu -DNORMLAB_CUDA=ON -DNORMLAB_NATIVE=OFF -DCMAKE_CUDA_ARCHITECTURES=90
#   cmake --build build-gpu -j2
#   bash experiments/bench/gpu_pack.sh build-gpu .gpu/bundle.tar.xz
#
# The bundle is about 25 MB (xz); .gpu/ is git-ignored, so the device tool
# carries it by name.
set -eu
build=${1:?build directory}
bundle=${2:?bundle file}
here=$(cd "$(dirname "$0")/../.." && pwd)
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/lib" "$stage/data" "$stage/configs"
bins="normlab tests/test_cuda_parity tests/test_conv_onednn bench_cuda_norm bench_layer_times"
for b in $bins libnormlab_cuda.so; do cp "$build/$b" "$stage/"; done
# every library the binaries load, except the C library and the loader
# (the machine's own) and CUDA's (the machine's CUDA matches its driver)
(cd "$build" && ldd $bins libnormlab_cuda.so) | awk '/=> \//{print $3}' | sort -u |
    grep -v -E '/(libc|libm|libdl|librt|libpthread|ld-linux[^/]*)\.so|libcublas|libcudart' |
    while read -r lib; do cp -L "$lib" "$stage/lib/"; done
# the parity suite's check cases, for the sanitizers to take one at a time
# (not coverage: it reads what the other cases counted in the same process)
grep -o 'tcase_create("[a-z_0-9]*")' "$here/tests/test_cuda_parity.c" | sed 's/.*("\(.*\)")/\1/' |
    grep -v '^coverage$' > "$stage/cases.txt"
[ -s "$stage/cases.txt" ] || { echo "gpu_pack.sh: no check cases found in test_cuda_parity.c" >&2; exit 1; }
# Fashion-MNIST: the first 10,000 training and 2,000 test samples
python3 - "$stage/data" <<'PY'
import gzip, struct, sys
src, dst = "/usr/share/datasets/fashion-mnist", sys.argv[1]
for split, n in (("train", 10000), ("t10k", 2000)):
    for kind, item in (("images-idx3", 784), ("labels-idx1", 1)):
        raw = gzip.open("%s/%s-%s-ubyte.gz" % (src, split, kind)).read()
        dims = raw[3]
        head = bytearray(raw[:4 + 4 * dims])
        struct.pack_into(">I", head, 4, n)
        with gzip.open("%s/%s-%s-ubyte.gz" % (dst, split, kind), "wb") as f:
            f.write(bytes(head) + raw[4 + 4 * dims:4 + 4 * dims + n * item])
PY
py=python3
[ -x "$here/.venv-peer/bin/python" ] && py="$here/.venv-peer/bin/python"
for c in $(sed -n 's/^TIMED_CONFIGS="\(.*\)"$/\1/p' "$here/experiments/bench/gpu_checklist.sh"); do
    "$build/normlab" validate --print "$here/configs/$c.yaml" |
        "$py" -c 'import json, sys, yaml; json.dump(yaml.safe_load(sys.stdin), sys.stdout)' \
        > "$stage/configs/$c.json"
done
mkdir -p "$(dirname "$bundle")"
tar -C "$stage" -cJf "$bundle" .
ls -la "$bundle"
