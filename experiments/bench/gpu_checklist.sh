#!/bin/bash
# The CUDA checklist on a lent GPU machine, in one command that fits the
# device tool's time: correctness first (the parity suite's check cases,
# one process each, a few side by side, then compute-sanitizer's four tools
# side by side, each over the quick suite's check cases one at a time), then
# the timings one at a time: normlab's
# training rate with the step recorded as a CUDA graph or not and the
# dataset resident or not, PyTorch's training step eager and in one CUDA
# graph on the same models (torch_cuda_step.py), and the normalization
# kernels against PyTorch's. Every result is packed into
# $OUT/checklist.tar.gz as soon as it exists, so a run cut off by its limit
# still returns what it measured.
#
#   bash experiments/bench/gpu_pack.sh build-gpu .gpu/bundle.tar.xz     # here
#   OUT=DIR bash experiments/bench/gpu_checklist.sh [.gpu/bundle.tar.xz] # there
#
# BUDGET_S (default 500) is the seconds the whole script may take; a timing
# step that would start past it is skipped and said so in steps.txt.
set -u
TIMED_CONFIGS="mlp-batch quickstart-cnn resnet-pre-layer vit-fashion lm-synthetic"
dest=$(cd "${OUT:?set OUT to the folder for the results}" && pwd) || exit 1
# the device tool brings back only a few files: everything is written to
# $out and packed into $dest/checklist.tar.gz after every step
out=$(mktemp -d /tmp/nlgpu-out.XXXX)
# SECTIONS picks parts (default all): parity sanitizers amx profile runs torch kernels;
# PARITY_CASES (default: every case, cases.txt of the bundle) narrows the parity
# suite, PARITY_JOBS (default 3) cases run side by side, PARITY_LIMIT_S
# (default 200) the seconds they all may take;
# SANITIZER_TOOLS, SANITIZER_CASES (default: every case, cases.txt of the bundle) and
# SANITIZER_LIMIT_S (each tool's seconds) narrow the sanitizers
sections=" ${SECTIONS:-parity sanitizers amx profile runs torch kernels} "
want() { [[ $sections == *" $1 "* ]]; }
pack() { tar -czf "$dest/checklist.tar.gz" -C "$out" . && cp "$out/steps.txt" "$dest/" 2>/dev/null; }
bundle=$(realpath "${1:-.gpu/bundle.tar.xz}") || exit 1
budget=${BUDGET_S:-500}
G=$(mktemp -d /tmp/nlgpu.XXXX)
python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$bundle" "$G" || exit 1

# cuBLAS and the runtime: the machine's CUDA, or the wheels PyTorch brought
cuda_lib=
for d in /usr/local/cuda/targets/x86_64-linux/lib /usr/local/cuda-13*/targets/x86_64-linux/lib \
         /usr/local/cuda/lib64 $(python3 -c 'import nvidia, os; print(" ".join(os.path.join(p, s, "lib") for p in nvidia.__path__ for s in ("cublas", "cuda_runtime", "cu13")))' 2>/dev/null); do
    if [ -e "$d/libcublas.so.13" ] || [ -e "$d/libcudart.so.13" ]; then cuda_lib="$cuda_lib:$d"; fi
done
export LD_LIBRARY_PATH="$G/lib$cuda_lib"
export NORMLAB_CUDA_MODULE=$G/libnormlab_cuda.so
sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)

note() { echo "$*" | tee -a "$out/steps.txt"; }
# step NAME LIMIT_S CMD...: runs CMD with its output in NAME.txt and notes its status and time
step() {
    local name=$1 limit=$2 t0=$SECONDS
    shift 2
    timeout "$limit" "$@" > "$out/$name.txt" 2>&1
    note "$name: exit $? in $((SECONDS - t0)) s"
    pack
}
# a timing step starts only while the budget lasts
timed() {
    if [ $((SECONDS + 20)) -gt "$budget" ]; then note "$1: skipped, budget spent at $SECONDS s"; return; fi
    step "$@"
}

{
    date -u; uname -a
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    lscpu | grep -E 'Model name|^CPU\(s\)'
    echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH"; echo "sanitizer=$sanitizer"
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())'
    "$G/normlab" --version
} > "$out/machine.txt" 2>&1
note "machine: $(head -3 "$out/machine.txt" | tail -1)"

