#!/usr/bin/python3
"""TensorBoard reads what normlab writes (test_tensorboard), with the real
TensorBoard from PyPI (.venv-tb, tests/tensorboard/requirements.txt):

  - normlab export tensorboard on committed sweeps: every scalar
    TensorBoard's event reader gives back equals metrics.csv's or
    series.csv's value at its step (as a float32), tag by tag, and
    nothing else is there;
  - the HParams plugin's own handlers (what its dashboard asks for) find
    the sweep's varied keys but the seed as hyperparameters, a session
    group per cell, and a group's mean final test accuracy equal to the
    mean of summary.csv's over its seeds;
  - train.log.tensorboard: a run's own event file equals its CSVs, also
    after it is killed and resumed from its checkpoint;
  - a 200-run sweep (a committed sweep's runs copied, tests/report/many.py)
    exports in seconds;
  - every metric tag results/usage.md names (`train/loss`, ...) is one the
    sweep's runs are exported with (it once listed a test/error that is
    never written);
  - TensorBoard's runs are the sweep's run directories, none named "."
    (the HParams experiment once had an event file at the logdir's root).

A committed sweep's runs are read from their directories or its pack
(runs.sqlite: tests/packs.py), each by its path SWEEP/runs/RUN.

    tests/tensorboard/check.py NORMLAB WORK_DIR

Run from the repository root. Exit 0 passed, 1 failed, 77 skipped (no
.venv-tb: tests/deps.sh makes it)."""
import csv
import glob
import io
import math
import os
import shutil
import signal
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import packs  # noqa: E402

ROOT = os.getcwd()
VENV_PYTHON = os.path.join(ROOT, ".venv-tb", "bin", "python")
failures = []


