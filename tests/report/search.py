#!/usr/bin/python3
"""normlab report on a search's directory (issue 117): three tiny searches on
synthetic 8x8 images, one ranked on two models by successive halving with
a holdout, one with no rank: (its scores the hurdle's), and that one again
with a target: it reaches, then `normlab report DIR` on each. The page must hold

- the survival funnel: a row per stage of the search's own table (the
  names `normlab search --help` prints, in its order, passed left out),
  each stopping as many candidates as candidates.csv's stage column says,
  then a row per later rung (the passed rows whose rung reached it) and
  the holdout (holdout.csv's rows);
- the Pareto front: its listed members exactly the passed candidates no
  other dominates, worked out here from candidates.csv (a later rung
  first, then at least as good on every score and better on one);
- the lineage of the winners: every row a candidate of candidates.csv
  with its operator and parents, every parent listed, each line ending
  in the start population; the first winner on the front;
- the figures as inlined <svg> elements that parse as XML;
- with a target, a sentence naming its normalizer, its mean accuracy
  (reference.csv's), the candidate that reached it (target.csv's, the
  first to pass) and its difference; none without one.

Each check is then run on the page with a defect planted (a funnel count
changed, a dominated candidate listed on the front, a lineage step's
operator changed, an SVG cut open, another candidate named as the
target's) and must fail on it.

    tests/report/search.py NORMLAB OUT_DIR

Run from the repository root. Exit 0 passed, 1 failed, 77 skipped (no
gnuplot: the page has no figures to parse). About 15 s on 2 cores."""
import csv
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir))
import svg_xml  # noqa: E402  the one check of inlined SVGs (tests/svg_xml.py)

DATA = "{dataset: synthetic, shape: [1, 8, 8], classes: 3, train_size: 64, test_size: 32}"
BASE = f"""base:
  data: {DATA}
  model: {{arch: cnn, widths: [4, 8], norm: {{groups: 2}}}}
  train: {{batch_size: 8, log_every: 2, optimizer: {{lr: 0.05}}}}
start: ["x / rms(x, [batch, channels])", "x / rms(x, [channels])", "x / rms(x, [batch, channels])",
        {{expr: "gamma * (x - mean(x, [batch])) / sqrt(var(x, [batch]) + eps)", params: "gamma = 1 per channel"}},
        "x / rms(x, [batch])"]
hurdle: {{steps: 2, min_accuracy: 0, time_limit: 120}}
tournament: 2
"""
# ranked on two CNNs by successive halving (2, 4, 8 steps), the best two
# re-ranked on a third; the start's third formula is its first again: a
# duplicate
RANKED = BASE + f"""seed: 3
population: 4
generations: 2
rank:
  models:
  - {{data: {DATA}, model: {{arch: cnn, widths: [4, 4], norm: {{groups: 2}}}}, train: {{batch_size: 8, optimizer: {{lr: 0.1}}}}}}
  - {{data: {DATA}, model: {{arch: cnn, widths: [8, 8], norm: {{groups: 2}}}}, train: {{batch_size: 8, steps: 8}}}}
  rungs: {{min_steps: 2, eta: 2, max_steps: 8}}
  time_limit: 120
holdout:
  models:
  - {{data: {DATA}, model: {{arch: cnn, widths: [4, 4], norm: {{groups: 2}}}}, train: {{batch_size: 8, steps: 4}}}}
  top: 2
"""
HURDLE_ONLY = BASE + "seed: 5\npopulation: 3\ngenerations: 1\n"
# stopped at its target (group norm trained on the base at the hurdle's
# steps; within 1, so the first candidate to pass reaches it)
TARGETED = BASE + "seed: 5\npopulation: 3\ngenerations: 1\ntarget: {normalizer: group, within: 1}\n"


def target_problems(page, rows, target):
    """what the page's target sentence gets wrong against target.csv and
    candidates.csv (target: its one row, or None without a target)"""
    m = re.search(r"<p>Its target: (\S+) norm's test accuracy, ([0-9.]+) on average over the (\d+) models? .*?"
                  r"reached by c(\d+) \(([-+0-9.]+) points on average\) after (\d+) candidates", page)
    if target is None:
        return ["a target sentence on the page of a search without one"] if "<p>Its target:" in page else []
    if not m:
        return ["no target sentence naming the candidate that reached it"]
    refs = [float(v) for v in target["reference"].split()]
    first = next((r["id"] for r in rows if r["stage"] == "passed"), None)
    bad = []
    if m.group(1) != target["normalizer"] or abs(float(m.group(2)) - sum(refs) / len(refs)) > 5e-5:
        bad.append(f"target sentence {m.group(1)} {m.group(2)} != target.csv's {target['normalizer']} {refs}")
    if m.group(4) != target["reached"] or m.group(4) != first:
        bad.append(f"reached by c{m.group(4)}: target.csv says c{target['reached']}, the first to pass is c{first}")
    if abs(float(m.group(5)) - 100 * float(target["mean_difference"])) > 0.005 or int(m.group(6)) != len(rows):
        bad.append(f"target sentence {m.group(5)} points after {m.group(6)} != target.csv's "
                   f"{target['mean_difference']} after {len(rows)}")
    return bad


