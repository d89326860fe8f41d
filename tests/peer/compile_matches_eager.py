"""torch_run.py's compiled modes train what eager trains: every --mode
(torch_run.MODES) on one small config (an MLP with batch norm on synthetic
data, so running statistics and the train-mode evaluation are in it), and
each compiled run's metrics.csv against eager's row by row, losses within
float reassociation (inductor fuses and reorders). This is what the warm-up
before the clock must keep: its steps move the weights, the running
statistics and the optimizer, and all of them must start over, or the first
rows differ by far more. Also: compile_s is recorded for a compiled mode
(null eager), the warm-up compiled graphs and the timed run none
(graphs_compiled_in_run 0: compilation is kept out of the steady state
explicitly), and the mode and torch version are in summary.json.

    .venv-peer/bin/python tests/peer/compile_matches_eager.py SOURCE_DIR NORMLAB
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

SRC, NORMLAB = sys.argv[1], sys.argv[2]
sys.path.insert(0, os.path.join(SRC, "experiments", "bench"))
import torch_run  # noqa: E402

# measured: 5.7e-6 at most, compile and max-autotune (torch 2.15), the CSV's 6
# digits; the warm-up's 2 steps left in move the first rows by ~30%
REL = 1e-4


def rows(run_dir):
    with open(os.path.join(run_dir, "metrics.csv")) as f:
        return [(r["step"], r["split"], float(r["loss"])) for r in csv.DictReader(f)]


def main():
    tmp = tempfile.mkdtemp(prefix="normlab-peer-")
    config = os.path.join(tmp, "config.yaml")
    with open(config, "w") as f:
        subprocess.run([NORMLAB, "validate", os.path.join(SRC, "configs", "synthetic-smoke.yaml"),
                        "--set", "train.steps=12", "--set", "train.log_every=1",
                        "--set", "train.eval_every=6", "--print"], stdout=f, check=True)
    runs, failures = {}, []
    for mode in torch_run.MODES:
        out = os.path.join(tmp, mode)
        subprocess.run([sys.executable, os.path.join(SRC, "experiments", "bench", "torch_run.py"),
                        config, "--out", out, "--mode", mode, "--threads", "1"], check=True)
        with open(os.path.join(out, "summary.json")) as f:
            summary = json.load(f)
        runs[mode] = rows(out)
        compiled = mode != "eager"
        if summary["mode"] != mode or not summary["torch"]:
            failures.append("%s: summary.json mode %r torch %r" % (mode, summary["mode"],
                                                                   summary["torch"]))
        if compiled != (summary["compile_s"] is not None and summary["compile_s"] > 0):
            failures.append("%s: compile_s %r" % (mode, summary["compile_s"]))
        if compiled and summary["graphs_compiled_warmup"] < 1:
            failures.append("%s: no graph compiled in the warm-up" % mode)
        if summary["graphs_compiled_in_run"] != 0:
            failures.append("%s: %d graphs compiled in the timed run" % (
                mode, summary["graphs_compiled_in_run"]))
        print("%s: %d rows, compile_s %s" % (mode, len(runs[mode]), summary["compile_s"]))
    for mode, got in runs.items():
        want = runs["eager"]
        if [(s, p) for s, p, _ in got] != [(s, p) for s, p, _ in want]:
            failures.append("%s: the rows are not eager's" % mode)
            continue
        for (step, split, a), (_, _, b) in zip(got, want):
            if abs(a - b) > REL * max(abs(b), 1e-3):
                failures.append("%s: step %s %s loss %.6g, eager %.6g" % (mode, step, split, a, b))
    for line in failures:
        print("FAIL " + line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