def check(ok, what):
    print(("ok:     " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def same(a, b):
    return (math.isnan(a) and math.isnan(b)) or a == b


# ---- what the CSV files say, tag by tag ----

NOT_PER_SPLIT = {"step": None, "split": None, "epoch": None, "elapsed_s": None, "lr": "train"}


def number(text):
    try:
        return float(text)
    except ValueError:
        return None


def run_file_text(run_dir, name):
    """the text of RUN_DIR's file NAME as open(newline="") reads it: from
    the directory, or a packed sweep's run by its path; None where neither
    has it"""
    return packs.as_text(packs.read_path(os.path.join(run_dir, name)), newline="")


def run_names(sweep):
    """the names of SWEEP's runs (glob's runs/*: no hidden entry)"""
    return [r for r in packs.run_names(sweep) if not r.startswith(".")]


def expected_scalars(run_dir):
    """{tag: [(step, float32 value), ...]} in file order"""
    want = {}
    text = run_file_text(run_dir, "metrics.csv")
    if text is None:
        raise FileNotFoundError(os.path.join(run_dir, "metrics.csv"))
    lines = text.split("\n")
    # a last line cut short is no row (normlab leaves it out too)
    for row in csv.DictReader(lines[:-1] if lines[-1] else lines):
        for column, text in row.items():
            if column in NOT_PER_SPLIT and NOT_PER_SPLIT[column] != row["split"]:
                continue
            v = number(text or "")
            if v is not None:
                want.setdefault("%s/%s" % (row["split"], column), []).append((int(row["step"]), f32(v)))
    series = run_file_text(run_dir, "series.csv")
    if series is not None:
        with io.StringIO(series, newline="") as f:
            for row in csv.DictReader(f):
                v = number(row["value"])
                if v is not None:
                    tag = "%s/%s/%s" % (row["series"], row["layer"], row["name"])
                    want.setdefault(tag, []).append((int(row["step"]), f32(v)))
    # TensorBoard orders a tag's events by step where they arrive out of order; a tag's rows are in step order
    return want


def read_back(events_dir):
    from tensorboard.backend.event_processing import event_accumulator as ea
    acc = ea.EventAccumulator(events_dir, size_guidance={ea.SCALARS: 0, ea.TENSORS: 0})
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}, acc


def compare_run(events_dir, run_dir):
    """None when every scalar matches, else what differs first"""
    want = expected_scalars(run_dir)
    got, _ = read_back(events_dir)
    if set(want) != set(got):
        return "tags differ: only in the CSVs %s, only in the events %s" % (
            sorted(set(want) - set(got))[:5], sorted(set(got) - set(want))[:5])
    for tag in want:
        if len(want[tag]) != len(got[tag]):
            return "%s: %d rows, %d events" % (tag, len(want[tag]), len(got[tag]))
        for (ws, wv), (gs, gv) in zip(want[tag], got[tag]):
            if ws != gs or not same(wv, gv):
                return "%s: CSV step %d value %r, event step %d value %r" % (tag, ws, wv, gs, gv)
    return None


def run(args, **kw):
    return subprocess.run(args, capture_output=True, text=True, **kw)


def export(normlab, sweep, out):
    shutil.rmtree(out, ignore_errors=True)
    started = time.monotonic()
    made = run([normlab, "export", "tensorboard", sweep, "--out", out])
    took = time.monotonic() - started
    check(made.returncode == 0, "normlab export tensorboard %s: exit %d %s%s" % (sweep, made.returncode,
                                                                                made.stdout.strip(),
                                                                                made.stderr.strip()[:300]))
    return took


def check_sweep_scalars(normlab, sweep, out):
    export(normlab, sweep, out)
    runs = [os.path.join(sweep, "runs", r) for r in run_names(sweep)]
    bad = [(r, why) for r in runs for why in [compare_run(os.path.join(out, os.path.basename(r)), r)] if why]
    n = sum(len(v) for r in runs for v in expected_scalars(r).values())
    check(not bad, "%s: each of %d runs' %d scalars read back equal to the CSVs'%s" % (
        sweep, len(runs), n, "" if not bad else ": %s: %s" % bad[0]))


def hparams_groups(logdir):
    """the HParams plugin's experiment and session groups, as its dashboard asks for them"""
    import json
    from google.protobuf import json_format
    from tensorboard import context as tbcontext
    from tensorboard.backend.event_processing import data_provider, plugin_event_multiplexer as pem
    from tensorboard.plugins import base_plugin
    from tensorboard.plugins.hparams import api_pb2, get_experiment, hparams_plugin, list_session_groups
    mux = pem.EventMultiplexer()
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    tb = base_plugin.TBContext(logdir=logdir, multiplexer=mux,
                               data_provider=data_provider.MultiplexerDataProvider(mux, logdir))
    plugin = hparams_plugin.HParamsPlugin(tb)
    request_context = tbcontext.RequestContext()
    experiment = get_experiment.Handler(request_context, plugin._context, "", api_pb2.GetExperimentRequest()).run()
    request = json_format.Parse(json.dumps({
        "startIndex": 0, "sliceSize": 100000, "aggregationType": "AGGREGATION_AVG",
        "allowedStatuses": ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"],
        "colParams": [{"metric": {"tag": "test/accuracy"}, "order": "ORDER_DESC"}]}),
        api_pb2.ListSessionGroupsRequest())
    groups = list_session_groups.Handler(request_context, plugin._context, "", request).run()
    return experiment, groups


def check_hparams(sweep, logdir):
    experiment, groups = hparams_groups(logdir)
    with open(os.path.join(sweep, "summary.csv"), newline="") as f:
        rows = list(csv.DictReader(f))
    header = list(rows[0].keys())
    varied = [k for k in header[1:header.index("status")] if k != "seed" and not k.endswith(".seed")]
    names = [h.name for h in experiment.hparam_infos]
    check(sorted(names) == sorted(varied), "the HParams experiment's hyperparameters are the varied keys but "
          "the seed: %s" % names)
    # each hyperparameter's description is the key table's line on it, as
    # the config reference gives it (the dashboard shows it over the column)
    undescribed = [h.name for h in experiment.hparam_infos if not h.description]
    check(not undescribed, "each HParams hyperparameter carries its key's description%s"
          % (" (none on %s)" % undescribed if undescribed else ": %s" % experiment.hparam_infos[0].description))
    # the experiment itself is named and described as its file is: its
    # name: and its leading comment, a paragraph's lines joined
    with open(os.path.join(ROOT, "experiments", os.path.basename(sweep) + ".yaml")) as f:
        comment = []
        for line in f:
            if not line.startswith("#"):
                break
            comment.append(line[1:].strip())
    first = " ".join(comment[:comment.index("")] if "" in comment else comment)
    check(experiment.name == os.path.basename(sweep) and experiment.description.startswith(first),
          "the HParams experiment is named %r and described by its file's comment: %r"
          % (experiment.name, experiment.description[:100]))
    cells = {}
    for row in rows:
        cells.setdefault(tuple(row[k] for k in varied), []).append(float(row["final_test_accuracy"]))
    check(groups.total_size == len(cells), "a session group per cell: %d groups, %d cells" % (groups.total_size,
                                                                                         len(cells)))
    worst, uneven = 0.0, []
    for g in groups.session_groups:
        hp = {k: (v.string_value if v.HasField("string_value") else v.number_value) for k, v in g.hparams.items()}
        # the cell whose values these are: a number hyperparameter is the CSV's text read as a number
        key = tuple(hp.get(k) if isinstance(hp.get(k), str) else
                    next((r[k] for r in rows if number(r[k] or "") == hp.get(k)), None) for k in varied)
        if key not in cells:
            uneven.append("%s: its hyperparameters %s are no cell's" % (g.name, hp))
            continue
        metric = {m.name.tag: m.value for m in g.metric_values}
        mean = sum(cells[key]) / len(cells[key])
        worst = max(worst, abs(metric["test/accuracy"] - mean))
        if len(g.sessions) != len(cells[key]):
            uneven.append("%s: %d sessions, %d seeds" % (g.name, len(g.sessions), len(cells[key])))
    check(not uneven, "a group's hyperparameters are a cell's values, its sessions the cell's seeds%s" % (": " + "; ".join(uneven[:3]) if uneven else ""))
    check(worst < 1e-6, "each group's mean final test accuracy in the dashboard equals summary.csv's mean over "
          "its seeds (largest difference %.2g)" % worst)


# ---- a run's own events ----

LIVE = ["--set", "train.log.tensorboard=true", "--set", "train.log.weight_stats=true",
        "--set", "train.clip_grad_norm=5", "--threads", "1", "--quiet"]


def check_live(normlab, work):
    out = os.path.join(work, "live")
    shutil.rmtree(out, ignore_errors=True)
    made = run([normlab, "run", "configs/synthetic-smoke.yaml", "--out", out] + LIVE)
    check(made.returncode == 0, "a run with train.log.tensorboard: exit %d %s" % (made.returncode, made.stderr[:300]))
    why = compare_run(out, out)
    n = sum(len(v) for v in expected_scalars(out).values())
    check(why is None and n > 100, "the run's own event file: its %d scalars equal metrics.csv's and series.csv's%s"
          % (n, "" if why is None else ": " + why))


def last_step(run_dir):
    try:
        with open(os.path.join(run_dir, "metrics.csv")) as f:
            lines = [l for l in f.read().split("\n")[1:] if l]
        return int(lines[-1].split(",")[0]) if lines else -1
    except (OSError, ValueError):
        return -1


def check_resumed(normlab, work):
    """killed after a checkpoint, run again: the event file holds the CSVs' rows once each"""
    out = os.path.join(work, "resumed")
    shutil.rmtree(out, ignore_errors=True)
    args = [normlab, "run", "configs/synthetic-smoke.yaml", "--out", out, "--set", "train.steps=100000",
            "--set", "train.checkpoint_every=5000", "--set", "train.log_every=1000",
            "--set", "train.eval_every=20000"] + LIVE
    p = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and p.poll() is None and not (
            os.path.exists(os.path.join(out, "checkpoint.nlck")) and last_step(out) >= 20000):
        time.sleep(0.005)
    if p.poll() is not None:
        check(True, "(the run finished before it could be killed: resumption not tried)")
        return
    p.send_signal(signal.SIGKILL)
    p.wait()
    killed_at = last_step(out)
    again = run(args)
    check(again.returncode == 0 and "resum" in (again.stdout + again.stderr).lower(),
          "killed at step %d, run again: exit %d, resumed" % (killed_at, again.returncode))
    why = compare_run(out, out)
    check(why is None, "after resuming, the event file equals the CSVs%s" % ("" if why is None else ": " + why))


def runs_listed(sweep, logdir, what):
    from tensorboard.backend.event_processing import plugin_event_multiplexer as pem
    mux = pem.EventMultiplexer()
    mux.AddRunsFromDirectory(logdir)
    mux.Reload()
    listed = sorted(mux.Runs())
    runs = run_names(sweep)
    at_root = [f for f in os.listdir(logdir) if os.path.isfile(os.path.join(logdir, f))]
    check(listed == runs and not at_root, "%s: TensorBoard lists %d runs for %d run directories, none named "
          "\".\", no file at the logdir's root%s" % (what, len(listed), len(runs), "" if listed == runs and not at_root
                                                 else ": only listed %s, only run directories %s, at the root %s" % (
                                                     sorted(set(listed) - set(runs))[:5],
                                                     sorted(set(runs) - set(listed))[:5], at_root)))


def check_runs_listed(normlab, sweep, logdir):
    """TensorBoard's runs are the sweep's run directories: the HParams
    experiment once sat in an event file at the logdir's root, which
    TensorBoard lists as a run named "."; an export with --force over such
    a logdir removes it"""
    runs_listed(sweep, logdir, "exported")
    first = sorted(glob.glob(os.path.join(logdir, "*", "events.out.tfevents.normlab")))[0]
    shutil.copyfile(first, os.path.join(logdir, "events.out.tfevents.normlab"))
    again = run([normlab, "export", "tensorboard", sweep, "--out", logdir, "--force"])
    check(again.returncode == 0, "export --force over a logdir with an older normlab's root file: exit %d %s" % (
        again.returncode, again.stderr.strip()[:300]))
    runs_listed(sweep, logdir, "exported again with --force over an older normlab's root file")


def check_documented_tags(sweep, logdir):
    """the SPLIT/COLUMN tags results/usage.md names are those the export
    wrote (read back from its event files, not from this test's own idea
    of the writer's rules)"""
    import re
    with open(os.path.join(ROOT, "results", "usage.md")) as f:
        named = set(re.findall(r"`((?:train|test|test_trainmode)/[a-z_]+)`", f.read()))
    written = set()
    for r in glob.glob(os.path.join(logdir, "*", "")):
        written |= set(read_back(r)[0])
    missing = sorted(named - written)
    check(named and not missing, "results/usage.md names %d metric tags, each written for %s%s" % (
        len(named), sweep, "" if not missing else "; never written: %s" % ", ".join(missing)))


def check_many(normlab, work, source):
    """a 200-run sweep of copies of one committed sweep's runs (tests/report/many.py)"""
    sys.path.insert(0, os.path.join(ROOT, "tests", "report"))
    import many
    sweep = many.copy_sweep(source, os.path.join(work, "many"), 200)
    took = export(normlab, sweep, os.path.join(work, "many-tb"))
    n = len(glob.glob(os.path.join(work, "many-tb", "*", "events.out.tfevents.normlab")))
    check(n == 200 and took < 30, "a 200-run sweep exports in %.2f s (%d runs' event files)" % (took, n))


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    if os.path.realpath(sys.prefix) != os.path.realpath(os.path.join(ROOT, ".venv-tb")):
        if not os.access(VENV_PYTHON, os.X_OK):
            print("skipped: no %s (tests/deps.sh makes it: python3 -m venv .venv-tb && .venv-tb/bin/pip "
                  "install -r tests/tensorboard/requirements.txt)" % VENV_PYTHON)
            return 77
        probe = run([VENV_PYTHON, "-c", "import tensorboard.backend.event_processing.event_accumulator"])
        if probe.returncode != 0:
            print("skipped: .venv-tb has no working TensorBoard: %s" % probe.stderr.strip()[-300:])
            return 77
        os.execv(VENV_PYTHON, [VENV_PYTHON] + sys.argv)
    import warnings
    warnings.filterwarnings("ignore")
    normlab, work = os.path.abspath(sys.argv[1]), os.path.abspath(sys.argv[2])
    os.makedirs(work, exist_ok=True)
    started = time.monotonic()
    sweep = "results/wu-he-batch-mlp"
    check_sweep_scalars(normlab, sweep, os.path.join(work, "wu-he"))
    check_hparams(sweep, os.path.join(work, "wu-he"))
    check_runs_listed(normlab, sweep, os.path.join(work, "wu-he"))
    check_documented_tags(sweep, os.path.join(work, "wu-he"))
    check_sweep_scalars(normlab, "results/effective-lr", os.path.join(work, "effective-lr"))
    check_live(normlab, work)
    check_resumed(normlab, work)
    check_many(normlab, work, sweep)
    print("%d check(s) failed (%.1f s)" % (len(failures), time.monotonic() - started) if failures else
          "all checks passed (%.1f s)" % (time.monotonic() - started))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
