#!/usr/bin/env python3
"""configs.py - a confirmation trains its original's experiment (issue 68),
on seeds no earlier look of its claims used (issue 81).

A confirmation (experiments/NAME-confirm.yaml, NAME-confirm2.yaml, ...)
repeats NAME's claims on fresh seeds; its verdicts mean something only if
its runs train NAME's configuration. For each committed confirmation with
runs, its first run's resolved config (runs/RUN/config.yaml, in the run
directory or the sweep's pack, runs.sqlite: tests/packs.py) must equal one
of NAME's runs' on every key both give a value (the seed, the run's name and
the thread count aside). Keys one side leaves out or comments (inapplicable
keys, logging keys added later) are not compared, so a config format change
between the two sweeps' commits passes, and a value that differs, such as a
set: the confirmation forgot (ioffe-fig1's small Gaussian init), fails.

Fresh seeds make a look independent (STATS.md, "Looks"): a confirmation's
runs (summary.csv's seed column) share no seed with its original's or an
earlier confirmation's (NAME-confirm before NAME-confirm2). A grid that
reran 1..N (what `normlab reproduce` once made of a confirmation's own
seeds) fails.

    python3 tests/confirm/configs.py ROOT          # exit 1 on any finding
"""
import csv
import io
import os
import sys

# a confirmation's name, as the claims page reads it (NAME-confirm, NAME-confirm2)
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "verdict_prose"))
from claims_page import CONFIRM_RE as CONFIRM, confirm_order  # noqa: E402
# a sweep's runs, in their directories or packed
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
import packs  # noqa: E402
# what legitimately differs between an original's run and its confirmation's
IGNORED = {"name", "seed", "threads"}


def config_of(sweep, run):
    """RUN's config.yaml (bytes) of SWEEP, from its directory or the pack;
    None where it has none"""
    return packs.read_run_file(sweep, run, "config.yaml")


def resolved(data):
    """dotted key -> value of a resolved config.yaml's uncommented lines
    (its bytes, read as open() reads the file)"""
    out, stack = {}, []
    with io.TextIOWrapper(io.BytesIO(data)) as f:
        for line in f:
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            line = line.split(" #")[0].rstrip()
            indent = len(line) - len(line.lstrip())
            key, _, value = line.strip().partition(":")
            while stack and stack[-1][0] >= indent:
                stack.pop()
            stack.append((indent, key.strip('"')))
            if value.strip():
                out[".".join(k for _, k in stack)] = value.strip()
    return out


def differing(a, b):
    return sorted(k for k in set(a) & set(b) if k not in IGNORED and a[k] != b[k])


def check_pair(confirm, original):
    """findings for one confirmation (its sweep directory): its first run
    against the closest of the original's"""
    confirm_runs, original_runs = os.path.join(confirm, "runs"), os.path.join(original, "runs")
    first = packs.run_names(confirm)[0]
    mine = config_of(confirm, first)
    if mine is None:
        raise FileNotFoundError(f"{confirm_runs}/{first}/config.yaml: no such file")
    mine = resolved(mine)
    best = None
    for run in packs.run_names(original):
        theirs = config_of(original, run)
        if theirs is not None:
            diff = differing(mine, resolved(theirs))
            if best is None or len(diff) < len(best[1]):
                best = (run, diff)
    if best is None:
        return [f"{original_runs}: no run with a config.yaml to compare {first} with"]
    run, diff = best
    if not diff:
        return []
    theirs = resolved(config_of(original, run))
    what = "; ".join(f"{k}: {theirs[k]} there, {mine[k]} here" for k in diff)
    return [f"{confirm_runs}/{first}: trains another configuration than its original's closest run "
            f"({original_runs}/{run}): {what}"]


def sweep_seeds(sweep_dir):
    """the seeds of a sweep's summary.csv rows (empty where it has none)"""
    try:
        with open(os.path.join(sweep_dir, "summary.csv"), newline="") as f:
            return {r["seed"] for r in csv.DictReader(f) if r.get("seed")}
    except OSError:
        return set()