def run(normlab, *args, cwd):
    p = subprocess.run([normlab, *args], cwd=cwd, capture_output=True, text=True, timeout=300)
    if p.returncode != 0:
        sys.exit(f"FAIL: normlab {' '.join(args)}: exit {p.returncode}\n{p.stdout}{p.stderr}")
    return p.stdout


def unguard(cell):
    """a cell as normlab's reader gives it: the CSV-injection guard's quote off"""
    return cell[1:] if cell[:1] == "'" and cell[1:2] in ("=", "+", "-", "@", "\t", "\r") else cell


def read_csv(path):
    if not os.path.exists(path):
        return []
    with open(path, newline="") as f:
        return [{k: unguard(v) for k, v in row.items()} for row in csv.DictReader(f)]


def stage_names(normlab):
    """the search's stage table as its --help prints it, in order"""
    text = run(normlab, "search", "--help", cwd=".")
    block = text.split("Each candidate is rejected at the first of these stages")[1].split("\n\n")[0]
    return [line.split()[0] for line in block.splitlines()[1:] if line.strip()]


def attrs(tag):
    return dict(re.findall(r'([\w-]+)="([^"]*)"', tag))


def table(page, opening):
    """the <tr> opening tags of the first table whose opening tag matches"""
    m = re.search(opening + r".*?</table>", page, re.S)
    return [attrs(t) for t in re.findall(r"<tr [^>]*>", m.group(0))] if m else None


def scores_of(row):
    vals = [float(v) for v in row["scores"].split()] if row["scores"] else [float(row["hurdle_accuracy"])]
    return vals, int(row["rung"]) if row["rung"] else 0


def dominates(a, b):
    (sa, ra), (sb, rb) = a, b
    if ra != rb:
        return ra > rb
    return all(x >= y for x, y in zip(sa, sb)) and any(x > y for x, y in zip(sa, sb))


def check(page, rows, holdout, stages):
    """what is wrong with the page of the search recorded in rows"""
    bad = []
    # the funnel
    funnel = table(page, r'<table class="funnel"')
    if funnel is None:
        return ["no funnel table"]
    left = len(rows)
    expected = []
    for s in stages[:-1]:  # passed is where no stage stopped it
        out = sum(r["stage"] == s for r in rows)
        left -= out
        expected.append((s, out, left))
    passed = [r for r in rows if r["stage"] == "passed"]
    # the rungs any row was trained to (one rejected at a rung's run included)
    rungs = sorted({int(x.split(":")[0]) for r in rows for x in r["rung_scores"].split(";") if x.strip()})
    for g, steps in enumerate(rungs[1:], start=2):
        at = sum(int(r["rung"]) >= steps for r in passed)
        expected.append((f"rung {g} ({steps} steps)", left - at, at))
        left = at
    if holdout:
        expected.append(("holdout", left - len(holdout), len(holdout)))
    shown = [(r["data-stage"], int(r["data-out"]), int(r["data-left"])) for r in funnel]
    if shown != expected:
        bad.append(f"funnel {shown} != candidates.csv's {expected}")
    # the front
    listed = table(page, r'<table class="sortable" id="search-front-table"')
    by_id = {r["id"]: r for r in rows}
    front = {r["id"] for r in passed
             if not any(dominates(scores_of(o), scores_of(r)) for o in passed if o is not r)}
    if passed and (listed is None or {r["data-id"] for r in listed} != front):
        bad.append(f"front {listed and sorted(r['data-id'] for r in listed)} != the non-dominated {sorted(front)}")
    # the lineage
    lineages = re.findall(r'<table class="lineage" data-winner="(\d+)">(.*?)</table>', page, re.S)
    if passed and not lineages:
        bad.append("no lineage")
    if lineages and lineages[0][0] not in front:
        bad.append(f"the first winner c{lineages[0][0]} is not on the front")
    for winner, body in lineages:
        steps = [attrs(t) for t in re.findall(r"<tr [^>]*>", body)]
        ids = {s["data-id"] for s in steps}
        if not steps or steps[0]["data-id"] != winner:
            bad.append(f"c{winner}'s lineage does not start at it")
        for s in steps:
            row = by_id.get(s["data-id"])
            if row is None:
                bad.append(f"c{winner}'s lineage: c{s['data-id']} is no candidate")
                continue
            if (s["data-operator"], s["data-parents"]) != (row["operator"], row["parents"]):
                bad.append(f"c{winner}'s lineage: c{row['id']} made by {s['data-operator']} from "
                           f"'{s['data-parents']}', candidates.csv: {row['operator']} from '{row['parents']}'")
            if not row["parents"] and (row["operator"] != "start" or row["generation"] != "0"):
                bad.append(f"c{winner}'s lineage ends at c{row['id']}, not of the start population")
            missing = [p for p in row["parents"].split() if p not in ids]
            if missing:
                bad.append(f"c{winner}'s lineage: c{row['id']}'s parents {missing} not listed")
    # the figures
    bad += svg_xml.inlined_problems(page, 2, "the funnel and the front")[1]
    return bad


