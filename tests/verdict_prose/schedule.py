"""schedule.py - the next looks, scheduled by the program (issue 92).

usage: schedule.py ROOT                  print the confirmations to run next
       schedule.py ROOT --check          the same, after the checks below
       schedule.py ROOT --check --all    the same, every registration's print computed again
       schedule.py ROOT --record         write experiments/schedule/prints.tsv

Reads the committed rule, experiments/schedule/rule.yaml (its comment states
it), and prints each look it schedules, a confirmation or a pilot: the
experiment, its claims, the fresh seeds, n, the estimated CPU time of the
cells the claims compare and the runs that price it (1-thread runs where
there are, with their machine); then those past the budget, each with its
cost; then the claims it stops (issue 103): power gave no number at a
latest look of the pilot size or more, so no further pilot, with the
verdict their plans give them. The inputs are committed files
alone: results/looks.csv (`normlab verdict --looks results`), each look's
results/NAME/verdicts.csv, summary.csv and runs/*/summary.json (or, a
sweep packed, runs.sqlite: tests/packs.py), and experiments/*.yaml (a
confirmation file committed without runs); no clock, no machine.

--check (test_schedule): the output on ROOT equals the output on `git
archive HEAD` of those files, extracted to a temporary directory (the
schedule is a function of the commit, not of the working tree); in a copy,
a planted seeds_power on the cheapest confirmation's claim moves its n by
the rule, and its runs made 1000 times dearer move it off the top; a claim made to give
power no number at a look of the pilot size is stopped, and with the
pilot size one above that look's seeds gets a pilot again. And the
schedule is the only way a confirmation enters (issue 103): each
confirmation file committed while the rule was committed, and whatever its
name each file that repeats another experiment's claims word for word on
the same base: (issue 116), must be what the schedule, run with the code
and inputs of the file's parent commit, printed within its budget: its
claims, its seeds, n, its pilot flag (declared in a plan's pilots: or not)
and its cells themselves, not their count (the cells its claims' latest
looks compare, read from their verdicts.csv at that commit, each a cell of
the grid with its set:, and each grid cell one of them); any other fails,
and so does a grid changed after that commit, and a commit that registers
a look of the print but not its first (a file committed, not yet run,
aside) unless experiments/schedule/skipped.tsv puts that skip on the
record. The comparison is first shown to refuse planted files (another
name, a seed more, other seeds, a claim more or less, a cell more, other
cells as many, a cell set: moves, a pilot flag the print does not give, a
skipped first look, a copy under another name).

The prints at the registrations' parents are kept in a committed record,
experiments/schedule/prints.tsv, keyed by the SHA-256 of each print's inputs
(the schedule's code and the files it reads at that commit, path and blob):
--check computes only the prints whose key the record lacks (issue 115: one
print more per registration had made the check 901 s on a busy machine);
--check --all computes every one and fails where the record differs from it
(test_schedule_all, label long); --record writes the record, keeping the
entries whose key it has. A registration is compared with its print alike,
recorded or computed.
"""
import csv
import fnmatch
import concurrent.futures
import glob
import hashlib
import json
import math
import os
import re
import sqlite3
import stat
import subprocess
import sys
import tempfile

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import claims_page as cp  # noqa: E402
import frozen  # noqa: E402
import history  # noqa: E402
import rounds  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import packs  # noqa: E402

RULE_FILE = os.path.join("experiments", "schedule", "rule.yaml")
RULE_KEYS = {"min_seeds": int, "margin": float, "min_pilot_seeds": int, "budget_cpu_hours": float,
             "seed_block": int}
# the most seeds one sweep's grid lists and power: can name: an n above it
# cannot be registered as one sweep
MAX_SEEDS_FILE = os.path.join("core", "results", "claims.h")
MAX_SEEDS_RE = re.compile(r"^#define NL_CLAIM_MAX_SEEDS (\d+)", re.M)
# the committed files the schedule reads (for --check's archive)
INPUTS = [RULE_FILE, MAX_SEEDS_FILE, "results/looks.csv", "results/*/verdicts.csv", "results/*/*/verdicts.csv",
          "results/*/summary.csv", "results/*/runs/*/summary.json", "results/*/runs.sqlite", "experiments/*.yaml",
          "experiments/claims/*.yaml", rounds.ROUNDS_FILE]
SOURCE_RE = re.compile(r"^source:\s*\n\s+runs:\s*[\"']?([^\"'\n]+)[\"']?\s*\n\s+keys:\s*\[(.*)\]", re.M)
CELL_SPLIT = re.compile(r",\s*(?=[A-Za-z_][A-Za-z0-9_.]*=)")
NAME_RE = re.compile(r"^name:\s*([^\s#]+)", re.M)
GRID_RE = re.compile(r"^grid:\s*\n((?:[ \t]+.*\n?)*)", re.M)
GRID_LINE_RE = re.compile(r"^[ \t]+([A-Za-z_][A-Za-z0-9_.]*):\s*\[(.*)\]\s*(?:#.*)?$")


class RuleError(Exception):
    pass


def read_rule_text(path):
    """the rule file's text: a regular file (opened without waiting, so a
    FIFO cannot hang the schedule) of UTF-8; else RuleError naming it and,
    for a byte that is not UTF-8, its line"""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as e:
        raise RuleError(f"{RULE_FILE}: {e.strerror}")
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = "a FIFO" if stat.S_ISFIFO(mode) else "a directory" if stat.S_ISDIR(mode) else \
                "a device" if stat.S_ISCHR(mode) or stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) \
                else "not a file"
            raise RuleError(f"{RULE_FILE}: {kind}, not a regular file")
        os.set_blocking(fd, True)
        with os.fdopen(fd, "rb") as f:
            fd = -1
            data = f.read()
    finally:
        if fd >= 0:
            os.close(fd)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data.count(b"\n", 0, e.start) + 1
        raise RuleError(f"{RULE_FILE}:{line}: byte 0x{data[e.start]:02x} is not UTF-8 text")


