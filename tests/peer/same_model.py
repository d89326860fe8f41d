"""torch_run.py trains the model normlab trains: for each architecture it
mirrors (one case per cell and per resnet placement), normlab's own initial
weights loaded into torch_run.py's model by name (--init-from: `normlab
show --params` and normlab_files.read_final_model) and fed normlab's own
batches (--normlab-order), the first steps' training losses and the
step-0 evaluation must equal normlab's to float rounding. A model that
differs anywhere (a missing norm, a bias, a gate order, GELU's form, the
pooling, the data's scaling) moves the first loss by far more.

normlab's initial weights: a one-step run at learning rate 1e-30 (the step
moves no weight by a representable amount, a zero-initialized bias to
about 1e-30), whose final.nlck holds them; its losses: a run of STEPS
steps logging every one (metrics.csv writes 9 digits).

    .venv-peer/bin/python tests/peer/same_model.py SOURCE_DIR NORMLAB [bench]

bench: instead of the small models of every architecture, the models
experiments/bench/run_archs.sh times against torch (the cnn, resnet, lm and
vit at their configs' sizes, batch 16).
"""
import csv
import os
import subprocess
import sys
import tempfile

SRC, NORMLAB = sys.argv[1], sys.argv[2]
BENCH = sys.argv[3:] == ["bench"]
STEPS = 4
# float32's rounding, a few steps on: the largest relative difference
# measured was 3.2e-6 (torch 2.15, one thread a side, Xeon AVX-512), the cnn
# at step 2: its channels_last convolutions (oneDNN's NHWC) add in another
# order than normlab's, 1.5e-7 apart at step 1, and the steps amplify it; in
# NCHW it was 3.3e-7. A model that is not the same starts apart by 1e-3 or
# more.
REL = 1e-5
FASHION = ["data.train_size=512", "data.test_size=128", "train.eval_batch_size=128"]
TEXT = ["data.vocabulary=bytes", "data.train_size=20000", "data.test_size=2048",
        "train.eval_batch_size=16"]
QUICK = "configs/quickstart-cnn.yaml"
CASES = [  # (name, base config, --set overrides)
    ("mlp", QUICK, FASHION + ["model.arch=mlp", "model.widths=[64,32]", "train.batch_size=32"]),
    # at the quickstart's lr 0.05 the loss jumps (3.8, 4.9, 3.2, 1.5), which
    # amplifies step 1's rounding (5e-8) 500 times by step 4
    ("cnn", QUICK, FASHION + ["model.widths=[8,16]", "train.batch_size=16",
                             "train.optimizer.lr=0.01"]),
    ("resnet-post-batch", "configs/resnet-pre-layer.yaml",
     FASHION + ["model.norm.type=batch", "model.norm.placement=post", "model.widths=[8,16]",
                "train.batch_size=16"]),
    ("resnet-pre-layer", "configs/resnet-pre-layer.yaml",
     FASHION + ["model.widths=[8,16]", "train.batch_size=16"]),
    ("lm", "configs/lm-kjv-small.yaml",
     TEXT + ["model.d_model=32", "model.layers=2", "model.context=32", "train.batch_size=4"]),
    ("vit", "configs/vit-fashion.yaml",
     FASHION + ["model.d_model=32", "model.layers=2", "train.batch_size=16"]),
    ("lstm", "configs/lstm-fashion.yaml", FASHION + ["model.hidden=32", "train.batch_size=16"]),
    ("gru", "configs/lstm-fashion.yaml",
     FASHION + ["model.cell=gru", "model.hidden=32", "train.batch_size=16"]),
    ("lstm-in-cell-layer", "configs/lstm-ln-fashion.yaml",
     FASHION + ["model.hidden=32", "train.batch_size=16"]),
    ("gru-in-cell-rms", "configs/lstm-ln-fashion.yaml",
     FASHION + ["model.cell=gru", "model.norm.type=rms", "model.hidden=32",
                "train.batch_size=16"]),
    ("rnn_lm", "configs/lstm-kjv.yaml",
     TEXT + ["model.hidden=32", "model.context=32", "train.batch_size=4"]),
]


# the models the bench times (experiments/bench/run_archs.sh), batch 16
IMAGES = ["data.train_size=512", "data.test_size=128", "train.eval_batch_size=128",
          "train.batch_size=16"]
BENCH_CASES = [
    ("bench-cnn", QUICK, IMAGES + ["train.optimizer.lr=0.01"]),
    ("bench-resnet", "configs/resnet-pre-layer.yaml", IMAGES),
    # bytes, as TEXT: the layout `normlab show --params` gives reads no corpus
    ("bench-lm", "configs/lm-kjv-small.yaml",
     ["data.vocabulary=bytes", "data.test_size=2048", "train.eval_batch_size=16", "train.batch_size=16",
      "train.schedule.warmup_steps=0"]),
    ("bench-vit", "configs/vit-fashion.yaml", IMAGES + ["train.schedule.warmup_steps=0"]),
]


def normlab(*args):
    """normlab quietly (the short runs' warnings about the schedule say nothing here)"""
    subprocess.run([NORMLAB] + list(args), check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def losses(run_dir):
    """{(step, split): loss} of a metrics.csv's train rows and step-0 test row"""
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return {(int(r["step"]), r["split"]): float(r["loss"]) for r in csv.DictReader(f)
                if r["split"] == "train" or (r["split"] == "test" and r["step"] == "0")}


def case(tmp, name, base, sets):
    work = os.path.join(tmp, name)
    os.makedirs(work)
    config = os.path.join(work, "config.yaml")
    sets = sets + ["train.steps=%d" % STEPS, "train.log_every=1", "train.eval_every=1000000"]
    args = [a for s in sets for a in ("--set", s)]
    with open(config, "w") as f:
        subprocess.run([NORMLAB, "validate", os.path.join(SRC, base), "--print"] + args,
                       stdout=f, stderr=subprocess.DEVNULL, check=True)
    init, ref, peer = (os.path.join(work, d) for d in ("init", "normlab", "torch"))
    normlab("run", config, "--out", init, "--threads", "1", "--quiet", "--set", "train.steps=1",
            "--set", "train.optimizer.lr=1e-30")
    normlab("run", config, "--out", ref, "--threads", "1", "--quiet")
    subprocess.run([sys.executable, os.path.join(SRC, "experiments", "bench", "torch_run.py"),
                    config, "--out", peer, "--threads", "1", "--init-from", init,
                    "--normlab-order", "--normlab", NORMLAB,
                    "--data-path", os.path.join(os.path.dirname(NORMLAB), "data", "kjv.txt")],
                   check=True, stdout=subprocess.DEVNULL)
    want, got = losses(ref), losses(peer)
    failures, worst = [], 0.0
    if sorted(want) != sorted(got):
        return ["%s: rows %s, normlab's %s" % (name, sorted(got), sorted(want))], worst
    for key in sorted(want):
        rel = abs(got[key] - want[key]) / abs(want[key])
        worst = max(worst, rel)
        if rel > REL:
            failures.append("%s: step %d %s loss %.9g, normlab %.9g (relative %.2g)"
                            % (name, key[0], key[1], got[key], want[key], rel))
    return failures, worst


def main():
    tmp = tempfile.mkdtemp(prefix="normlab-same-model-")
    failures = []
    for name, base, sets in BENCH_CASES if BENCH else CASES:
        bad, worst = case(tmp, name, base, sets)
        print("%-20s largest relative difference %.2g over the step-0 evaluation and %d steps"
              % (name, worst, STEPS), flush=True)
        failures += bad
    for line in failures:
        print("FAIL " + line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