def planted(page, rows):
    """the page with each defect planted, one at a time"""
    m = re.search(r'(<tr data-stage="[^"]*" data-out=")(\d+)', page)
    yield "a funnel count changed", page[:m.start(2)] + str(int(m.group(2)) + 1) + page[m.end(2):]
    front = re.search(r'<table class="sortable" id="search-front-table".*?</table>', page, re.S)
    listed = set(re.findall(r'<tr data-id="(\d+)"', front.group(0)))
    other = next((r["id"] for r in rows if r["stage"] == "passed" and r["id"] not in listed), None)
    if other:
        at = front.group(0).index("<tbody>\n") + len("<tbody>\n")
        yield "a dominated candidate on the front", page.replace(
            front.group(0), front.group(0)[:at] + f'<tr data-id="{other}"></tr>\n' + front.group(0)[at:])
    m = re.search(r'(<table class="lineage".*?data-operator=")([^"]*)', page, re.S)
    yield "a lineage step's operator changed", page[:m.start(2)] + "no-such-operator" + page[m.end(2):]
    yield "an SVG cut open", page.replace("</svg>", "</sv>", 1)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    normlab = os.path.abspath(sys.argv[1])
    if not shutil.which("gnuplot"):
        print("SKIP: no gnuplot on PATH (the page would hold no figures)")
        return 77
    out = os.path.abspath(sys.argv[2])
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    stages = stage_names(normlab)
    failures = []
    for name, text in (("ranked", RANKED), ("hurdle-only", HURDLE_ONLY), ("targeted", TARGETED)):
        with open(os.path.join(out, name + ".yaml"), "w") as f:
            f.write(text)
        run(normlab, "search", name + ".yaml", "--out", name, "--quiet", cwd=out)
        said = run(normlab, "report", name, cwd=out)
        d = os.path.join(out, name)
        rows = read_csv(os.path.join(d, "candidates.csv"))
        holdout = read_csv(os.path.join(d, "holdout.csv"))
        page = open(os.path.join(d, "report.html"), encoding="utf-8").read()
        if f"a search's {len(rows)} candidates" not in said:
            failures.append(f"{name}: normlab report said {said!r}")
        failures += [f"{name}: {b}" for b in check(page, rows, holdout, stages)]
        targets = read_csv(os.path.join(d, "target.csv")) if name == "targeted" else [None]
        failures += [f"{name}: {b}" for b in target_problems(page, rows, targets[0])]
        if name == "targeted":
            reached = targets[0]["reached"]
            bad_page = page.replace(f"reached by c{reached} ", f"reached by c{int(reached) + 1} ", 1)
            if not target_problems(bad_page, rows, targets[0]):
                failures.append("targeted: the check passed a page naming another candidate as the target's")
        if name == "ranked" and not holdout:
            failures.append("ranked: no holdout.csv: the funnel's holdout row went unchecked")
        if name != "targeted" and not any(r["stage"] == "duplicate" for r in rows):
            failures.append(f"{name}: no duplicate: the start population's repeat was not rejected")
        for what, bad_page in planted(page, rows):
            if not check(bad_page, rows, holdout, stages):
                failures.append(f"{name}: the check passed a page with {what}")
    # a search's directory with another: refused, nothing written
    p = subprocess.run([normlab, "report", "ranked", "hurdle-only", "--out", "both.html"], cwd=out,
                       capture_output=True, text=True)
    if p.returncode != 2 or "candidates.csv" not in p.stderr or os.path.exists(os.path.join(out, "both.html")):
        failures.append(f"report of two searches: exit {p.returncode}, {p.stderr.strip()!r}")
    if failures:
        print("FAIL:\n  " + "\n  ".join(failures))
        return 1
    print("ok: both searches' pages hold the funnel, the front and the lineage their records say, their "
          "figures XML; every planted defect caught")
    return 0


if __name__ == "__main__":
    sys.exit(main())