# ---- correctness (none of it is timed) ----
# one line per output file: check's totals or, for a process cut off by its
# limit, how many tests had passed by then; the failures and the sanitizer's
# summary
# check prints a test's result only when its whole case ends, so a case
# cut off by its limit is read from the TAP log each test is written to as
# it ends (NAME.tap beside NAME.txt)
summarize() {
    local f tap totals
    for f in "$@"; do
        tap="$out/${f%.txt}.tap"
        totals=$(grep -E '^[0-9]+%: Checks' "$out/$f")
        [ -n "$totals" ] || totals="cut off: $(grep -c '^ok' "$tap" 2>/dev/null) tests passed before, $(grep -c '^not ok' "$tap" 2>/dev/null) failed; the last to end: $(tail -1 "$tap" 2>/dev/null | sed 's/.*://')"
        note "${f%.txt}: $totals $(grep -hE 'ERROR SUMMARY|RACECHECK SUMMARY|:[EF]:|^not ok' "$out/$f" "$tap" 2>/dev/null | head -12 | tr '\n' ' ')"
    done
}
# The parity suite one check case per process (in one process it took
# more than 200 s on an H100: norms 108 s, training 66 s), PARITY_JOBS at a
# time, before the sanitizers. check prints its results only when a case
# ends (on an H100 on 11-28 four cases cut off at 170 s printed nothing), so
# each test is logged as TAP as it ends and a case cut off by its limit
# still says which of its tests passed. The coverage case is left out: it
# reads what the other cases counted in the same process.
export OMP_NUM_THREADS=4 CK_VERBOSITY=verbose
lines=$(command -v stdbuf > /dev/null && echo "stdbuf -oL -eL")
if want parity; then
    plimit=${PARITY_LIMIT_S:-200} p0=$SECONDS
    for case in ${PARITY_CASES:-$(cat "$G/cases.txt")}; do
        while [ "$(jobs -rp | wc -l)" -ge "${PARITY_JOBS:-3}" ]; do wait -n; done
        left=$((plimit - (SECONDS - p0)))
        if [ "$left" -le 0 ]; then note "parity-$case: not started, $plimit s spent"; continue; fi
        CK_RUN_CASE=$case CK_TAP_LOG_FILE_NAME="$out/parity-$case.tap" \
            step "parity-$case" "$left" $lines "$G/test_cuda_parity" &
    done
    wait
    summarize $(cd "$out" && ls parity-*.txt 2>/dev/null)
    pack
fi
# Each tool takes the suite's check cases one process at a time, so that a
# tool cut off by its time still says which cases it found clean (the whole
# quick suite under one tool took more than 240 s on an H200); the tools
# run side by side.
sanitize() {
    local tool=$1 t0=$SECONDS
    for case in $cases; do
        local left=$((limit - (SECONDS - t0)))
        if [ "$left" -le 0 ]; then note "$tool-$case: not started, $limit s spent"; continue; fi
        CK_FORK=no NL_PARITY_QUICK=1 CK_RUN_CASE=$case CK_TAP_LOG_FILE_NAME="$out/$tool-$case.tap" \
            step "$tool-$case" "$left" \
            "$sanitizer" --tool "$tool" --print-limit 40 "$G/test_cuda_parity"
    done
}
if want sanitizers && [ -n "$sanitizer" ]; then
    cases=${SANITIZER_CASES:-$(cat "$G/cases.txt")}
    limit=${SANITIZER_LIMIT_S:-240}
    for tool in ${SANITIZER_TOOLS:-memcheck synccheck initcheck racecheck}; do
        sanitize "$tool" &
    done
    wait
elif want sanitizers; then
    note "sanitizers: compute-sanitizer not found"
fi
unset OMP_NUM_THREADS CK_VERBOSITY
summarize $(cd "$out" && ls {memcheck,synccheck,initcheck,racecheck}-*.txt 2>/dev/null)
pack

data="data.path=$G/data"