def read_rule(root):
    """{key: value} of the rule file; every key of RULE_KEYS required, no
    other, each a finite number above 0"""
    text = read_rule_text(os.path.join(root, RULE_FILE))
    out = {}
    for i, line in enumerate(text.split("\n"), 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip()
        if not sep or key not in RULE_KEYS or key in out:
            raise RuleError(f"{RULE_FILE}:{i}: '{line}': expected one of {', '.join(RULE_KEYS)}, each once")
        try:
            out[key] = RULE_KEYS[key](value)
        except ValueError:
            raise RuleError(f"{RULE_FILE}:{i}: {key}: '{value}' is not a {RULE_KEYS[key].__name__}")
        # nan, inf and 1e999 (read as inf) are floats no rule can mean
        if not math.isfinite(out[key]):
            raise RuleError(f"{RULE_FILE}:{i}: {key}: '{value}' is not a finite number")
        if out[key] <= 0:
            raise RuleError(f"{RULE_FILE}:{i}: {key} must be above 0")
    missing = [k for k in RULE_KEYS if k not in out]
    if missing:
        raise RuleError(f"{RULE_FILE}: missing {', '.join(missing)}")
    return out


def read_csv(path):
    try:
        with open(path, newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return None


def read_verdicts(root):
    out = {}
    results = os.path.join(root, "results")
    for pattern in ("*/verdicts.csv", "*/*/verdicts.csv"):
        for path in sorted(glob.glob(os.path.join(results, pattern))):
            out[os.path.relpath(os.path.dirname(path), results)] = read_csv(path)
    return out


def parse_cell(text):
    """{key: value} of a verdicts.csv cell ("k=v, k=v")"""
    out = {}
    for part in CELL_SPLIT.split(text.strip()):
        k, sep, v = part.partition("=")
        if sep:
            out[k.strip()] = v.strip()
    return out


def items(text):
    """a list value's items ("[a, b]"); None for a scalar"""
    text = text.strip()
    if text.startswith("[") and text.endswith("]"):
        return [w.strip().strip("'\"") for w in text[1:-1].split(",") if w.strip()]
    return None


def same_value(want, got):
    """a selector's value against a run's: equal (numbers as numbers, a
    list-valued key's lists item by item), or a list selector naming it"""
    if want == got:
        return True
    w, g = items(want), items(got)
    if w is not None and g is not None:
        return len(w) == len(g) and all(same_value(x, y) for x, y in zip(w, g))
    if w is not None:
        return any(same_value(x, got) for x in w)
    a, b = cp.as_float(want), cp.as_float(got)
    return a is not None and b is not None and a == b


class Sweep:
    """a look's committed runs: summary.csv's rows with each run's CPU
    seconds (summary.json's wall_s x threads; run directories or a pack)"""
    def __init__(self, root, name):
        self.name = name
        self.rows = read_csv(os.path.join(root, "results", name, "summary.csv")) or []
        self.columns = set(self.rows[0]) if self.rows else set()
        # summary.csv: run, the keys the grid varies, then status and the metrics
        header = list(self.rows[0]) if self.rows else []
        self.grid_keys = set(header[1:header.index("status")] if "status" in header else header[1:])
        self.cpu, self.one_thread, self.host, self.day = {}, {}, {}, {}
        self.source = not self.rows and self.read_source(root, name)
        for r in self.rows:
            try:
                text = packs.read_run_text(os.path.join(root, "results", name), r["run"], packs.SUMMARY) \
                    if not self.source else open(os.path.join(root, "results", name, r["run"], "summary.json")).read()
                if text is None:
                    continue
                s = json.loads(text)
            except (OSError, ValueError, KeyError, packs.PackError, sqlite3.Error):
                continue
            wall, threads = cp.as_float(s.get("wall_s")), cp.as_float(s.get("threads")) or 1
            # an MPI run holds its threads on each of its ranks for its wall
            # time (issue 116: sync-bn-mpi's look was left unpriced)
            ranks = cp.as_float(s.get("ranks")) or 1
            if wall:
                self.cpu[r["run"]] = wall * threads * ranks
                busy, usable = cp.as_float(s.get("busy_cores_at_start")), cp.as_float(s.get("usable_cores"))
                # a 1-thread run that started with a core free: a price (issue 103)
                self.one_thread[r["run"]] = threads == 1 and (busy is None or usable is None or busy < usable)
                self.host[r["run"]] = f"{s.get('host') or '?'}, {s.get('cpu_kernels') or '?'} kernels"
                # the day it ran: a price from an older engine says so
                self.day[r["run"]] = str(s.get("started_at") or "")[:10]

    def read_source(self, root, name):
        """a look whose runs a script made (a claims file's source: runs
        and keys, results/usage.md): its rows from the run directories the
        pattern names, each key from summary.json or the resolved
        config.yaml; False where the look has no such file"""
        text = None
        for path in (os.path.join(root, "experiments", "claims", name + ".yaml"),
                     os.path.join(root, "experiments", name + ".yaml")):
            if os.path.exists(path):
                text = open(path).read()
                break
        m = SOURCE_RE.search(text or "")
        if not m:
            return False
        keys = [k.strip() for k in m.group(2).split(",") if k.strip()]
        for run in sorted(glob.glob(os.path.join(root, "results", name, m.group(1)))):
            try:
                summary = json.load(open(os.path.join(run, "summary.json")))
                config = open(os.path.join(run, "config.yaml")).read()
            except (OSError, ValueError):
                continue
            row = {"run": os.path.basename(run)}
            for k in keys:
                value = summary.get(k) if k in summary else config_value(config, k)
                row[k] = "" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
            self.rows.append(row)
        self.columns = set(keys) | {"run"}
        self.grid_keys = set(keys)
        return True

    def runs_of(self, cell):
        """the runs a cell's selectors pick (a key the grid does not vary is
        every run's)"""
        return {r["run"] for r in self.rows
                if all(k not in self.columns or same_value(v, r.get(k, "")) for k, v in cell.items())}

    def seeds_of(self, runs):
        return {r.get("seed") for r in self.rows if r["run"] in runs}

    def cost_per_seed(self, runs):
        """CPU seconds of one seed of every configuration these runs hold
        (a configuration: a run's grid values but its seed), each
        configuration's mean over its seeds; None where one is unpriced.
        Dividing the runs' total by the seeds they span would charge a look
        whose cells have 1 seed and some 3 a third of a seed for each 1-seed
        cell (stats-precision-lm: 1,067 CPU-s a seed against 2,678)."""
        if not runs or any(run not in self.cpu for run in runs):
            return None
        by_config = {}
        for r in self.rows:
            if r["run"] in runs:
                config = tuple(sorted((k, v) for k, v in r.items() if k in self.grid_keys and k != "seed"))
                by_config.setdefault(config, []).append(self.cpu[r["run"]])
        return sum(sum(c) / len(c) for c in by_config.values())

    def priced_at_one_thread(self, runs):
        return bool(runs) and all(self.one_thread.get(run) for run in runs)

    def max_seed(self):
        return max((int(cp.as_float(r.get("seed")) or 0) for r in self.rows), default=0)


def config_value(text, key):
    """KEY (dotted) of a resolved config.yaml's nested blocks, as written;
    None where it is not there"""
    parts, depth, path = key.split("."), {}, []
    for line in text.split("\n"):
        m = re.match(r"^( *)([A-Za-z_][A-Za-z0-9_]*):\s*(.*?)\s*(?:#.*)?$", line)
        if not m or line.lstrip().startswith("#"):
            continue
        level = len(m.group(1)) // 2
        path = path[:level] + [m.group(2)]
        if path == parts and m.group(3):
            return m.group(3).strip("'\"")
    return None


def claim_cells(rows, r):
    """the cells a verdicts.csv row compares: its a, b, c, d; a claim over
    cells (each:) its cells' rows'"""
    if cp.derived(r):
        prefix = r["claim"] + "["
        subs = [x for x in rows if x["claim"].startswith(prefix) and not cp.derived(x)]
    else:
        subs = [r]
    cells = set()
    for x in subs:
        for k in ("a", "b", "c", "d"):
            if cp.col(x, k):
                cells.add(tuple(sorted(parse_cell(x[k]).items())))
    return cells


def fresh_start(max_seed, block):
    return (max_seed // block + 1) * block + 1


def grid_of(text):
    """{key: [values]} of an experiment file's grid: (flow lists only)"""
    m = GRID_RE.search(text)
    out = {}
    for line in (m.group(1).split("\n") if m else []):
        g = GRID_LINE_RE.match(line)
        if g:
            out[g.group(1)] = [v.strip().strip("'\"") for v in g.group(2).split(",") if v.strip()]
    return out


def pending_files(root, verdicts):
    """confirmation files committed without runs: [(name, text)]; a
    claims file (experiments/claims/, a look a script makes: issue 116's
    MPI pilot) as an experiment file"""
    out = []
    for path in sorted(glob.glob(os.path.join(root, "experiments", "*.yaml")) +
                       glob.glob(os.path.join(root, "experiments", "claims", "*.yaml"))):
        text = open(path).read()
        m = NAME_RE.search(text)
        name = m.group(1) if m else os.path.basename(path)[:-5]
        if cp.is_confirmation(name) and name not in verdicts and \
                not os.path.exists(os.path.join(root, "results", name, "summary.csv")):
            out.append((name, text))
    return out


def hours(seconds):
    return seconds / 3600 if seconds is not None else None


def schedule(root):
    """the schedule as data: {"rule", "run": [...], "past_budget": [...],
    "unpriced": [...]}; each entry {"name", "base", "claims": [(claim, n,
    power, look, its seeds)], "n", "seeds": (first, last), "cost_s",
    "per_seed_s", "cells", "pending", "pilot", "priced_from"}"""
    rule = read_rule(root)
    verdicts = read_verdicts(root)
    plans = cp.read_looks(root)
    if plans is None:
        raise RuleError(f"{cp.LOOKS_FILE}: missing (normlab verdict --looks results writes it)")
    heads = []
    for name in sorted(verdicts):
        heads += [(name, r) for r in cp.headline_rows(verdicts[name])[0]]
    sweeps = {}

    def sweep(name):
        if name not in sweeps:
            sweeps[name] = Sweep(root, name)
        return sweeps[name]

    # every look's seeds (and a committed confirmation's) by original; the
    # highest confirmation number by original
    max_seed, top_order = {}, {}
    for name in sorted(set(verdicts) | {os.path.basename(os.path.dirname(p)) for p in
                                        glob.glob(os.path.join(root, "results", "*", "summary.csv"))}):
        base, order = cp.confirm_order(name)
        s = max([sweep(name).max_seed()] + [int(x) for r in verdicts.get(name) or []
                                            for x in cp.row_seeds(r, verdicts[name]) if x.isdigit()])
        max_seed[base] = max(max_seed.get(base, 0), s)
        top_order[base] = max(top_order.get(base, 0), order)
    pending = pending_files(root, verdicts)
    for name, text in pending:
        base, order = cp.confirm_order(name)
        seeds = [int(v) for v in grid_of(text).get("seed", []) if v.isdigit()]
        max_seed[base] = max([max_seed.get(base, 0)] + seeds)
        top_order[base] = max(top_order.get(base, 0), order)

    def n_of(r):
        power = cp.power_seeds(r)
        return (max(rule["min_seeds"], math.ceil(rule["margin"] * power)) if power else None), power

    looks_by_base = {}
    for name in set(verdicts) | set(sweeps):
        looks_by_base.setdefault(cp.confirm_order(name)[0], []).append(name)

    # open claims, grouped by original; a claim a committed confirmation
    # file keeps is scheduled by that file. A claim whose latest look had
    # fewer than min_pilot_seeds seeds, or whose power gives no number,
    # gets a pilot of min_pilot_seeds first (its spread too loose to size
    # n from); the rest a confirmation at n, uncapped: the budget decides.
    # The stop (issue 103): a claim whose latest look already had
    # min_pilot_seeds seeds or more and gave power no number gets nothing:
    # a pilot is for an effect-size estimate, and one the pilot's size
    # could not give is not given by another of that size
    covered = {(cp.confirm_order(name)[0], m.group(1)) for name, text in pending
               for m in history.ID_RE.finditer(text)}
    groups, pilots, stopped = {}, {}, []
    looks_of = cp.looks_by_claim(heads)
    for (base, claim), looks in sorted(looks_of.items()):
        plan = plans.get((base, claim))
        if plan is None or plan["verdict"] in ("holds", "does not hold") or plan["decided_by"] or \
                (base, claim) in covered:
            continue
        _, look, r = looks[-1]
        n, power = n_of(r)
        seeds = cp.seed_count(r, verdicts[look])
        item = {"claim": claim, "n": n, "power": power, "look": look, "seeds": seeds,
                "cells": {(look, c) for c in claim_cells(verdicts[look], r)}}
        if n is None and seeds >= rule["min_pilot_seeds"]:
            stopped.append({"base": base, "claim": claim, "look": look, "seeds": seeds,
                            "plan": plan.get("plan") or "?", "verdict": plan["verdict"]})
        elif n is None or seeds < rule["min_pilot_seeds"]:
            item["n"] = rule["min_pilot_seeds"]
            pilots.setdefault(base, []).append(item)
        else:
            groups.setdefault(base, []).append(item)
    planned = []
    for base in sorted(set(groups) | set(pilots)):
        for items, pilot in ((groups.get(base), False), (pilots.get(base), True)):
            if items:
                e = entry(base, items, max(i["n"] for i in items), sweep, max_seed, top_order, rule,
                          looks_by_base.get(base, ()), pilot)
                planned.append(e)
                # a second entry of the same original takes the next name and seeds
                top_order[base] = top_order.get(base, 0) + 1
                max_seed[base] = e["seeds"][1]
    for name, text in pending:
        planned.append(pending_entry(name, text, looks_of, verdicts, sweep, looks_by_base))
    priced = sorted((e for e in planned if e["cost_s"] is not None),
                    key=lambda e: (not e["pending"], e["cost_s"], e["name"]))
    out = {"rule": rule, "run": [], "past_budget": [], "unpriced": [e for e in planned if e["cost_s"] is None],
           "stopped": stopped, "round": None}
    # the budget is the round's (issue 116): what its looks' runs cost is
    # spent; a look registered and not yet run is priced below, first
    budget = rule["budget_cpu_hours"] * 3600
    try:
        recorded = rounds.read_rounds(root)
    except rounds.RoundsError as e:
        raise RuleError(str(e))
    if recorded is not None:
        done_s, unrun = rounds.spent(recorded[-1], sweep)
        out["round"] = {"round": recorded[-1]["round"], "looks": recorded[-1]["looks"], "done_s": done_s,
                        "unrun": unrun}
        budget -= done_s
    spent = 0.0
    for e in priced:
        if not out["past_budget"] and spent + e["cost_s"] <= budget:
            spent += e["cost_s"]
            out["run"].append(e)
        else:
            out["past_budget"].append(e)
    out["spent_s"] = spent
    if out["round"] is not None:
        r = out["round"]
        r["over"] = bool(r["looks"]) and not r["unrun"] and not out["run"]
    out["max_seeds"] = read_max_seeds(root)
    return out


def read_max_seeds(root):
    """NL_CLAIM_MAX_SEEDS of core/results/claims.h; None where the file
    (an older commit's archive) does not define it"""
    try:
        with open(os.path.join(root, MAX_SEEDS_FILE)) as f:
            m = MAX_SEEDS_RE.search(f.read())
    except OSError:
        return None
    return int(m.group(1)) if m else None


def cost_key(e):
    return (e["cost_s"] is None, e["cost_s"] or 0, e["name"])


def entry(base, items, n, sweep, max_seed, top_order, rule, base_looks=(), pilot=False):
    """a confirmation (or a pilot) of base keeping these claims at n seeds"""
    cells = set()
    for i in items:
        cells |= i["cells"]
    per_seed, sources = cells_cost(cells, sweep, base_looks)
    first = fresh_start(max_seed.get(base, 0), rule["seed_block"])
    order = top_order.get(base, 0) + 1
    return {"name": base + "-confirm" + ("" if order == 1 else str(order)), "base": base,
            "claims": [(i["claim"], i["n"], i["power"], i["look"], i["seeds"]) for i in items], "n": n,
            "seeds": (first, first + n - 1) if n else None, "per_seed_s": per_seed,
            "cost_s": per_seed * n if per_seed is not None and n else None,
            # distinct cells: one given by two looks (an original's and its confirmation's) is one
            "cells": len({c for _, c in cells}), "pending": False,
            "pilot": pilot, "priced_from": sorted(sources)}


def cells_cost(cells, sweep, base_looks=()):
    """(CPU seconds per seed of these cells, where each price came from):
    each cell (look, selectors) priced from 1-thread runs (started with a
    core free) of the latest of its original's looks that has them, else
    from its own look's runs at wall_s x threads, said so (issue 103: a
    loaded 2-thread look priced signal-propagation 20x too dear); one cell
    given by two looks counts once (the later look's); cost None where a
    look has no runs to price"""
    by_cell = {}
    for look, cell in sorted(cells, key=lambda lc: (cp.confirm_order(lc[0])[1], lc[0])):
        by_cell[cell] = look
    by_look, sources = {}, set()
    for cell, look in by_cell.items():
        chosen = look
        for other in sorted(base_looks, key=lambda n: -cp.confirm_order(n)[1]):
            if sweep(other).priced_at_one_thread(sweep(other).runs_of(dict(cell))):
                chosen = other
                break
        runs = sweep(chosen).runs_of(dict(cell))
        by_look.setdefault(chosen, set()).update(runs)
        hosts = sorted({sweep(chosen).host.get(run, "?") for run in runs})
        days = sorted(d for d in {sweep(chosen).day.get(run, "") for run in runs} if d)
        if days:
            hosts.append(f"run {days[0]}" if len(days) == 1 else f"run {days[0]} to {days[-1]}")
        sources.add(f"{chosen} at 1 thread ({'; '.join(hosts)})" if sweep(chosen).priced_at_one_thread(runs)
                    else f"{chosen}, no 1-thread run: wall x threads")
    total = 0.0
    for look, runs in sorted(by_look.items()):
        c = sweep(look).cost_per_seed(runs)
        if c is None:
            return None, sources
        total += c
    return (total if by_look else None), sources


def pending_entry(name, text, looks_of, verdicts, sweep, looks_by_base=None):
    """a confirmation file committed without runs: its own seeds, priced as
    a scheduled one is, at the cells its claims compare in their latest
    look (the grid's cartesian product would count cells its exclude:
    drops, and cannot read a grid of nested lists)"""
    base, _ = cp.confirm_order(name)
    seeds = sorted(int(v) for v in grid_of(text).get("seed", []) if v.isdigit())
    ids = [m.group(1) for m in history.ID_RE.finditer(text)]
    cells, unlooked = set(), False
    for claim in ids:
        looks = looks_of.get((base, claim))
        if not looks:
            unlooked = True
            continue
        _, look, r = looks[-1]
        cells |= {(look, c) for c in claim_cells(verdicts[look], r)}
    per_seed, sources = (None, set()) if unlooked or not cells else \
        cells_cost(cells, sweep, (looks_by_base or {}).get(base, ()))
    n = len(seeds)
    return {"name": name, "base": base, "claims": [(c, n, None, None, None) for c in ids], "n": n,
            "seeds": (seeds[0], seeds[-1]) if seeds else None, "per_seed_s": per_seed,
            "cost_s": per_seed * n if per_seed is not None and n else None,
            "cells": len({c for _, c in cells}) if per_seed is not None else None, "pending": True,
            # a pilot where its own plan names it: a confirmation's plan names its pilots too
            "pilot": name in cp.pilots_of(text), "priced_from": sorted(sources)}


def fmt_hours(seconds):
    h = hours(seconds)
    return "unpriced" if h is None else f"{h:.3f} CPU-hours"


def describe(e, max_seeds=None):
    seeds = f"seeds {e['seeds'][0]}-{e['seeds'][1]}" if e["seeds"] else "no seeds"
    per = (f", {e['per_seed_s']:.1f} CPU-s per seed" if e["per_seed_s"] is not None else "")
    cells = f" of {e['cells']} cells" if e["cells"] else ""
    head = (f"{e['name']}: {seeds}, n {e['n']}, {fmt_hours(e['cost_s'])}{cells}{per}"
            + (", a pilot" if e.get("pilot") else "") + (" (committed, not yet run)" if e["pending"] else ""))
    lines = [head]
    for claim, n, power, look, had in e["claims"]:
        if look is None:
            lines.append(f"    {claim}")
        elif power is None:
            lines.append(f"    {claim}: power gives no number at its latest look, {look} ({had} seed{'s' * (had != 1)}); "
                         f"a pilot of {n}")
        elif e.get("pilot"):
            lines.append(f"    {claim}: power 0.8 asks {power} at its latest look, {look}, from {had} seeds; "
                         f"a pilot of {n}")
        else:
            lines.append(f"    {claim}: power 0.8 asks {power} at its latest look, {look} ({had} seeds); n {n}")
    if e.get("priced_from"):
        lines.append(f"    priced from: {'; '.join(e['priced_from'])}")
    if max_seeds and e["n"] > max_seeds:
        lines.append(f"    note: n is above the {max_seeds:,} seeds one sweep's grid lists ({MAX_SEEDS_FILE}: "
                     "NL_CLAIM_MAX_SEEDS): normlab cannot run it as one sweep")
    return lines


def render(s):
    rule = s["rule"]
    out = [f"# The next looks by {RULE_FILE}: a claim whose latest look had {rule['min_pilot_seeds']} seeds or "
           f"more gets a confirmation at n = max({rule['min_seeds']}, ceil({rule['margin']:g} x the seeds power 0.8 "
           f"asks at that look)) (a claim over cells: the seeds that decide it either way, every cell holding or "
           f"one not), uncapped; one with fewer, or no number, a pilot of {rule['min_pilot_seeds']}, "
           f"but none where a look of {rule['min_pilot_seeds']} seeds or more already gave power no number; "
           f"cheapest first within {rule['budget_cpu_hours']:g} CPU-hours; cost = n x CPU seconds per seed of the "
           "cells compared, from 1-thread runs where there are (summary.json wall_s x threads x ranks)", ""]
    r = s.get("round")
    if r is not None:
        out.append(f"Round {r['round']} ({rounds.ROUNDS_FILE}): {rule['budget_cpu_hours']:g} CPU-hours a round; "
                   f"its looks' runs spent {fmt_hours(r['done_s'])} (summary.json wall_s x threads x ranks"
                   + (f" of {', '.join(x for x in r['looks'] if x not in r['unrun'])}" if len(r['looks']) > len(r['unrun'])
                      else "") + ")" + (f"; not yet run: {', '.join(r['unrun'])}" if r["unrun"] else "")
                   + (". The round is over by the rule: its looks have run and nothing more fits; "
                      f"{rounds.ROUNDS_FILE} records its end and starts round {r['round'] + 1}" if r["over"] else ""))
        out.append("")
    left = rule["budget_cpu_hours"] - (r["done_s"] / 3600 if r else 0)
    sections = [("run", f"Within the budget ({fmt_hours(s['spent_s'])} of "
                 + (f"{left:.3f} left of the round's {rule['budget_cpu_hours']:g}" if r
                    else f"{rule['budget_cpu_hours']:g}") + "), in this order"),
                ("past_budget", "Past the budget"),
                ("unpriced", "Not priced (no runs of the cells to price)")]
    for key, title in sections:
        out.append(f"## {title}: {len(s[key])}")
        for i, e in enumerate(s[key], 1):
            lines = describe(e, s.get("max_seeds"))
            out.append(f"{i}. {lines[0]}")
            out += lines[1:]
        out.append("")
    out.append(f"## Not schedulable: a pilot gave power no number: {len(s['stopped'])}")
    for i, x in enumerate(s["stopped"], 1):
        out.append(f"{i}. {x['claim']} ({x['base']}): power gives no number at its latest look, {x['look']} "
                   f"({x['seeds']} seeds, at least the pilot size); another pilot of "
                   f"{rule['min_pilot_seeds']} cannot give one, so the rule schedules it no look")
        out.append(f"    under its plan ({x['plan']}): {x['verdict']}, and it stays so while the rule and its "
                   "claim stand (only a new claim, with its own id, can be scheduled)")
    out.append("")
    return "\n".join(out)


# ---- --check ----

def git(root, *args, **kw):
    return subprocess.run(["git", *history.SAFE, "-C", root, *args], capture_output=True,
                          env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1"), **kw)


def source_run_files(root, commit, tree):
    """the run files (summary.json, config.yaml) of the looks a script made
    (a claims file's source:, which Sweep.read_source prices) among the
    paths of COMMIT's TREE: named by each claims file's own runs pattern,
    so no list of them is kept here"""
    out = []
    for path in tree:
        if not (fnmatch.fnmatchcase(path, "experiments/claims/*.yaml") or
                fnmatch.fnmatchcase(path, "experiments/*.yaml")) or path.count("/") > 2:
            continue
        text = git(root, "show", f"{commit}:{path}").stdout.decode("utf-8", "replace")
        m, name = SOURCE_RE.search(text), NAME_RE.search(text)
        if m and name:
            pats = [f"results/{name.group(1)}/{m.group(1)}/{f}" for f in ("summary.json", "config.yaml")]
            out += [p for p in tree if any(fnmatch.fnmatchcase(p, pat) and p.count("/") == pat.count("/")
                                           for pat in pats)]
    return out


def input_paths(root, commit, patterns):
    """the paths of COMMIT that PATTERNS name, and its source looks' run
    files where its schedule reads them (issue 116: Sweep.read_source)"""
    tree = [p for p in git(root, "ls-tree", "-r", "-z", "--name-only", commit).stdout.decode(
        "utf-8", "replace").split("\0") if p]
    paths = [p for p in tree if any(fnmatch.fnmatchcase(p, pattern) for pattern in patterns)]
    code = git(root, "show", f"{commit}:tests/verdict_prose/schedule.py").stdout.decode("utf-8", "replace")
    return paths + (source_run_files(root, commit, tree) if "def read_source(" in code else [])


def archive(root, dest):
    """the committed inputs at HEAD, extracted into dest"""
    tree = git(root, "ls-tree", "-r", "-z", "--name-only", "HEAD")
    if tree.returncode != 0:
        return tree.stderr.decode("utf-8", "replace")
    paths = input_paths(root, "HEAD", INPUTS)
    if not paths:
        return "none of the inputs is committed"
    p = git(root, "archive", "--format=tar", "HEAD", "--", *paths)
    if p.returncode != 0:
        return p.stderr.decode("utf-8", "replace")
    t = subprocess.run(["tar", "-x", "-C", dest], input=p.stdout, capture_output=True)
    return t.stderr.decode("utf-8", "replace") if t.returncode else None


def check(root):
    failures = []
    here = render(schedule(root))
    with tempfile.TemporaryDirectory() as tmp:
        err = archive(root, tmp)
        if err:
            return [f"git archive HEAD: {err.strip()}"]
        try:
            there = render(schedule(tmp))
        except RuleError as e:
            return [f"on git archive HEAD: {e} (commit the rule and the inputs first)"]
        if here != there:
            dirty = [line[3:] for line in git(root, "status", "--porcelain", "--untracked-files=all", "--",
                                               *INPUTS).stdout.decode().split("\n") if line.strip()]
            failures.append("the schedule on the working tree differs from the one on git archive HEAD"
                            + (f" (uncommitted inputs: {' '.join(dirty[:20])})" if dirty else "")
                            + f":\n--- HEAD\n{there}\n--- working tree\n{here}")
        failures += plant(tmp)
    return failures


# ---- a confirmation enters only as the schedule printed it (issue 103) ----

EXCLUDE_RE = re.compile(r"^exclude:\s*\n((?:[ \t]+.*\n?)*)", re.M)
ENTRY_RE = re.compile(r"^\d+\. (\S+): seeds (\d+)-(\d+), n (\d+), .*? of (\d+) cells")
CLAIM_LINE_RE = re.compile(r"^    (?!priced from:|note:)([^\s:]+)")
LOOK_RE = re.compile(r"at its latest look, ([^\s,()]+)")
# the fields of a printed entry, in the record's order (issue 116: cells,
# pilot and the looks the cells come from compared, not counts alone)
ENTRY = ("claims", "first", "last", "n", "cells", "pilot", "looks", "pending", "position")
SET_RE = re.compile(r"^set:\s*\{(.*)\}\s*(?:#.*)?$", re.M)
# the schedule's own code and inputs, archived at a registration's parent
# (tests/packs.py: its reader of packed sweeps)
PRINT_INPUTS = INPUTS + ["tests/verdict_prose/*.py", "tests/verdict_prose/*.tsv", "tests/packs.py"]


def flow_items(text):
    """the top-level items of a flow list's inside ("[a, b], [c]" -> two)"""
    out, depth, cur = [], 0, ""
    for ch in text:
        if ch in "[{":
            depth += 1
        elif ch in "]}":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return [x.strip("'\"") for x in out]


def file_facts(text):
    """what a confirmation file registers: (claim ids, seeds, cells): its
    grid's cells (the product of its keys other than seed, less those its
    exclude: drops), each a frozenset of (key, value)"""
    grid = {}
    m = GRID_RE.search(text)
    for line in (m.group(1).split("\n") if m else []):
        g = re.match(r"^[ \t]+([A-Za-z_][A-Za-z0-9_.]*):\s*\[(.*)\]\s*(?:#.*)?$", line)
        if g:
            grid[g.group(1)] = flow_items(g.group(2))
    seeds = [int(v) for v in grid.pop("seed", []) if v.isdigit()]
    excludes = []
    m = EXCLUDE_RE.search(text)
    for line in (m.group(1).split("\n") if m else []):
        e = re.match(r"^[ \t]+-\s*\{(.*)\}\s*(?:#.*)?$", line)
        if e:
            excludes.append(dict((k.strip(), v.strip().strip("'\"")) for k, _, v in
                                 (kv.partition(":") for kv in flow_items(e.group(1)))))
    cells = [frozenset()]
    for key, values in grid.items():
        cells = [c | {(key, v)} for c in cells for v in values]
    cells = [c for c in cells if not any(all(same_value(v, dict(c).get(k, "")) for k, v in ex.items())
                                          for ex in excludes)]
    ids = [m.group(1) for m in history.ID_RE.finditer(text)]
    return ids, seeds, cells


def printed_entries(text):
    """{name: [claim ids, first seed, last seed, n, cells, pilot, {claim: its
    latest look}, pending, position]} of the looks a schedule's print runs
    within its budget (ENTRY: the fields by name), position 1 the first it
    runs; pilot where the entry says so (", a pilot", or a claim's "a
    pilot of N"); pending: a file committed, not yet run"""
    out, current, within = {}, None, False
    for line in text.split("\n"):
        if line.startswith("## "):
            within = line.startswith("## Within the budget")
            current = None
            continue
        m = ENTRY_RE.match(line)
        if within and m:
            current = m.group(1)
            out[current] = [[], int(m.group(2)), int(m.group(3)), int(m.group(4)), int(m.group(5)),
                            ", a pilot" in line, {}, "(committed, not yet run)" in line, len(out) + 1]
            continue
        c = CLAIM_LINE_RE.match(line)
        if within and current and c:
            e = out[current]
            e[0].append(c.group(1))
            look = LOOK_RE.search(line)
            if look:
                e[6][c.group(1)] = look.group(1)
            e[5] = e[5] or bool(re.search(r"; a pilot of \d+$", line))
    return {k: tuple(v) for k, v in out.items()}


def set_of(text):
    """{key: value} of an experiment file's set: (a flow map on one line)"""
    m = SET_RE.search(text)
    return dict((k.strip(), v.strip().strip("'\"")) for k, _, v in
                (kv.partition(":") for kv in flow_items(m.group(1)))) if m else {}


BASE_RE = re.compile(r"^base:\s*(\S+)", re.M)
NORM_NAME_RE = re.compile(r"^\s+name:\s*([\w.-]+)\s*$", re.M)


def base_formula_name(root, commit, path, text):
    """the name of the formula a file's base config (at COMMIT) gives, as
    its runs and their summary rows go by it (normlab's one name: a grid
    value `expr` is the name the base or set: gives); None where none"""
    name = set_of(text).get("model.norm.name")
    m = BASE_RE.search(text)
    if name or not m or m.group(1).startswith("{"):
        return name
    base = os.path.normpath(os.path.join(os.path.dirname(path), m.group(1)))
    p = git(root, "show", f"{commit}:{base}")
    found = NORM_NAME_RE.search(p.stdout.decode("utf-8", "replace")) if p.returncode == 0 else None
    return found.group(1) if found else None


def cells_differ(text, printed_cells, formula=None):
    """why the cells a file's grid runs (its set: beside each) are not the
    cells the print compares (None: each printed cell is a cell of the grid
    and each grid cell a printed one, on every key both name); a cell
    selector the file names nowhere is its base config's, not read here;
    a model.norm.type of expr is FORMULA, the name its runs go by"""
    _, _, cells = file_facts(text)
    fixed = set_of(text)
    runs = [dict(fixed, **dict(c)) for c in cells]
    for run in runs:
        if formula and run.get("model.norm.type") == "expr":
            run["model.norm.type"] = formula

    def matches(run, cell):
        # an empty value is a key the look's runs leave unset (a dropout
        # placement at p 0, which the sweep runs once): it selects nothing
        return all(same_value(v, run[k]) for k, v in cell if k in run and v != "")
    unrun = [c for c in printed_cells if not any(matches(r, c) for r in runs)]
    unprinted = [r for r in runs if not any(matches(r, c) for c in printed_cells)]
    why = []
    if unrun:
        why.append("printed cells it does not run: " + "; ".join(", ".join(f"{k}={v}" for k, v in c)
                                                                 for c in sorted(unrun)))
    if unprinted:
        why.append("cells it runs that the print does not compare: " + "; ".join(
            ", ".join(f"{k}={v}" for k, v in sorted(r.items())) for r in unprinted))
    return "; ".join(why) or None


def as_printed(name, text, printed, printed_cells=None, declared_pilot=None, formula=None):
    """why a confirmation file is not what the print scheduled (None: it
    is): its claims, seeds, n, cells (the printed cells themselves where
    known, not their count alone) and pilot flag (where known) as printed"""
    if name not in printed:
        return f"the schedule did not print {name} within its budget ({', '.join(sorted(printed)) or 'nothing'})"
    claims, first, last, n, n_cells, pilot = printed[name][:6]
    ids, seeds, cells = file_facts(text)
    why = []
    if sorted(ids) != sorted(claims):
        why.append(f"claims {', '.join(sorted(ids))}, printed {', '.join(sorted(claims))}")
    if seeds != list(range(first, last + 1)):
        why.append(f"seeds {seeds[:1]}..{seeds[-1:]} ({len(seeds)}), printed {first}-{last}")
    if len(seeds) != n:
        why.append(f"n {len(seeds)}, printed {n}")
    if len(cells) != n_cells:
        why.append(f"{len(cells)} cells, printed {n_cells}")
    if printed_cells is not None:
        why.append(cells_differ(text, printed_cells, formula))
    if declared_pilot is not None and declared_pilot != pilot:
        why.append("declared a pilot, printed a confirmation" if declared_pilot else
                   "printed a pilot, not declared one in a plan's pilots:")
    return "; ".join(w for w in why if w) or None


_VERDICTS_AT = {}


def printed_cells(root, commit, entry):
    """the cells a printed entry compares, from its claims' latest looks'
    verdicts.csv at COMMIT (claim_cells, as the schedule priced them); None
    where a claim names no look there (a pending file's, a record's stub)"""
    cells = set()
    for claim in entry[0]:
        look = entry[6].get(claim)
        if look is None:
            return None
        if (commit, look) not in _VERDICTS_AT:
            p = git(root, "show", f"{commit}:results/{look}/verdicts.csv")
            _VERDICTS_AT[(commit, look)] = list(csv.DictReader(p.stdout.decode("utf-8", "replace").splitlines())) \
                if p.returncode == 0 else None
        rows = _VERDICTS_AT[(commit, look)]
        heads = [r for r in cp.headline_rows(rows)[0] if r["claim"] == claim] if rows else []
        if not heads:
            return None
        cells |= claim_cells(rows, heads[0])
    return cells


_PRINTS = {}
FAILED_THERE = "(schedule.py failed there:"


def print_at(root, commit):
    """what `schedule.py .` printed at COMMIT (its own code, its committed
    inputs); None where the rule was not there yet"""
    if commit in _PRINTS:
        return _PRINTS[commit]
    out = None
    if git(root, "cat-file", "-e", f"{commit}:{RULE_FILE}").returncode == 0:
        with tempfile.TemporaryDirectory() as tmp:
            paths = input_paths(root, commit, PRINT_INPUTS)
            tar = git(root, "archive", "--format=tar", commit, "--", *paths)
            subprocess.run(["tar", "-x", "-C", tmp], input=tar.stdout, capture_output=True)
            p = subprocess.run([sys.executable, os.path.join(tmp, "tests", "verdict_prose", "schedule.py"), tmp],
                               capture_output=True, env=dict(os.environ, PYTHONDONTWRITEBYTECODE="1"))
            out = p.stdout.decode("utf-8", "replace") if p.returncode == 0 else \
                f"{FAILED_THERE} {p.stderr.decode('utf-8', 'replace').strip()})"
    _PRINTS[commit] = out
    return out


def registered_files(root):
    """{experiments/NAME.yaml: the commit that added it} for each file that
    registers a look: a confirmation, and whatever its name any file that
    repeats another experiment's claims (the same id, word for word) on
    the same base: (issue 116: the same look under another name)"""
    tracked = git(root, "ls-files", "--", "experiments/*.yaml").stdout.decode().split()
    texts = {}
    for path in tracked:
        try:
            texts[path] = open(os.path.join(root, path)).read()
        except OSError:
            continue
    added_in = {}
    for path in sorted(texts):
        if not cp.is_confirmation(os.path.basename(path)[:-5]) and not repeats(path, texts):
            continue
        added = git(root, "log", "--diff-filter=A", "--format=%H", "--", path).stdout.decode().split()
        if added:
            added_in[path] = added[-1]
    return added_in


def repeats(path, texts):
    """another experiment (not PATH's original or its confirmation) whose
    base: PATH's is and that has one of PATH's claims word for word"""
    name = frozen.name_of(texts[path], path)
    claims, base = frozen.claims_of(texts[path]), frozen.top_blocks(texts[path]).get("base")
    for other, text in texts.items():
        if other == path or cp.confirm_order(frozen.name_of(text, other))[0] == cp.confirm_order(name)[0]:
            continue
        theirs = frozen.claims_of(text)
        if frozen.top_blocks(text).get("base") == base and any(theirs.get(c) == f for c, f in claims.items()):
            return other
    return None


def declared_pilot(root, commit, path, name):
    """NAME is declared a pilot at COMMIT: in its own file's plan or its
    original's (pilots:)"""
    base = cp.confirm_order(name)[0]
    for p in (path, f"experiments/{base}.yaml", f"experiments/claims/{base}.yaml"):
        shown = git(root, "show", f"{commit}:{p}")
        if shown.returncode == 0 and name in cp.pilots_of(shown.stdout.decode("utf-8", "replace")):
            return True
    return False


SKIPS_FILE = os.path.join("experiments", "schedule", "skipped.tsv")


def read_skips(root):
    """{(commit, the look it skipped): reason} of SKIPS_FILE: a commit that
    registered a look past the print's first, on the record (issue 116):
    it stays a look, and the check names it rather than failing it"""
    out = {}
    try:
        lines = open(os.path.join(root, SKIPS_FILE)).read().split("\n")
    except OSError:
        return out
    for number, line in enumerate(lines, 1):
        if not line or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 4 or not re.fullmatch(r"[0-9a-f]{40}", cols[0]) or not cols[3].strip():
            raise RuleError(f"{SKIPS_FILE}:{number}: not COMMIT<tab>REGISTERED<tab>SKIPPED<tab>REASON")
        out[(cols[0], cols[2])] = cols[3]
    return out


def skip_failures(skips, found):
    """FOUND: {(commit, skipped look): why}; the failures: each skip not on
    the record, and each record line no skip of the history matches"""
    out = [f"{c[:9]} {why} within its budget: the print is run in its order (or the skip is put on the record, "
           f"{SKIPS_FILE})" for (c, _), why in sorted(found.items()) if (c, _) not in skips]
    out += [f"{SKIPS_FILE}: {c[:9]} skipping {look} is on the record, but the history holds no such skip"
            for c, look in sorted(skips) if (c, look) not in found]
    return out


def skipped(entries, names):
    """why a commit registering NAMES skips the first look its parent's
    print runs within its budget (a file committed, not yet run, aside: it
    is registered already); None where it does not"""
    todo = sorted((e[8], k) for k, e in entries.items() if not e[7])
    if not todo or todo[0][1] in names or not names & set(entries):
        return None
    return todo[0][1], (f"registers {', '.join(sorted(names & set(entries)))} and not {todo[0][1]}, the first "
                        "look the print runs")


# ---- the record of the prints already computed (issue 115) ----
# A print is a function of its inputs at its commit (PRINT_INPUTS: the
# schedule's code and the files it reads), so it is kept in a committed
# record keyed by the SHA-256 of those inputs (each path and its blob):
# the default suite recomputes only a print whose key is not in the record
# (a new registration, or a history rewritten under it), and the label
# long (test_schedule_all: --check --all) recomputes every print and fails
# on a record entry that is not what it computes. Written by --record.

PRINTS_FILE = os.path.join("experiments", "schedule", "prints.tsv")
PRINTS_HEAD = ("# the schedule's prints at each registration's parent commit, as the entries it runs within its budget\n"
               "# (tests/verdict_prose/schedule.py --record writes it; --check reads it, --check --all recomputes it)\n"
               "# inputs_sha256\tcommit\tentries: {name: [claims, first seed, last seed, n, cells, pilot, "
               "{claim: latest look}, pending, position]}\n")
_PRINT_INPUTS_RE = re.compile("|".join(f"(?:{fnmatch.translate(p)})" for p in PRINT_INPUTS))


def inputs_key_reads_sources(root, commit):
    return "def read_source(" in git(root, "show", f"{commit}:tests/verdict_prose/schedule.py").stdout.decode(
        "utf-8", "replace")


def inputs_key(root, commit):
    """the SHA-256 of the print's inputs at COMMIT: each path PRINT_INPUTS
    names, with its blob, in path order"""
    tree = git(root, "ls-tree", "-r", "-z", "--full-tree", commit)
    if tree.returncode != 0:
        return None
    h = hashlib.sha256()
    rows = []
    # a source look's run files are inputs only where the commit's own
    # schedule reads them, so an older commit's key stays what it was
    sources = set(input_paths(root, commit, [])) if inputs_key_reads_sources(root, commit) else set()
    for e in tree.stdout.decode("utf-8", "replace").split("\0"):
        meta, _, path = e.partition("\t")
        if path and (_PRINT_INPUTS_RE.match(path) or path in sources):
            rows.append(f"{path}\0{meta.split()[2]}\n")
    for row in sorted(rows):
        h.update(row.encode())
    return h.hexdigest()


def read_prints(root):
    """{inputs_sha256: (commit, entries as printed_entries gives them)}"""
    out = {}
    try:
        with open(os.path.join(root, PRINTS_FILE)) as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return out
    for number, line in enumerate(lines, 1):
        if not line or line.startswith("#"):
            continue
        parts = line.split("\t")
        try:
            entries = {k: tuple(v) for k, v in json.loads(parts[2]).items()}
        except (IndexError, ValueError, AttributeError, TypeError):
            raise RuleError(f"{PRINTS_FILE}:{number}: not KEY<tab>COMMIT<tab>JSON")
        if all(len(v) == len(ENTRY) for v in entries.values()):
            out[parts[0]] = (parts[1], entries)  # an entry of an older shape is printed again
    return out


def prints_text(prints):
    return PRINTS_HEAD + "".join(f"{key}\t{commit}\t{json.dumps(entries, sort_keys=True)}\n"
                                 for key, (commit, entries) in sorted(prints.items(), key=lambda kv: kv[1][0]))


def printed_at(root, parents, record, recompute_all, say=True):
    """{parent commit: (entries, whether the print failed there)}, from the record
    where its key is there (unless recompute_all), else printed again (one
    process per core); and the failures: with recompute_all, each record
    entry that is not what the print gives now"""
    keys = {c: inputs_key(root, c) for c in parents}
    todo = sorted(c for c in parents if recompute_all or keys[c] not in record)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        list(pool.map(lambda commit: print_at(root, commit), todo))
    out, failures, fresh = {}, [], 0
    for c in parents:
        if c not in todo:
            out[c] = (record[keys[c]][1], False)
            continue
        printed = print_at(root, c)
        if printed is None:
            out[c] = (None, False)
            continue
        fresh += 1
        entries = printed_entries(printed)
        out[c] = (entries, printed.startswith(FAILED_THERE))
        if keys[c] in record and record[keys[c]][1] != entries:
            failures.append(f"{PRINTS_FILE}: the entry for {c[:9]} ({keys[c][:12]}) is not what the schedule prints "
                            f"there: recorded {record[keys[c]][1]}, printed {entries}")
    if say:
        print(f"schedule.py: {len(parents)} registration prints, {len(parents) - fresh} from {PRINTS_FILE}, "
              f"{fresh} printed again" + ("" if recompute_all else " (not in the record: schedule.py . --record)"
                                          if fresh else ""), file=sys.stderr)
    return out, failures


def registrations(root, recompute_all=False, say=True):
    """each confirmation file committed while a rule was committed: as the
    schedule at its parent commit printed it (its claims, cells, seeds, n,
    read from the file as that commit added it; its seeds and cells as the
    working tree has them too: a grid changed after the registration is
    another sweep). The prints come from the record where it has them."""
    added_in = registered_files(root)
    parents = sorted({commit + "^" for commit in added_in.values()
                      if git(root, "cat-file", "-e", f"{commit}^:{RULE_FILE}").returncode == 0})
    prints, failures = printed_at(root, parents, read_prints(root), recompute_all, say)
    by_commit = {}
    for path, commit in added_in.items():
        by_commit.setdefault(commit, set()).add(os.path.basename(path)[:-5])
    found = {}
    for commit, names in sorted(by_commit.items()):
        entries = prints.get(commit + "^", (None,))[0]
        skip = skipped(entries, names) if entries else None
        if skip:
            found[(commit, skip[0])] = skip[1]
    failures += skip_failures(read_skips(root), found)
    for path, commit in added_in.items():
        if commit + "^" not in prints:
            continue
        entries, _ = prints[commit + "^"]
        if entries is None:
            continue
        name = os.path.basename(path)[:-5]
        text = git(root, "show", f"{commit}:{path}").stdout.decode("utf-8", "replace")
        cells = printed_cells(root, commit + "^", entries[name]) if name in entries else None
        why = as_printed(name, text, entries, cells, declared_pilot(root, commit, path, name),
                         base_formula_name(root, commit, path, text))
        if why is None:
            _, seeds, cells = file_facts(text)
            _, now_seeds, now_cells = file_facts(open(os.path.join(root, path)).read())
            if (now_seeds, sorted(map(sorted, now_cells))) != (seeds, sorted(map(sorted, cells))):
                why = "its grid (seeds or cells) changed after its registration"
        if why:
            failures.append(f"{path} (committed in {commit[:9]}) is not what the schedule printed at its parent "
                            f"commit: {why}")
    return failures


def rounds_check(root):
    """the rounds' record held to the history (rounds.py): each round's
    looks the registrations committed in it, each change to the rule or
    its print's code listed, an open round over by the rule ended"""
    r = schedule(root).get("round")
    return rounds.history_failures(root, registered_files(root), bool(r and r["over"]))


def record_prints(root, say=True):
    """the record written again: every registration's print, kept where the
    record has its key, printed where not"""
    added_in = registered_files(root)
    parents = sorted({commit + "^" for commit in added_in.values()
                      if git(root, "cat-file", "-e", f"{commit}^:{RULE_FILE}").returncode == 0})
    record = read_prints(root)
    prints, _ = printed_at(root, parents, record, False, say)
    out = {}
    for c in parents:
        entries, broken = prints[c]
        if entries is not None and not broken:
            out[inputs_key(root, c)] = (git(root, "rev-parse", c).stdout.decode().strip(), entries)
    with open(os.path.join(root, PRINTS_FILE), "w") as f:
        f.write(prints_text(out))
    return len(out)


def record_self_test(root):
    """the record end to end, in a scratch repository whose schedule.py
    prints a fixed schedule: a registration as printed passes, recorded or
    not; one off the print (a seed more) fails through the record as
    without it; a record entry that is not the print is found by --all; a
    changed input is a new key (printed again), a changed other file is not"""
    failures = []
    printed = ("## Within the budget\n1. x-confirm2: seeds 101-105, n 5, 0.1 CPU-hours of 2 cells\n"
               "    p: 0.1\n## Past the budget\n")
    grid = "name: x-confirm2\ngrid:\n  k: [a, b]\n  seed: [{seeds}]\nclaims:\n  - id: p\n"
    with tempfile.TemporaryDirectory() as tmp:
        def commit(files, message):
            for path, text in files.items():
                os.makedirs(os.path.dirname(os.path.join(tmp, path)), exist_ok=True)
                with open(os.path.join(tmp, path), "w") as f:
                    f.write(text)
            for args in (["add", "-A"], ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false",
                                         "commit", "-q", "-m", message]):
                git(tmp, *args, check=True)
        git(tmp, "init", "-q", check=True)
        commit({RULE_FILE: "min_seeds: 5\n", "README": "a\n",
                "tests/verdict_prose/schedule.py": f"print({printed!r})\n"}, "rule")
        commit({"experiments/x-confirm2.yaml": grid.format(seeds="101, 102, 103, 104, 105")}, "registered")
        unrecorded = registrations(tmp, say=False)
        record_prints(tmp, say=False)
        for what, got in (("without a record", unrecorded), ("recorded", registrations(tmp, say=False))):
            if got:
                failures.append(f"record self-test: a registration as printed fails {what}: {got}")
        record = read_prints(tmp)
        key = inputs_key(tmp, "HEAD~1")
        if list(record) != [key]:
            failures.append(f"record self-test: recorded {list(record)}, want the parent's inputs' hash {key}")
        base = git(tmp, "rev-parse", "HEAD~1").stdout.decode().strip()
        commit({"README": "b\n"}, "not an input")
        if inputs_key(tmp, "HEAD~1") != inputs_key(tmp, "HEAD"):
            failures.append("record self-test: a file the print does not read changed its inputs' hash")
        commit({"results/looks.csv": "claim\n"}, "an input")
        if inputs_key(tmp, "HEAD~1") == inputs_key(tmp, "HEAD"):
            failures.append("record self-test: a changed input kept its inputs' hash")
        # off the print: registered again on the same parent with a seed
        # more, the record kept: it fails through the record
        git(tmp, "reset", "-q", "--hard", base, check=True)
        with open(os.path.join(tmp, PRINTS_FILE), "w") as f:
            f.write(prints_text(record))
        commit({"experiments/x-confirm2.yaml": grid.format(seeds="101, 102, 103, 104, 105, 106")}, "a seed more")
        got = registrations(tmp, say=False)
        if read_prints(tmp) != record or not any("x-confirm2" in f and "seeds" in f for f in got):
            failures.append(f"record self-test: a registration with a seed more than its recorded print passes: {got}")
        # a record that lies (its entry says 6 seeds): --check trusts it,
        # --all prints again and finds it
        lie = {key: (record[key][0], {"x-confirm2": (["p"], 101, 106, 6, 2, False, {}, False, 1)})}
        with open(os.path.join(tmp, PRINTS_FILE), "w") as f:
            f.write(prints_text(lie))
        if registrations(tmp, say=False) or not any("is not what the schedule prints there" in f
                                         for f in registrations(tmp, recompute_all=True, say=False)):
            failures.append("record self-test: --check --all does not find a record entry that is not the print")
        failures += end_to_end_plants(tmp, commit, base, grid)
        failures += rounds_history_plants(tmp, commit, base, grid)
    return failures


def rounds_history_plants(tmp, commit, base, grid):
    """the rounds' record against a scratch history (issue 116): a round
    listing the look registered in it and the rule change made in it (by
    "this") passes; a registration it does not list, a rule change it does
    not list, and an open round the print calls over each fail"""
    failures = []
    git(tmp, "reset", "-q", "--hard", base, check=True)
    start = git(tmp, "rev-parse", "HEAD").stdout.decode().strip()
    head = f"1\tstart\t{start}\tplanted\n"
    commit({rounds.ROUNDS_FILE: head + "1\tlook\tx-confirm2\tplanted\n",
            "experiments/x-confirm2.yaml": grid.format(seeds="101, 102, 103, 104, 105")}, "registered")
    if rounds.history_failures(tmp, registered_files(tmp), False):
        failures.append(f"rounds: a round listing its one registration fails: "
                        f"{rounds.history_failures(tmp, registered_files(tmp), False)}")
    commit({RULE_FILE: "min_seeds: 6\n"}, "a rule change, unlisted")
    if not any("not listed as a change" in f for f in rounds.history_failures(tmp, registered_files(tmp), False)):
        failures.append("rounds: a rule change in the round, not listed, passes")
    commit({rounds.ROUNDS_FILE: head + "1\tlook\tx-confirm2\tplanted\n1\tchange\tthis\tplanted\n",
            RULE_FILE: "min_seeds: 7\n"}, "a rule change, listed by this")
    got = [f for f in rounds.history_failures(tmp, registered_files(tmp), False) if "HEAD~1" not in f]
    if [f for f in got if "not listed as a change" not in f] or len(got) != 1:
        failures.append(f"rounds: a change listed as this is not taken, or the unlisted one is lost: {got}")
    commit({rounds.ROUNDS_FILE: head + "1\tchange\tthis\tplanted\n"}, "its look dropped from the record")
    if not any("lists looks none" in f for f in rounds.history_failures(tmp, registered_files(tmp), False)):
        failures.append("rounds: a registration the round does not list passes")
    if not any("is over by the rule" in f for f in rounds.history_failures(tmp, registered_files(tmp), True)):
        failures.append("rounds: an open round the print calls over passes without its end")
    return failures


def end_to_end_plants(tmp, commit, base, grid):
    """issue 116, through the history: the same look under another name
    (x-again repeating x-confirm2's claims on its base) is a registration
    the print did not make; a commit registering the print's second look
    and not its first is a skip, off the record"""
    failures = []
    git(tmp, "reset", "-q", "--hard", base, check=True)
    if os.path.exists(os.path.join(tmp, PRINTS_FILE)):
        os.remove(os.path.join(tmp, PRINTS_FILE))
    commit({"experiments/x-confirm2.yaml": grid.format(seeds="101, 102, 103, 104, 105")}, "registered")
    commit({"experiments/x-again.yaml": grid.format(seeds="101, 102, 103, 104, 105").replace(
        "name: x-confirm2", "name: x-again")}, "the same look under another name")
    got = registrations(tmp, say=False)
    if not any("x-again" in f and "did not print x-again" in f for f in got):
        failures.append(f"record self-test: a look registered again under another name passes: {got}")
    git(tmp, "reset", "-q", "--hard", base, check=True)
    two = ("## Within the budget\n1. a-confirm: seeds 101-105, n 5, 0.1 CPU-hours of 2 cells\n    q: 0.1\n"
           "2. x-confirm2: seeds 101-105, n 5, 0.1 CPU-hours of 2 cells\n    p: 0.1\n## Past the budget\n")
    commit({"tests/verdict_prose/schedule.py": f"print({two!r})\n"}, "a print of two looks")
    commit({"experiments/x-confirm2.yaml": grid.format(seeds="101, 102, 103, 104, 105")}, "the second registered")
    got = registrations(tmp, say=False)
    if not any("and not a-confirm, the first look the print runs" in f for f in got):
        failures.append(f"record self-test: a registration skipping the print's first look passes: {got}")
    return failures


def registration_plants(root):
    """the comparison fails on each planted difference from a print: an
    unprinted name, a seed more, another first seed, a claim more or less,
    a cell more; a file written as printed passes"""
    failures = []
    printed = {"x-confirm2": (["p", "q"], 701, 709, 9, 2, False, {}, False, 1)}
    cells = {(("model.norm.type", "batch"), ("train.lr", "0.1")), (("model.norm.type", "group"), ("train.lr", "0.1"))}
    good = ("name: x-confirm2\ngrid:\n  model.norm.type: [batch, group, layer]\n  train.lr: [0.1]\n"
            "  seed: [{seeds}]\nexclude:\n  - {{model.norm.type: layer}}\nclaims:\n  - id: p\n  - id: q\n")
    seeds = ", ".join(str(i) for i in range(701, 710))
    text = good.format(seeds=seeds)
    if as_printed("x-confirm2", text, printed, cells, False) is not None:
        failures.append("a confirmation written as printed is refused: "
                        f"{as_printed('x-confirm2', text, printed, cells, False)}")
    plants = [("an unprinted name", "x-confirm3", text.replace("x-confirm2", "x-confirm3")),
              ("a seed more", "x-confirm2", good.format(seeds=seeds + ", 710")),
              ("other seeds", "x-confirm2", good.format(seeds=seeds.replace("701", "700"))),
              ("a claim less", "x-confirm2", text.replace("  - id: q\n", "")),
              ("a claim more", "x-confirm2", text + "  - id: r\n"),
              ("a cell more", "x-confirm2", text.replace("  - {model.norm.type: layer}\n", ""))]
    for what, name, planted in plants:
        if as_printed(name, planted, printed) is None:
            failures.append(f"a confirmation file with {what} than the print is accepted")
    failures += exact_plants(text, printed, cells)
    # and on this repository's print: the first confirmation it runs,
    # written as printed, passes; with one seed more, it fails
    here = printed_entries(render(schedule(root)))
    for name, (claims, first, last, n, n_cells, *_) in list(here.items())[:1]:
        seeds = ", ".join(str(i) for i in range(first, last + 1))
        sweep_cells = "".join(f"  k: [{', '.join(str(j) for j in range(n_cells))}]\n" for _ in [0])
        text = f"name: {name}\ngrid:\n{sweep_cells}  seed: [{seeds}]\nclaims:\n" + \
            "".join(f"  - id: {c}\n" for c in claims)
        if as_printed(name, text, here) is not None:
            failures.append(f"{name} written as this commit prints it is refused: {as_printed(name, text, here)}")
        if as_printed(name, text.replace(f"{last}]", f"{last}, {last + 1}]"), here) is None:
            failures.append(f"{name} with a seed more than this commit prints is accepted")
    return failures


def exact_plants(text, printed, cells):
    """issue 116: what a count cannot see is refused too: other cells of
    the same number, a cell set: moves, a pilot flag other than the
    print's; a commit that registers the print's second look and not its
    first; the same look under another name (a file repeating an
    experiment's claims on its base:)"""
    failures = []
    for what, planted, pilot in [
            ("other cells, as many", text.replace("[batch, group, layer]", "[batch, instance, layer]"), False),
            ("a cell its set: moves", text.replace("  train.lr: [0.1]\n", "").replace(
                "grid:", "set: {train.lr: 0.2}\ngrid:"), False),
            ("a pilot flag the print does not give", text, True)]:
        if as_printed("x-confirm2", planted, printed, cells, pilot) is None:
            failures.append(f"a confirmation file with {what} than the print is accepted")
    if as_printed("x-confirm2", text, dict(printed, **{"x-confirm2": printed["x-confirm2"][:5] + (True,)
                                                        + printed["x-confirm2"][6:]}), cells, False) is None:
        failures.append("a confirmation of a printed pilot, not declared one, is accepted")
    two = {"a-confirm": (["p"], 101, 110, 10, 1, False, {}, False, 1),
           "b-confirm2": (["q"], 201, 210, 10, 1, False, {}, False, 2)}
    if skipped(two, {"b-confirm2"}) is None:
        failures.append("a commit registering the print's second look and not its first is accepted")
    c = "0" * 40
    if not skip_failures({}, {(c, "a-confirm"): "skips"}) or skip_failures({(c, "a-confirm"): "why"},
                                                                          {(c, "a-confirm"): "skips"}) or \
            not skip_failures({(c, "a-confirm"): "why"}, {}):
        failures.append("a skip is not failed off the record, or failed on it, or a record line of no skip passes")
    if skipped(two, {"a-confirm", "b-confirm2"}) or skipped(two, {"a-confirm"}) or \
            skipped(dict(two, **{"a-confirm": two["a-confirm"][:7] + (True, 1)}), {"b-confirm2"}):
        failures.append("the print's first look, or the next after a committed one, is refused as a skip")
    x = "name: x\nbase: ../configs/c.yaml\nclaims:\n  - id: p\n    metric: m\n    expect: a < b\n"
    again = x.replace("name: x", "name: x-again")
    texts = {"experiments/x.yaml": x, "experiments/x-again.yaml": again}
    if repeats("experiments/x-again.yaml", texts) != "experiments/x.yaml" or \
            repeats("experiments/x-again.yaml", dict(texts, **{"experiments/x.yaml": x.replace("c.yaml", "d.yaml")})) \
            or repeats("experiments/x-again.yaml", dict(texts, **{"experiments/x.yaml": x.replace("a < b", "a > b")})) \
            or repeats("experiments/x-confirm.yaml", {"experiments/x.yaml": x,
                                                      "experiments/x-confirm.yaml": again.replace("-again", "-confirm")}):
        failures.append("a file repeating an experiment's claims on its base under another name is not a "
                        "registration (or another base, another claim, or its own confirmation is taken for one)")
    return failures


def set_column(path, claim, column, value):
    rows = read_csv(path)
    with open(path, newline="") as f:
        fields = next(csv.reader(f))
    hit = False
    for r in rows:
        if r["claim"] == claim:
            r[column] = value
            hit = True
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return hit


def set_rule(tmp, **values):
    path = os.path.join(tmp, RULE_FILE)
    with open(path) as f:
        text = f.read()
    for key, value in values.items():
        text = re.sub(rf"^{key}:.*$", f"{key}: {value}", text, flags=re.M)
    with open(path, "w") as f:
        f.write(text)


def new_ones(s, *keys):
    return [e for k in keys for e in s[k] if not e["pending"]]


def confirmations(s, *keys):
    """the new confirmations (not the pilots) under keys"""
    return [e for e in new_ones(s, *keys) if not e["pilot"]]


def plant(tmp):
    """changes planted in the copy must move the schedule: first the pilot
    size at 1 and the budget opened wide, so that every priced open claim
    gets a confirmation"""
    failures = []
    set_rule(tmp, min_pilot_seeds=1, budget_cpu_hours=10 ** 9)
    s = schedule(tmp)
    rule = s["rule"]
    scheduled = confirmations(s, "run")
    if len(scheduled) < 2:
        return [f"{len(scheduled)} confirmations scheduled with the budget opened: nothing to order"]
    first = scheduled[0]
    if [e["cost_s"] for e in scheduled] != sorted(e["cost_s"] for e in scheduled):
        failures.append("the confirmations are not cheapest first")
    # 1. another seeds_power at the claim's latest look: its n by the rule
    claim, n, power, look, _ = first["claims"][0]
    want_power = 3 * power + 7
    want_n = max(rule["min_seeds"], math.ceil(rule["margin"] * want_power))
    path = os.path.join(tmp, "results", look, "verdicts.csv")
    set_column(path, claim, "seeds_needed", "")
    if not set_column(path, claim, "seeds_power", str(want_power)):
        failures.append(f"{look}/verdicts.csv: no row {claim}")
    t = schedule(tmp)
    got_n = {(e["name"], c): cn for e in confirmations(t, "run") for c, cn, _, _, _ in e["claims"]}.get((first["name"], claim))
    if got_n != want_n:
        failures.append(f"planted seeds_power {want_power} for {look}/{claim}: its n is {got_n}, not "
                        f"max({rule['min_seeds']}, ceil({rule['margin']} x {want_power})) = {want_n}")
    # 2. the cheapest confirmation's runs 1000 times dearer: no longer first
    head = confirmations(t, "run")[0]
    # every look of its original: a 1-thread price may come from any of them
    looks = [d for d in os.listdir(os.path.join(tmp, "results")) if cp.confirm_order(d)[0] == head["base"]]
    for lk in sorted(looks):
        packs.unpack(os.path.join(tmp, "results", lk))  # a packed look's runs as files to edit
        for path in glob.glob(os.path.join(tmp, "results", lk, "runs", "*", "summary.json")):
            with open(path) as f:
                j = json.load(f)
            if cp.as_float(j.get("wall_s")):
                j["wall_s"] = cp.as_float(j["wall_s"]) * 1000
                with open(path, "w") as f:
                    json.dump(j, f)
    u = schedule(tmp)
    if confirmations(u, "run")[0]["name"] == head["name"]:
        failures.append(f"{head['name']}'s runs made 1000 times dearer, it is still first")
    # 3. the rule's budget: just below the cheapest, it does not run
    cheapest = confirmations(u, "run")[0]
    set_rule(tmp, budget_cpu_hours=cheapest["cost_s"] / 3600 * 0.99)
    v = schedule(tmp)
    if cheapest["name"] in [e["name"] for e in new_ones(v, "run")] or \
            cheapest["name"] not in [e["name"] for e in new_ones(v, "past_budget")]:
        failures.append(f"budget below {cheapest['name']}'s cost: it is not past the budget")
    # the pilot size: above the seeds of the cheapest one's latest look, its
    # claims get a pilot of that many seeds instead of n
    had = min(c[4] for c in cheapest["claims"])
    set_rule(tmp, budget_cpu_hours=10 ** 9, min_pilot_seeds=had + 1)
    w = schedule(tmp)
    mine = [e for e in new_ones(w, "run") if e["base"] == cheapest["base"]
            and {c[0] for c in e["claims"]} & {c[0] for c in cheapest["claims"]}]
    if not mine or not any(e["pilot"] and e["n"] == had + 1 for e in mine):
        failures.append(f"min_pilot_seeds {had + 1}: {cheapest['name']}'s claims (latest look {had} seeds) get no "
                        f"pilot of {had + 1}")
    # 4. a confirmation file committed for the cheapest one: listed at its
    # own seeds, not yet run, and its claims no longer scheduled again
    set_rule(tmp, min_pilot_seeds=1, budget_cpu_hours=10 ** 9)
    x = schedule(tmp)
    top = confirmations(x, "run")[0]
    first, last = top["seeds"]
    with open(os.path.join(tmp, "experiments", top["name"] + ".yaml"), "w") as f:
        f.write(f"name: {top['name']}\ngrid:\n  seed: [{', '.join(str(i) for i in range(first, last + 1))}]\n"
                "claims:\n" + "".join(f"  - id: {c[0]}\n" for c in top["claims"]))
    y = schedule(tmp)
    listed = [e for e in y["run"] + y["past_budget"] if e["name"] == top["name"]]
    if len(listed) != 1 or not listed[0]["pending"] or listed[0]["seeds"] != top["seeds"]:
        failures.append(f"a committed {top['name']}.yaml is not listed once, as not yet run, at seeds {first}-{last}")
    elif listed[0]["cost_s"] is None or abs(listed[0]["cost_s"] - top["cost_s"]) > 1e-6 * top["cost_s"]:
        failures.append(f"a committed {top['name']}.yaml is priced {listed[0]['cost_s']} CPU-s, not at its "
                        f"claims' cells as scheduled ({top['cost_s']})")
    again = [e["name"] for e in new_ones(y, "run", "past_budget") if e["base"] == top["base"]
             and {c[0] for c in e["claims"]} & {c[0] for c in top["claims"]}]
    if again:
        failures.append(f"{top['name']}.yaml committed: its claims are scheduled again in {', '.join(again)}")
    return failures + stop_plant(tmp, y) + round_plant(tmp)


def round_plant(tmp):
    """the budget is the round's (issue 116): a look with runs listed in
    the open round spends its runs' CPU seconds (summary.json) from it, so
    the budget left is less by that much, and a round whose budget its
    looks have spent schedules nothing new"""
    set_rule(tmp, min_pilot_seeds=1, budget_cpu_hours=10 ** 6)
    path = os.path.join(tmp, rounds.ROUNDS_FILE)
    if not os.path.exists(path):
        return [f"{rounds.ROUNDS_FILE}: not in the archive"]
    before = schedule(tmp)
    look = "finetune-shift-confirm"
    cost = sum(Sweep(tmp, look).cpu.values())
    n = before["round"]["round"]
    with open(path, "a") as f:
        f.write(f"{n}\tlook\t{look}\tplanted\n")
    after = schedule(tmp)
    failures = []
    if abs(after["round"]["done_s"] - before["round"]["done_s"] - cost) > 1e-6 * max(cost, 1) or not cost:
        failures.append(f"{look} listed in round {n}: its runs' {cost:.1f} CPU-s are not spent from the round "
                        f"({before['round']['done_s']:.1f} -> {after['round']['done_s']:.1f})")
    set_rule(tmp, budget_cpu_hours=(after["round"]["done_s"] + 1) / 3600)
    spent_out = schedule(tmp)
    if new_ones(spent_out, "run"):
        failures.append(f"a round whose looks spent its budget still schedules {new_ones(spent_out, 'run')[0]['name']}")
    return failures


def stop_plant(tmp, s):
    """the stop (issue 103): a claim of a scheduled confirmation (not a
    committed file's), its latest look made to give power no number, gets
    no pilot and no confirmation while that look had min_pilot_seeds seeds
    or more, and is listed as not schedulable with its plan's verdict; with
    the pilot size one above that look's seeds it gets a pilot again"""
    mine = confirmations(s, "run", "past_budget")
    if not mine:
        return ["no confirmation scheduled to plant a claim without a number on"]
    claim, _, _, look, had = mine[0]["claims"][0]
    path = os.path.join(tmp, "results", look, "verdicts.csv")
    set_column(path, claim, "seeds_needed", "")
    set_column(path, claim, "seeds_power", "")
    set_rule(tmp, min_pilot_seeds=had)
    t = schedule(tmp)
    failures = []
    entries = [e["name"] for e in t["run"] + t["past_budget"] + t["unpriced"]
               if e["base"] == mine[0]["base"] and claim in [c[0] for c in e["claims"]]]
    stopped = [x for x in t["stopped"] if (x["base"], x["claim"]) == (mine[0]["base"], claim)]
    if entries or len(stopped) != 1:
        failures.append(f"{look}/{claim}, power without a number at {had} seeds (the pilot size): scheduled in "
                        f"{', '.join(entries) or 'nothing'}, listed {len(stopped)} times as not schedulable")
    elif f"{claim} ({mine[0]['base']}): power gives no number" not in render(t).split(
            "## Not schedulable: a pilot gave power no number: ")[-1]:
        failures.append(f"{claim} is not printed under 'Not schedulable: a pilot gave power no number'")
    set_rule(tmp, min_pilot_seeds=had + 1)
    u = schedule(tmp)
    pilot = [e for e in new_ones(u, "run", "past_budget", "unpriced") if e["pilot"] and e["n"] == had + 1
             and e["base"] == mine[0]["base"] and claim in [c[0] for c in e["claims"]]]
    if not pilot or any(x["claim"] == claim and x["base"] == mine[0]["base"] for x in u["stopped"]):
        failures.append(f"{look}/{claim}, power without a number at {had} seeds, below a pilot size of {had + 1}: "
                        "no pilot of that size")
    return failures


def self_test():
    """the pieces the schedule is built of, on known inputs"""
    failures = []
    if fresh_start(372, 100) != 401 or fresh_start(400, 100) != 501 or fresh_start(0, 100) != 101:
        failures.append("fresh_start: seeds above 372 start at 401, above 400 at 501, above none at 101")
    if parse_cell("model.norm.placement=post, train.optimizer.lr=0.01") != \
            {"model.norm.placement": "post", "train.optimizer.lr": "0.01"}:
        failures.append("parse_cell")
    if not same_value("0.010", "0.01") or same_value("post", "pre") or not same_value("[2, 4]", "4") or \
            not same_value("[spatial]", '[spatial]') or same_value("[spatial]", "[batch, spatial]") or \
            not same_value("[64, 64]", "[64,64]"):
        failures.append("same_value")
    g = grid_of("grid:\n  model.norm.placement: [post]\n  seed: [701, 702]\nplots:\n  - x\n")
    if g != {"model.norm.placement": ["post"], "seed": ["701", "702"]}:
        failures.append(f"grid_of: {g}")
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "experiments", "schedule"))
        with open(os.path.join(tmp, RULE_FILE), "w") as f:
            f.write("min_seeds: 5\nmargin: 1.25\nmin_pilot_seeds: 10\nbudget_cpu_hours: 3\n")
        try:
            read_rule(tmp)
            failures.append("a rule without seed_block was read")
        except RuleError:
            pass
    failures += uneven_seeds_price()
    failures += source_look_price()
    big = {"name": "x-confirm2", "seeds": (101, 1300), "n": 1200, "cost_s": 3600.0, "cells": 2, "per_seed_s": 3.0,
           "pending": False, "claims": [("p", 1200, 960, "x", 10)], "priced_from": []}
    lines = describe(big, 1000)
    if not lines[-1].startswith("    note: n is above the 1,000 seeds") or CLAIM_LINE_RE.match(lines[-1]) or \
            any(x.startswith("    note:") for x in describe(dict(big, n=1000), 1000)):
        failures.append(f"an n above the seeds a grid lists is not noted as such (or the note reads as a claim): {lines}")
    failures += hostile_rules()
    return failures


def uneven_seeds_price():
    """a look whose configurations have 1 seed and 3: a seed of it costs one
    run of each configuration (its mean over its seeds), not the runs'
    total over the seeds they span; from its run directories or its pack"""
    with tempfile.TemporaryDirectory() as tmp:
        look = os.path.join(tmp, "results", "uneven")
        runs = [("w-1_seed-1", 1, 1, 100.0), ("w-2_seed-1", 2, 1, 10.0), ("w-2_seed-2", 2, 2, 30.0),
                ("w-2_seed-3", 2, 3, 20.0)]
        for run, _, _, wall in runs:
            os.makedirs(os.path.join(look, "runs", run))
            with open(os.path.join(look, "runs", run, "summary.json"), "w") as f:
                json.dump({"wall_s": wall, "threads": 1}, f)
        with open(os.path.join(look, "summary.csv"), "w") as f:
            f.write("run,model.width,seed,status,final_test_loss,wall_s\n")
            f.writelines(f"{run},{w},{seed},ok,1.0,{wall}\n" for run, w, seed, wall in runs)
        sweep = Sweep(tmp, "uneven")
        got = sweep.cost_per_seed({r[0] for r in runs})
        if got != 120.0:
            return [f"a seed of a look with 1 and 3 seeds a configuration: {got} CPU-s, want 120 "
                    "(100 for the 1-seed configuration, the mean 20 for the other)"]
        # the same look packed (runs.sqlite): priced alike
        packs.write_pack(look)
        got = Sweep(tmp, "uneven").cost_per_seed({r[0] for r in runs})
        if got != 120.0:
            return [f"a seed of the same look packed: {got} CPU-s, want 120 as from its run directories"]
    return []


def source_look_price():
    """a look a script made over MPI (a claims file's source:, no
    summary.csv; issue 116: sync-bn-mpi's was printed unpriced): its runs
    are its run directories, their keys from summary.json and config.yaml,
    and an MPI run costs its wall time on each rank (4 ranks of 1 thread
    for 10 s: 40 CPU-s); a cell of the look is priced, not left out"""
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "experiments", "claims"))
        with open(os.path.join(tmp, "experiments", "claims", "mpi.yaml"), "w") as f:
            f.write('name: mpi\nsource:\n  runs: "*-seed*"\n  keys: [model.norm.sync, ranks, seed]\nclaims:\n')
        for run, sync, ranks, wall in (("a-seed1", "false", 4, 10.0), ("b-seed1", "true", 4, 20.0),
                                       ("c-seed1", "false", 1, 3.0), ("notes", "false", 4, 99.0)):
            os.makedirs(os.path.join(tmp, "results", "mpi", run))
            with open(os.path.join(tmp, "results", "mpi", run, "summary.json"), "w") as f:
                json.dump({"wall_s": wall, "threads": 1, "ranks": ranks, "seed": 1}, f)
            with open(os.path.join(tmp, "results", "mpi", run, "config.yaml"), "w") as f:
                f.write(f"seed: 1\nmodel:\n  norm:\n    type: batch\n    sync: {sync}\n")
        sweep = Sweep(tmp, "mpi")
        runs = sweep.runs_of({"model.norm.sync": "false", "ranks": "4"})
        got = sweep.cost_per_seed(runs)
        if runs != {"a-seed1"} or got != 40.0:
            return [f"an MPI look's cell (sync false, 4 ranks): runs {sorted(runs)}, {got} CPU-s a seed; "
                    "want a-seed1 alone at 4 ranks x 10 s = 40"]
    return []


