#!/usr/bin/python3
"""Writes tests/fixtures/autocast_e2e.nlfx: PyTorch's per-step training
losses of the quickstart CNN and the synthetic LM over 20 steps, in fp32 and
under torch.autocast("cpu", dtype=torch.bfloat16), over several seeds: the
seed bands tests/test_autocast_e2e.c checks normlab's train.precision
against.

    cmake --build build
    /usr/bin/python3 tests/golden/make_autocast_e2e.py [--normlab build/normlab] [--seeds 8]
        [--measure 8]

Each run is experiments/bench/torch_run.py (PyTorch's side of `normlab bench
--run`) on the config normlab resolves (`normlab validate CONFIG --set ...
--print`), with the case's settings, `seed` and `train.precision` set: the
same data, model, initialization distribution, optimizer and schedule, not
the same draws (the seeds make the band). A separate script from
make_goldens.py because it needs normlab's resolved configs and the data.

The fixture holds per case (CASES: the names the test iterates):
    <case>.config         the config's path from the repository root (int32 chars)
    <case>.set            its settings, "key=value" separated by spaces (int32 chars)
    <case>.torch_fp32     [seeds, steps] training losses, fp32
    <case>.torch_bf16     [seeds, steps] the same seeds under bf16 autocast
and "cases" (their count), "names" (theirs, separated by spaces). --measure K also runs normlab fp32 for seeds
1..K and prints how far each lies outside PyTorch's fp32 band: the margins
written in the test come from that (nothing of it is stored).
"""
import argparse
import csv
import os
import subprocess
import sys
import tempfile

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
TORCH_RUN = os.path.join(ROOT, "experiments", "bench", "torch_run.py")
STEPS = 20
# 20 steps with a row each; evaluations only at the start and the end, on a
# small test split (they are not compared)
COMMON = ["train.steps=%d" % STEPS, "train.log_every=1", "train.eval_every=%d" % STEPS]
CASES = [
    # the quickstart's learning rate of 0.05 (momentum 0.9) throws the first
    # 20 steps' losses between 1 and 13 from seed to seed; at 0.01 they
    # descend, and the band says something
    ("cnn", "configs/quickstart-cnn.yaml",
     COMMON + ["data.test_size=500", "train.optimizer.lr=0.01"]),
    # the LM narrowed and shortened (d_model 64, 2 blocks): PyTorch's bf16
    # products on a CPU without AVX512-BF16 run ~10x slower than fp32; a
    # 5-step warmup so that the 20 steps reach the learning rate and learn
    ("lm", "configs/lm-synthetic.yaml",
     COMMON + ["data.test_size=4096", "model.d_model=64", "model.layers=2",
               "train.schedule.warmup_steps=5"]),
]
PRECISIONS = ("fp32", "bf16")


def resolved(normlab, config, settings):
    cmd = [normlab, "validate", os.path.join(ROOT, config), "--print"]
    for s in settings:
        cmd += ["--set", s]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return yaml.safe_load(out)


def train_losses(metrics):
    with open(metrics, newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["split"] == "train"]
    losses = [float(r["loss"]) for r in rows]
    if len(losses) != STEPS or [int(r["step"]) for r in rows] != list(range(1, STEPS + 1)):
        sys.exit("%s: %d train rows, not one per step for %d steps" % (metrics, len(rows), STEPS))
    return losses


def torch_losses(cfg, seed, precision, work):
    cfg = dict(cfg, seed=seed)
    cfg["train"] = dict(cfg["train"], precision=precision)
    path = os.path.join(work, "config.yaml")
    with open(path, "w") as f:
        yaml.safe_dump(cfg, f)
    out = os.path.join(work, "run")
    # the normalizers fed fp32, as normlab's bf16 keeps them: the band is
    # of the same semantics, not of plain autocast's bf16 normalizers
    subprocess.run([sys.executable, TORCH_RUN, path, "--out", out, "--threads", "1",
                    "--fp32-normalizers"], check=True, stdout=subprocess.DEVNULL)
    return train_losses(os.path.join(out, "metrics.csv"))


def normlab_losses(normlab, config, settings, seed, work):
    out = os.path.join(work, "normlab-%d" % seed)
    cmd = [normlab, "run", os.path.join(ROOT, config), "--quiet", "--threads", "2", "--force",
           "--out", out, "--set", "seed=%d" % seed]
    for s in settings:
        cmd += ["--set", s]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    return train_losses(os.path.join(out, "metrics.csv"))


def chars(text):
    """a string as the fixture stores it: int32 characters (tu_get_string)"""
    import torch
    return torch.tensor([ord(c) for c in text], dtype=torch.int32)


def outside(loss, lo, hi):
    return max(lo - loss, loss - hi, 0.0)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--normlab", default=os.path.join(ROOT, "build", "normlab"))
    ap.add_argument("--seeds", type=int, default=8)
    ap.add_argument("--measure", type=int, default=0,
                    help="normlab fp32 seeds 1..K against the fp32 band (printed only)")
    a = ap.parse_args()
    import torch
    sys.path.insert(0, HERE)
    from make_goldens import OUT, Fixture

    fx = Fixture()
    fx.add("cases", torch.tensor([len(CASES)], dtype=torch.int32))
    fx.add("names", chars(" ".join(name for name, _, _ in CASES)))
    with tempfile.TemporaryDirectory(prefix="autocast-e2e-") as work:
        for name, config, settings in CASES:
            cfg = resolved(a.normlab, config, settings)
            bands = {}
            for precision in PRECISIONS:
                runs = [torch_losses(cfg, seed, precision, work) for seed in range(1, a.seeds + 1)]
                bands[precision] = torch.tensor(runs, dtype=torch.float32)
                fx.add("%s.torch_%s" % (name, precision), bands[precision])
            fx.add("%s.config" % name, chars(config))
            fx.add("%s.set" % name, chars(" ".join(settings)))
            fp32, bf16 = bands["fp32"], bands["bf16"]
            width = fp32.max(0).values - fp32.min(0).values
            shift = ((bf16 - fp32).abs() / fp32).max(1).values
            print("%s: %d seeds; fp32 band width per step %.4f..%.4f (median %.4f); bf16 against "
                  "fp32, the same seed, largest relative difference per seed %.2e..%.2e" % (
                      name, a.seeds, width.min(), width.max(), width.median(), shift.min(),
                      shift.max()))
            lo, hi = fp32.min(0).values.tolist(), fp32.max(0).values.tolist()
            for seed in range(1, a.measure + 1):
                got = normlab_losses(a.normlab, config, settings, seed, work)
                excess = [outside(v, lo[s], hi[s]) for s, v in enumerate(got)]
                worst = max(range(STEPS), key=lambda s: excess[s])
                print("  normlab fp32 seed %d: %d of %d steps outside, by at most %.4f "
                      "(step %d: %.4f, band %.4f..%.4f)" % (
                          seed, sum(e > 0 for e in excess), STEPS, excess[worst], worst + 1,
                          got[worst], lo[worst], hi[worst]))
    os.makedirs(OUT, exist_ok=True)
    fx.write("autocast_e2e.nlfx")


if __name__ == "__main__":
    sys.exit(main())