# ---- the host CPU's AMX kernel set (the GPU machines' Xeons have AMX) ----
# test_conv_onednn (its test_amx_tiles fails where the AMX set's bf16
# convolutions miss the tiles, and says so where the CPU has none), then
# the bench ResNet at batch 128 on one thread under the AMX set and the
# AVX512-BF16 set, bf16 and fp32: the rates, the final losses (equal to
# the last digit: no tiles) and the implementations oneDNN picked
if want amx; then
    CK_VERBOSITY=verbose step amx-test-conv-onednn 120 "$G/test_conv_onednn"
    for set in x86-64-v4-bf16-amx x86-64-v4-bf16; do
        for p in bf16 fp32; do
            NORMLAB_CPU_KERNELS=$set timed "amx-$set-$p" 120 "$G/normlab" run \
                configs/resnet-pre-layer.yaml --device cpu --threads 1 --out "$G/runs/amx-$set-$p" \
                --force --quiet --set train.batch_size=128 --set train.steps=30 \
                --set train.eval_every=1000000 --set train.precision=$p --set "$data"
            mkdir -p "$out/runs/amx-$set-$p"
            cp "$G/runs/amx-$set-$p/summary.json" "$out/runs/amx-$set-$p/" 2>/dev/null &&
                note "  amx-$set-$p: $(grep -oE '"(samples_per_s|final_test_loss)": [^,]*|"conv_kernels": "[^"]*"' \
                    "$out/runs/amx-$set-$p/summary.json" | tr '\n' ' ')"
        done
    done
    pack
fi

# ---- the ResNet's step on the GPU, layer by layer ----
# bench_layer_times waits for each layer's kernels (where the step's time
# goes: convolutions, normalizers, launches), then the same convolutions
# alone in PyTorch on cuDNN, autotuned (conv_ceiling_torch.py --device
# cuda): which of normlab's would be faster on cuDNN
if want profile; then
    timed profile-resnet 120 "$G/bench_layer_times" configs/resnet-pre-layer.yaml \
        --set device=cuda --set "$data" --batch 128 --steps 20
    timed profile-resnet-cudnn 150 python3 experiments/bench/conv_ceiling_torch.py \
        "$out/profile-resnet.txt" --device cuda
fi

# ---- normlab's training rate (one run at a time) ----
# run NAME CONFIG BATCH STEPS [--set ...]: one `normlab run`, its summary kept
# (the image configs read the bundle's Fashion-MNIST subset: $data)
run() {
    want runs || return 0
    local name=$1 config=$2 batch=$3 steps=$4
    shift 4
    timed "run-$name" 120 "$G/normlab" run "configs/$config.yaml" --device cuda --out "$G/runs/$name" \
        --force --quiet --set train.batch_size="$batch" \
        --set train.steps="$steps" --set train.eval_every=1000000 "$@"
    mkdir -p "$out/runs/$name"
    cp "$G/runs/$name/summary.json" "$G/runs/$name/metrics.csv" "$out/runs/$name/" 2>/dev/null &&
        note "  $name: $(grep -o '"samples_per_s": [0-9.e+]*' "$out/runs/$name/summary.json")"
}
for b in 2 128 1024; do
    for g in auto off; do
        run "mlp-b$b-graph-$g" mlp-batch "$b" 1000 --set "$data" --set train.cuda_graph=$g
        run "cnn-b$b-graph-$g" quickstart-cnn "$b" 400 --set "$data" --set train.cuda_graph=$g
    done
done
run mlp-b128-data-off mlp-batch 128 1000 --set "$data" --set train.device_data=off
for g in auto off; do
    run "resnet-b128-graph-$g" resnet-pre-layer 128 60 --set "$data" --set train.cuda_graph=$g
    run "vit-b128-graph-$g" vit-fashion 128 150 --set "$data" --set train.cuda_graph=$g
    run "lm-b16-graph-$g" lm-synthetic 16 300 --set train.cuda_graph=$g
done
# the recorded step and the resident data give the host path's rows (elapsed_s aside)
want runs && for pair in "mlp-b128-graph-auto mlp-b128-graph-off" "mlp-b128-graph-off mlp-b128-data-off" \
            "cnn-b128-graph-auto cnn-b128-graph-off" "lm-b16-graph-auto lm-b16-graph-off"; do
    set -- $pair
    if [ ! -e "$out/runs/$1/metrics.csv" ] || [ ! -e "$out/runs/$2/metrics.csv" ]; then
        note "rows not compared: $1 or $2 did not finish"
    elif cmp -s <(cut -d, -f1-6,8- "$out/runs/$1/metrics.csv") <(cut -d, -f1-6,8- "$out/runs/$2/metrics.csv"); then
        note "same rows: $1 = $2"
    else
        note "ROWS DIFFER: $1 vs $2"
    fi
done

# ---- PyTorch's training step on the same models ----
cd "$(dirname "$0")" || exit 1
want torch && timed torch-mlp-cnn 150 python3 torch_cuda_step.py "$G/configs/mlp-batch.json" "$G/configs/quickstart-cnn.json" \
    --batch 2 --batch 128 --batch 1024 --steps 300
want torch && timed torch-tfm-resnet 150 python3 torch_cuda_step.py "$G/configs/resnet-pre-layer.json" \
    "$G/configs/vit-fashion.json" --batch 128 --steps 60
want torch && timed torch-lm 100 python3 torch_cuda_step.py "$G/configs/lm-synthetic.json" --batch 16 --steps 300
cd - > /dev/null || exit 1

# ---- the normalization kernels ----
want kernels && timed bench-norm-normlab 90 "$G/bench_cuda_norm" --csv "$out/bench_normlab.csv"
want kernels && timed bench-norm-torch 90 python3 experiments/bench_cuda_norm_torch.py --csv "$out/bench_torch.csv"
note "done at $SECONDS s"
pack