def reused_seeds(results, names):
    """findings: a look of a family (NAME, NAME-confirm, ...: confirm_order's
    rule) with a seed an earlier look of it used"""
    families = {}
    for name in names:
        base, order = confirm_order(name)
        families.setdefault(base, []).append((order, name))
    problems = []
    for looks in families.values():
        seen = {}
        for _, name in sorted(looks):
            mine = sweep_seeds(os.path.join(results, name))
            for earlier, seeds in seen.items():
                shared = sorted(mine & seeds, key=lambda s: (len(s), s))
                if shared:
                    problems.append(f"results/{name}: seeds {', '.join(shared[:5])}{' ...' if len(shared) > 5 else ''} "
                                    f"({len(shared)}) were {earlier}'s: a confirmation is on fresh seeds")
            seen[name] = mine
    return problems


def check(root):
    results = os.path.join(root, "results")
    problems, checked = [], 0
    for name in sorted(os.listdir(results)):
        m = CONFIRM.match(name)
        sweep = os.path.join(results, name)
        original = os.path.join(results, m.group(1)) if m else None
        if not m or not packs.run_names(sweep):
            continue
        if not packs.has_runs(original):
            problems.append(f"results/{name}: a confirmation of {m.group(1)}, which has no committed runs")
            continue
        problems += check_pair(sweep, original)
        checked += 1
    return problems + reused_seeds(results, sorted(os.listdir(results))), checked


def self_test():
    """the comparison on configs whose answer is known: it can fail"""
    import tempfile
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        def write(sweep, run, text):
            os.makedirs(os.path.join(tmp, sweep, "runs", run))
            with open(os.path.join(tmp, sweep, "runs", run, "config.yaml"), "w") as f:
                f.write(text)
        write("orig", "a", "name: a\nseed: 1\nmodel:\n  init: gaussian\n  init_std: 0.01\n  # activation: relu\n")
        write("same", "b", "name: b\nseed: 101\nthreads: 2\nmodel:\n  init: gaussian\n  # init_std: 0.01\n"
                           "  activation: relu  # shown now\n")
        write("unset", "c", "name: c\nseed: 101\nmodel:\n  init: auto\n  # init_std: 0.01\n")
        for sweep, seeds in (("fam", "1 2 3"), ("fam-confirm", "101 102"), ("fam-confirm2", "3 201")):
            os.makedirs(os.path.join(tmp, "seeds", sweep))
            with open(os.path.join(tmp, "seeds", sweep, "summary.csv"), "w") as f:
                f.write("run,seed\n" + "".join(f"r{s},{s}\n" for s in seeds.split()))
        got = reused_seeds(os.path.join(tmp, "seeds"), ["fam", "fam-confirm", "fam-confirm2"])
        if len(got) != 1 or "fam-confirm2: seeds 3 (1) were fam's" not in got[0]:
            failures += 1
            print(f"self-test: reused seeds gave {got or 'nothing'}")
        for sweep, want in (("same", False), ("unset", True)):
            got = check_pair(os.path.join(tmp, sweep), os.path.join(tmp, "orig"))
            if bool(got) != want or (want and "model.init: gaussian there, auto here" not in got[0]):
                failures += 1
                print(f"self-test: {sweep} gave {got or 'nothing'}")
        # the same, each sweep packed (runs.sqlite, schema 2 and 1): the same findings
        unpacked = {s: check_pair(os.path.join(tmp, s), os.path.join(tmp, "orig")) for s in ("same", "unset")}
        for sweep, schema in (("orig", 1), ("same", 2), ("unset", 2)):
            packs.write_pack(os.path.join(tmp, sweep), schema)
        for sweep in ("same", "unset"):
            got = check_pair(os.path.join(tmp, sweep), os.path.join(tmp, "orig"))
            if got != unpacked[sweep]:
                failures += 1
                print(f"self-test: {sweep} packed gave {got or 'nothing'}, not {unpacked[sweep] or 'nothing'}")
    return failures


def main():
    if self_test():
        return 1
    problems, checked = check(sys.argv[1] if len(sys.argv) > 1 else ".")
    for p in problems:
        print(p)
    print(f"configs.py: {checked} confirmation(s) checked, {len(problems)} finding(s)")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