def hostile_rules():
    """each malformed rule file is refused by the program itself: exit 2,
    rule.yaml named with the line where there is one, no traceback, no
    wait (a FIFO in its place: 30 s and it counts as a hang)"""
    good = "min_seeds: 5\nmargin: 1.25\nmin_pilot_seeds: 10\nbudget_cpu_hours: 3\nseed_block: 100\n"
    cases = [(good.replace("1.25", bad).encode(), f"{RULE_FILE}:2:") for bad in ("nan", "inf", "1e999", "-inf")]
    cases += [(good.replace(": 3", ": nan").encode(), f"{RULE_FILE}:4:"),
              (good.replace(": 3", ": 1e999").encode(), f"{RULE_FILE}:4:"),
              (good.encode().replace(b"min_pilot_seeds", b"min_pilot_s\xffeeds"), f"{RULE_FILE}:3:"),
              (good.encode() + b"# \xc3(\n", f"{RULE_FILE}:6:"),
              (None, f"{RULE_FILE}: a FIFO"), ("dir", f"{RULE_FILE}: a directory")]
    failures = []
    for content, want in cases:
        with tempfile.TemporaryDirectory() as tmp:
            os.makedirs(os.path.join(tmp, "experiments", "schedule"))
            path = os.path.join(tmp, RULE_FILE)
            if content is None:
                os.mkfifo(path)
            elif content == "dir":
                os.mkdir(path)
            else:
                with open(path, "wb") as f:
                    f.write(content)
            try:
                p = subprocess.run([sys.executable, os.path.abspath(__file__), tmp], capture_output=True,
                                   timeout=30)
            except subprocess.TimeoutExpired:
                failures.append(f"hostile rule {content!r}: still running after 30 s")
                continue
            err = p.stderr.decode(errors="replace")
            if p.returncode != 2 or want not in err or "Traceback" in err:
                failures.append(f"hostile rule {content!r}: exit {p.returncode}, wanted 2 and '{want}': "
                                f"{err.strip()[-300:]}")
    return failures


def main():
    args = sys.argv[1:]
    if len(args) not in (1, 2, 3) or args[1:] not in ([], ["--check"], ["--check", "--all"], ["--record"]):
        sys.exit(__doc__.split("\n\n")[1])
    root = args[0]
    try:
        if args[1:] == ["--record"]:
            print(f"{PRINTS_FILE}: {record_prints(root)} prints")
            return
        if len(args) >= 2:
            failures = self_test() + record_self_test(root) + registration_plants(root) + check(root) + \
                registrations(root, recompute_all=args[2:] == ["--all"]) + rounds_check(root)
            for f in failures:
                print(f"schedule.py: {f}", file=sys.stderr)
            if failures:
                sys.exit(1)
        print(render(schedule(root)))
    except RuleError as e:
        # a malformed input, as normlab's bad input: exit 2
        print(f"schedule.py: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
