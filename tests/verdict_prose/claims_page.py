"""claims_page.py - results/claims.md, the reproductions' headline claims in
one page (issue 68), written split (issue 116: a summary, results/claims.md,
and each experiment's evidence on its own page, results/claims/NAME.md:
split() below), and the figures the summary tables' "computed" column
takes from the same rows. Imported by render.py, which writes and checks it.

A claim's row comes from results/NAME/verdicts.csv as `normlab verdict`
wrote it. Columns the verdict files of before issue 68 lack (headline,
family, paper_value, threshold_rule, registered, seeds_power,
seeds_planned) read as empty, so the page is generated from either:

  - headline claims: the rows with headline "true"; where an experiment
    marks none (files of before issue 68), every row but the summaries
    after a claim's cells (method "cells: ...") is its family, as Holm's
    was then;
  - secondary claims: the rows that are neither headline nor a cell of a
    claim over several cells (family "cell"), counted per verdict;
  - n is the number of distinct seeds in a_values ("seed:value", or
    "seed/unit:value" where pair_by: names units beyond the seed; a summary
    after cells has its cells' seeds): 3 seeds x 5 normalizers is 3, and a
    count over 30 units of one seed is 1. A claims file over a table
    (results/fold-bn) names its rows, each its own unit.
"""
import csv
import json
import math
import os
import re
import sqlite3
import sys

import claim_words as words
import history
# a sweep's runs, in their directories or packed (tests/packs.py)
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import packs  # noqa: E402

STATS_RULE = ("a threshold comes from the paper's own number (its figure or table, quoted with "
              "the claim) by a rule stated once per experiment, never from the runs that decide it")
NUMBER_RE = re.compile(r"[-+−]?\d+(?:[.,]\d+)*(?:\s?%|×)?")
# a number the paper reports, rather than a figure or table's label: a
# decimal, a percentage, a ratio
PAPER_NUMBER_RE = re.compile(r"[-+−]?\d*\.\d+\s?%?|\d+\s?%|\d+(?:\.\d+)?×|\d+\s?(?:points|nats)")
QUOTE_LIMIT = 120


def col(r, key):
    """a column that files of before issue 68 lack reads as empty"""
    return (r.get(key) or "").strip()


def derived(r):
    return col(r, "method").startswith(("cells:", "intersection-union:"))


def as_float(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def as_count(s):
    """a seed count, or None for empty, -1 and the unreadable"""
    v = as_float(s)
    return int(v) if v is not None and v >= 0 else None


def row_seeds(r, rows):
    """the distinct seeds of a row: a_values' keys up to their first '/'
    (the seed; after it pair_by:'s unit); a summary after cells has the
    union of its cells'"""
    if derived(r):
        out = set()
        prefix = r["claim"] + "["
        for other in rows:
            if other["claim"].startswith(prefix) and not derived(other):
                out |= row_seeds(other, rows)
        return out
    out = set()
    for token in col(r, "a_values").split():
        key = token.rsplit(":", 1)[0]
        out.add(key.split("/", 1)[0])
    return out


def seed_count(r, rows):
    seeds = row_seeds(r, rows)
    if seeds:
        return len(seeds)
    return 0


def headline(r):
    return col(r, "headline").lower() == "true"


def headline_rows(rows):
    """(the experiment's headline claims, whether they are marked)"""
    marked = [r for r in rows if headline(r)]
    if any(col(r, "family") for r in rows):
        # the verdict's own family: Holm's (the marked claims, or every
        # tested claim where none is marked); never a count or a cell
        return [r for r in rows if col(r, "family").lower() == "headline"], bool(marked)
    if marked:
        return marked, True
    return [r for r in rows if not derived(r)], False


def secondary_rows(rows, marked):
    if not marked:
        return []
    return [r for r in rows if not headline(r) and col(r, "family").lower() != "cell"]


def tally(rows):
    out = {"holds": 0, "does not hold": 0, "inconclusive": 0, "described": 0}
    for r in rows:
        out[r["verdict"]] = out.get(r["verdict"], 0) + 1
    return out


def seed_span(counts):
    counts = [c for c in counts if c > 0] or counts
    if not counts:
        return ""
    lo, hi = min(counts), max(counts)
    if lo == hi:
        return f"{lo} seed" + ("s" if lo != 1 else "")
    return f"{lo}–{hi} seeds"


# an expectation's comparison with a number: its left side, its sign, its threshold
COMPARISON_RE = re.compile(r"^(.*?)\s*(<=|>=|<|>)\s*([-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*$")
# what makes two claims one statement of the paper: the quote, its number,
# the cells and the metric (issue 116)
STATEMENT_KEYS = ("paper", "paper_value", "a", "b", "metric", "column", "b_metric", "b_column")


def weaker_claims(named_rows):
    """{claim id: (the stronger claim's id, whether the weaker was post hoc)}
    over (sweep, row) pairs (issue 116): a claim is weaker where another
    quotes the same paper text and number for the same cells and metric
    and compares the same quantity the same way against a threshold the
    paper's side of it (at most 0.5 where the other says at most 0: a
    reading the paper's statement does not make); post hoc where its
    earliest look (confirm_order) was registered post hoc. Derived from the
    verdict files, so a new rewrite is found without a list"""
    statements = {}
    for sweep, r in named_rows:
        m = COMPARISON_RE.match(col(r, "expect"))
        if not m or not col(r, "paper"):
            continue
        key = tuple(col(r, k) for k in STATEMENT_KEYS) + (m.group(1), m.group(2)[0])
        order = confirm_order(sweep)[1]
        claims = statements.setdefault(key, {})
        first = claims.get(r["claim"])
        if first is None or order < first[1]:
            claims[r["claim"]] = (float(m.group(3)), order, col(r, "registered").startswith("post hoc"))
    out = {}
    for key, claims in statements.items():
        # "<": a larger threshold asks less; ">": a smaller one
        sign = 1 if key[-1] == "<" else -1
        for weak, (t, _, post_hoc) in claims.items():
            strong = [c for c, (u, _, _) in sorted(claims.items()) if sign * (t - u) > 0]
            if strong:
                out[weak] = (strong[0], post_hoc)
    return out


def computed_cell(verdicts, names, plans=None):
    """the summary tables' "computed" value for a section's experiments:
    each headline claim once (its original and its confirmations are one
    claim), counted by its plan's verdict (results/looks.csv: plans, as
    read_looks gives it), with the seeds of the look that decided it or,
    undecided, of its latest look (issue 103: not every look's verdict)"""
    looks = {}
    for name in names:
        rows = verdicts[name]
        for r in headline_rows(rows)[0]:
            base, order = confirm_order(name)
            looks.setdefault((base, r["claim"]), []).append((order, name, seed_count(r, rows), r))
    if not looks:
        return ""
    t = {"holds": 0, "does not hold": 0}
    # a weaker claim's hold is not the paper's statement's (issue 116): the
    # cell says how many of the holds are such claims
    weak = weaker_of_verdicts(verdicts)
    weak_holds = {True: 0, False: 0}
    seeds = []
    for key, ls in looks.items():
        ls.sort(key=lambda x: x[0])
        plan = (plans or {}).get(key)
        verdict = plan["verdict"] if plan else "undecided (no plan)"
        if verdict in t:
            t[verdict] += 1
        if verdict == "holds" and key[1] in weak:
            weak_holds[weak[key[1]][1]] += 1
        by = [x for x in ls if plan and x[1] == plan["decided_by"]]
        seeds.append((by or ls)[-1][2])
    decided = t["holds"] + t["does not hold"]
    weaker = "; ".join(f"{n} of them weaker{' post hoc' if post_hoc else ''} claims than the paper's"
                       for post_hoc, n in sorted(weak_holds.items(), reverse=True) if n)
    return (f"{decided} of {len(looks)} headline decided under the plans: {t['holds']} hold"
            + (f" ({weaker})" if weaker else "") + f", {t['does not hold']} do not ({seed_span(seeds)})")


# (the verdicts it was computed from, kept so that their id is not reused, the claims)
_WEAKER = [None, None]


def weaker_of_verdicts(verdicts):
    """weaker_claims over every verdict file (NAME: rows), once per dict"""
    if _WEAKER[0] is not verdicts:
        _WEAKER[:] = [verdicts, weaker_claims((name, r) for name, rows in sorted(verdicts.items()) for r in rows)]
    return _WEAKER[1]


def most_seeds(verdicts, names):
    """the most seeds any claim of these experiments has"""
    return max((seed_count(r, verdicts[n]) for n in names for r in verdicts[n]), default=0)


# ---- the page ----

def flat(text):
    """text for one line outside a table (a list item): no column breaks to escape"""
    return " ".join(str(text).split())


def cell(text):
    """text for a table cell: one line, no column breaks"""
    return " ".join(str(text).split()).replace("|", "\\|")


def num(s, digits=3):
    v = as_float(s)
    if v is None:
        return "–"
    return f"{v:.{digits}g}"


def cut_end(text, limit):
    """text's first `limit` characters at a word boundary"""
    if len(text) <= limit:
        return text
    space = text.rfind(" ", 0, limit)
    return text[:space if space > limit // 2 else limit].rstrip(" ,;:(") + "…"


def shorten(text, keep=""):
    """the quote cut to about QUOTE_LIMIT characters, keeping its opening
    (where it names its figure or table) and the number it reports: keep
    (the paper_value) where the text has it, else its first decimal,
    percentage or ratio, else its first number"""
    text = " ".join(text.split())
    if len(text) <= QUOTE_LIMIT:
        return text
    at, width = 0, 0
    if keep and keep in text:
        at, width = text.index(keep), len(keep)
    else:
        m = PAPER_NUMBER_RE.search(text) or NUMBER_RE.search(text)
        if m:
            at, width = m.start(), m.end() - m.start()
    if at + width <= QUOTE_LIMIT - 10:
        return cut_end(text, QUOTE_LIMIT)
    head = cut_end(text, QUOTE_LIMIT // 3).rstrip("…")
    # the number with a few words before it
    start = max(len(head), at - QUOTE_LIMIT // 4)
    space = text.find(" ", start, at)
    start = space + 1 if space >= 0 and start > len(head) else start
    return head + " … " + cut_end(text[start:], max(QUOTE_LIMIT - len(head) - 3, at + width - start))


def near_threshold(r):
    """whether the threshold (for `~`, the nearer edge of its band) lies
    within the interval's half-width of the effect"""
    effect, lo, hi, t = (as_float(col(r, k)) for k in ("effect", "lo", "hi", "threshold"))
    if None in (effect, lo, hi, t) or derived(r):
        return False
    w = as_float(col(r, "within"))
    edges = [t - w, t + w] if w is not None else [t]
    return min(abs(effect - e) for e in edges) < (hi - lo) / 2


def unmarked_tests(rows):
    """whether an experiment tests claims but marks none headline (its
    verdicts are of before issue 68); one that only describes its runs
    (counts) has nothing to mark"""
    return not headline_rows(rows)[1] and any(r["verdict"] != "described" for r in rows)


FRACTION_RE = re.compile(r"^([0-9.]+) of the paper's effect")
BAND_RE = re.compile(r"\bband ([0-9.]+) around the paper's value")
RATE_AT_MOST_RE = re.compile(r"^\s*rate\s*\(.*\)\s*<=?\s*[0-9.]+\s*$")


def close(x, y):
    return x is not None and y is not None and abs(x - y) <= 1e-9 + 1e-6 * max(abs(x), abs(y))


def rule_threshold(r):
    """the (threshold, band) the experiment's threshold_rule gives from the
    paper's number, as STATS.md states it: a band claim ('~ ... within')
    tests the paper's value within the rule's band; any other, the rule's
    fraction of the paper's effect (of its distance from 1 for a ratio,
    a/b); None where the rule or the paper's number gives none"""
    rule, pv = col(r, "threshold_rule"), as_float(col(r, "paper_value"))
    if pv is None or not rule:
        return None
    if as_float(col(r, "within")) is not None:
        band = BAND_RE.search(rule)
        return (pv, float(band.group(1))) if band else None
    fraction = FRACTION_RE.match(rule)
    if not fraction:
        return None
    f = float(fraction.group(1))
    if re.match(r"^\s*a\s*/\s*b\b", col(r, "expect")) or RATE_AT_MOST_RE.match(col(r, "expect")):
        # from 1: a ratio's no effect, and a rate at most P's (the paper's
        # rate 0 as at most 1 - F; nl_claim_rule_threshold in core/results)
        return (1 + f * (pv - 1), None)
    return (f * pv, None)


def rule_reproduces(r):
    """whether the row's threshold (and band) is what its rule's arithmetic
    gives from the paper's number"""
    want = rule_threshold(r)
    if want is None:
        return False
    threshold, band = want
    got = as_float(col(r, "threshold"))
    if RATE_AT_MOST_RE.match(col(r, "expect")) and close(got, 0) and close(as_float(col(r, "paper_value")), 0):
        # the paper's rate 0 as written, the rule's reading before issue 92
        # (F x 0), which core/results still accepts: a claim frozen at its
        # look keeps it (issue 103); it can only fail or stay undecided
        return True
    if not close(threshold, got):
        return False
    return band is None or close(band, as_float(col(r, "within")))


NEVER_RATE_RE = re.compile(r"^\s*rate\s*\(.*\)\s*(<=?\s*0(?:\.0*)?|>=?\s*1(?:\.0*)?)\s*$")


def unholdable_rates(verdicts):
    """(experiment, claim) of each headline rate claim that can never hold:
    rate(...) <= 0 or >= 1, where the exact (Clopper-Pearson) interval's
    far end stays short of the bound at any number of seeds"""
    out = []
    for name in sorted(verdicts):
        for r in headline_rows(verdicts[name])[0]:
            if NEVER_RATE_RE.match(col(r, "expect")):
                out.append((name, r["claim"]))
    return out


def fitted_thresholds(verdicts):
    """(experiment, claim) of each headline claim marked †: its threshold
    lies within the interval's half-width of the effect, and no rule puts
    it there: the experiment states none, or its rule's arithmetic from the
    paper's number does not give this threshold (issue 68: a threshold
    fitted to the runs decides nothing; issue 81: a rule that is stated is
    checked, not trusted)"""
    out = []
    for name in sorted(verdicts):
        out += [(name, r["claim"]) for r in headline_rows(verdicts[name])[0]
                if near_threshold(r) and not rule_reproduces(r)]
    return out


def registration(r):
    text = col(r, "registered")
    return text or "unknown"


# the git history's findings (history.py), set by render(); None: no history read
HISTORY = {"hist": None, "discarded": {}}


def short(commit):
    return commit[:12]


def history_notes(name, r):
    """what the history adds to a claim's registration: each post hoc change
    of its expect: with its commit, and a confirmation's re-run after a
    discarded first attempt (or an unexplained change of its file between
    its registration and its runs)"""
    hist = HISTORY["hist"]
    if hist is None or not hist.ok:
        return []
    experiment = col(r, "experiment")
    notes = []
    for commit, was, _ in hist.changes_after_runs(name, experiment).get(r["claim"].split("[", 1)[0], []):
        notes.append(f"changed after the runs in `{short(commit)}`: was `{was}`")
    if is_confirmation(name):
        changed = hist.changed_before_runs(experiment, col(r, "commits").split())
        if changed:
            listed = HISTORY["discarded"].get(name)
            fixed = [c for c in changed if listed and c.startswith(listed[0])]
            if fixed:
                notes.append(f"re-run after a discarded first attempt (its file fixed at `{short(fixed[0])}`: "
                             f"{listed[1]})")
            else:
                notes.append("its file changed after its registration, before these runs, at "
                             + ", ".join(f"`{short(c)}`" for c in changed))
    return notes


def registration_cell(name, r):
    return "; ".join([registration(r)] + history_notes(name, r))


def registration_kind(r):
    text = registration(r)
    for kind in ("pre-registered", "post hoc"):
        if text.startswith(kind):
            return kind
    return "unknown"


def seed_cost(root, name):
    """CPU seconds of one seed of a sweep: its runs' wall time times their
    threads, over its seeds (from the committed summary.json files, in the
    run directories or the sweep's pack); None where the directory is not a
    sweep"""
    summary = os.path.join(root, "results", name, "summary.csv")
    if not os.path.exists(summary):
        return None
    total, seeds = 0.0, set()
    with open(summary, newline="") as f:
        for row in csv.DictReader(f):
            try:
                text = packs.read_run_text(os.path.join(root, "results", name), row["run"], packs.SUMMARY)
                if text is None:
                    continue
                s = json.loads(text)
            except (OSError, ValueError, KeyError, packs.PackError, sqlite3.Error):
                continue
            wall, threads = as_float(s.get("wall_s")), as_float(s.get("threads")) or 1
            if wall:
                total += wall * threads
            seeds.add(row.get("seed"))
    return total / len(seeds) if seeds and total else None


def power_seeds(r):
    """the seeds power 0.8 asks at the row's observed spread (seeds_needed,
    else seeds_power); None where power gives no number"""
    return as_count(col(r, "seeds_needed")) or as_count(col(r, "seeds_power"))


def seeds_to_decide(r, n, cost=None):
    """an inconclusive row's (seeds it needs, "at least " or "", CPU-hours
    more or None); need None where power gives no number"""
    need = power_seeds(r)
    least = ""
    if not need and n < 3:
        # one seed has no spread to compute power from: 3 is the fewest
        # that can decide, and the least the claim needs
        need, least = 3, "at least "
    hours = (need - n) * cost / 3600 if need and cost and need > n else None
    return need, least, hours


def verdict_words(r, n, cost, unit, rows):
    """the verdict and why, from the row's own numbers (issue 93): a row that
    holds gives its interval against the threshold, one that does not the
    reason (claim_words.why_not); a claim over cells leads with its verdict,
    then its cells' counts ('3 of 5 cells hold, 2 undecided')"""
    text = verdict_text(r, n, cost)
    if r["verdict"] == "holds":
        why = words.holds_why(r, unit, rows, rule_threshold)
    elif r["verdict"] == "does not hold":
        why = words.why_not(r, unit, rows, rule_threshold)
    elif r["verdict"] == "inconclusive" and derived(r):
        why = words.cells_said(r)
    else:
        why = ""
    return f"{text}: {why}" if why else text


def verdict_text(r, n, cost=None):
    v = r["verdict"]
    if v != "inconclusive":
        return v
    seeds = f"{n} seed" + ("s" if n != 1 else "")
    need, least, hours = seeds_to_decide(r, n, cost)
    if hours is not None:
        return f"undecided at {seeds} (needs {least}{need}, about {hours_text(hours)} CPU-hours more)"
    return f"undecided at {seeds}" + (f" (needs {least}{need})" if need else "")


# the committed sizing rule of a first confirmation (results/preregistration.md,
# "First confirmations under a plan (issue 81)"): n = max(5, ceil(1.25 x the
# seeds power 0.8 asks at the spread of the claim's latest look)), with no
# cap since the rule's budget bounds a round (experiments/schedule/rule.yaml);
# SMALL_SEEDS only bands the ledger's lines by size
FIRST_CONFIRMATION_MIN, FIRST_CONFIRMATION_MARGIN, SMALL_SEEDS = 5, 1.25, 16
# the share of headline claims decided under their plans issue 81 asks for
PLANS_TARGET = 0.70
# a first confirmation's n by size: small, within normlab verdict's 256
# seeds, or beyond (an effect on its threshold, or a band's edge); what a
# round runs is the budget's business, not the band's (plan_ceiling)
NEED_BANDS = ((SMALL_SEEDS, f"need at most {SMALL_SEEDS} seeds"),
              (256, f"need {SMALL_SEEDS + 1} to 256"),
              (None, "need more than 256"))


def first_confirmation_seeds(r):
    """the seeds a first confirmation of the claim whose latest look is row r
    runs by the committed sizing rule; None where power gives no number (one
    seed has no spread; a cell's effect on its threshold)"""
    power = power_seeds(r)
    if not power:
        return None
    return max(FIRST_CONFIRMATION_MIN, math.ceil(FIRST_CONFIRMATION_MARGIN * power))


def band_of(need):
    """the index in NEED_BANDS of a claim needing `need` seeds; None for no number"""
    if not need:
        return None
    for i, (top, _) in enumerate(NEED_BANDS):
        if top is None or need <= top:
            return i
    return None


def band_hours(band):
    """(CPU-hours, sweeps priced) of claims [(need, hours, sweep)]: a sweep
    runs once for all its claims, at the largest of their prices (the rule's
    n is the largest over the claims a confirmation keeps)"""
    per_sweep = {}
    for _, h, sweep in band:
        if h is not None:
            per_sweep[sweep] = max(h, per_sweep.get(sweep, 0.0))
    return sum(per_sweep.values()), len(per_sweep)


def hours_text(h):
    """CPU-hours to two significant figures, in words a reader reads (no exponent)"""
    if h <= 0:
        return "0"
    digits = 1 - int(math.floor(math.log10(h)))
    text = f"{round(h, digits):,.{max(digits, 0)}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def cost_ledger(undecided):
    """the summary's lines on what deciding the undecided claims would cost
    by NEED_BANDS: undecided is [(need, CPU-hours or None, sweep)]"""
    lines = []
    for i, (_, label) in enumerate(NEED_BANDS):
        band = [u for u in undecided if band_of(u[0]) == i]
        if not band:
            continue
        priced = sum(1 for _, h, _ in band if h is not None)
        hours, sweeps = band_hours(band)
        cost = (f", about {hours_text(hours)} CPU-hours for the {priced} priced ({sweeps} sweeps)" if priced else
                ", none priced")
        lines.append(f"    - {len(band)} {label}{cost}")
    unknown = sum(1 for need, _, _ in undecided if not need)
    if unknown:
        lines.append(f"    - {unknown} without a number (power unknown: one seed has no spread, or a cell's effect "
                     "lies on its threshold)")
    return lines


def plan_ledger(heads, plans, costs):
    """the headline claims, each once, undecided under the plans looks.csv
    gives: {"claims", "decided": decided under their plans, "to_confirm":
    [(n, CPU-hours or None, sweep)] for each claim with no pre-registered
    look yet (looks.csv's decided_by empty): its first confirmation by the
    sizing rule, from its latest look's row, priced at n seeds of that
    look's whole sweep (costs: CPU seconds per seed); "final": [(original,
    claim, look)] whose deciding look ran undecided, final under a
    first-confirmation plan; "no_plan": claims that declare none}"""
    out = {"claims": 0, "decided": 0, "to_confirm": [], "final": [], "no_plan": 0}
    for key, looks in sorted(looks_by_claim(heads).items()):
        out["claims"] += 1
        plan = plans.get(key)
        if plan is None:
            out["no_plan"] += 1
        elif plan["verdict"] in ("holds", "does not hold"):
            out["decided"] += 1
        elif plan["decided_by"]:
            out["final"].append(key + (plan["decided_by"],))
        else:
            _, name, r = looks[-1]
            n, cost = first_confirmation_seeds(r), costs.get(name)
            out["to_confirm"].append((n, n * cost / 3600 if n and cost else None, name))
    return out


def read_budget(root):
    """the CPU-hours a round spends, experiments/schedule/rule.yaml's
    budget_cpu_hours; None where there is no rule"""
    try:
        with open(os.path.join(root, "experiments", "schedule", "rule.yaml")) as f:
            m = re.search(r"^budget_cpu_hours:\s*([0-9.]+)", f.read(), re.M)
    except OSError:
        return None
    return float(m.group(1)) if m else None


def plan_ceiling(ledger, budget):
    """(claims whose first confirmation a round's budget runs, the claims
    decided were each of those to decide, its share, their CPU-hours): the
    most the plans can reach in one round. As the schedule takes looks
    (rule.yaml): the priced sweeps cheapest first, each once at its claims'
    largest price, while the budget lasts (issue 116: the rule has no seed
    cap, so no band of n is 'affordable')"""
    per_sweep = {}
    for _, h, sweep in ledger["to_confirm"]:
        if h is not None:
            per_sweep[sweep] = max(h, per_sweep.get(sweep, 0.0))
    taken, spent = set(), 0.0
    for sweep, h in sorted(per_sweep.items(), key=lambda x: (x[1], x[0])):
        if spent + h > (budget or 0):
            break
        taken.add(sweep)
        spent += h
    affordable = sum(1 for _, h, sweep in ledger["to_confirm"] if h is not None and sweep in taken)
    reach = ledger["decided"] + affordable
    return affordable, reach, percent(reach, ledger["claims"]), spent


def plan_cost_lines(ledger, stopped=None, budget=None):
    """the summary's lines on the claims undecided under their plans: what
    their first confirmations would cost, those the schedule stops (stopped:
    stopped_claims), those whose deciding look ran undecided, and the share
    the affordable confirmations could reach"""
    claims, decided, final = ledger["claims"], ledger["decided"], ledger["final"]
    to_confirm = ledger["to_confirm"]
    undecided = claims - decided
    lines = [f"- What the {undecided} claims undecided under their plans (counted once; the plans' verdicts of "
             f"`results/looks.csv`) would need:"]
    if to_confirm:
        lines.append(f"  - {len(to_confirm)} have no pre-registered look yet: a first confirmation on fresh seeds "
                     f"decides each, of n = max({FIRST_CONFIRMATION_MIN}, ⌈{FIRST_CONFIRMATION_MARGIN} × the seeds "
                     "power 0.8 asks at the spread of its latest look⌉) seeds, the rule committed before the runs "
                     "([preregistration.md](preregistration.md)); CPU-hours: n seeds of the latest look's whole "
                     "sweep at its committed runs' wall time × threads:")
        lines += cost_ledger(to_confirm)
        if stopped:
            lines.append(f"    - of them, {len(stopped)} the schedule gives no look "
                         f"({', '.join(f'`{c}`' for _, c in sorted(stopped))}): a look of the rule's pilot size "
                         "gave power no number, and another pilot of that size cannot give one "
                         "([rule.yaml](../experiments/schedule/rule.yaml)); under their plans they stay undecided, "
                         "with no pre-registered look (*not schedulable* in [Looks and plans](#looks-and-plans))")
    if final:
        lines.append(f"  - {len(final)} were undecided at their deciding look, which has run: under a "
                     "first-confirmation plan that verdict is final, and a later look does not count "
                     "(*final* in the plan's column of [Looks and plans](#looks-and-plans)).")
    if ledger["no_plan"]:
        lines.append(f"  - {ledger['no_plan']} declare no plan: nothing decides them under one.")
    if budget is None:
        return lines
    affordable, reach, share, hours = plan_ceiling(ledger, budget)
    below = reach < PLANS_TARGET * claims
    lines.append(f"- The ceiling under the plans in one round: were every first confirmation that a round's budget "
                 f"runs (cheapest first within {budget:g} CPU-hours, the order in which "
                 f"[rule.yaml](../experiments/schedule/rule.yaml) takes looks, each priced as above: "
                 f"{affordable} claims, about "
                 f"{hours_text(hours)} CPU-hours) to decide, {decided} + {affordable} = {reach} of the {claims} "
                 f"headline claims would be decided under their plans ({share}), "
                 f"{'below' if below else 'at or above'} the {PLANS_TARGET:.0%} issue 81 asks"
                 + (": the rest cost more than the round's budget, have no number or no price, declare no plan, or "
                    "their deciding look ran undecided." if below else "."))
    return lines


def short_rule(rule):
    """a rule's statement, its reason left to the line above the table"""
    return rule.split(":", 1)[0].strip() if rule else "none stated"


def no_effect(r):
    """the value of no effect for the row's expectation: 1 for a ratio, else 0"""
    return 1.0 if words.RATIO_RE.search(col(r, "expect")) else 0.0


def paper_cell(r, unit):
    """the quote, and the paper's number in the claim's unit, said in words
    (a paper that gives no size has the no-effect value, and the test is the
    direction; for a band, the centre)"""
    value = col(r, "paper_value")
    quote = shorten(col(r, "paper"), value)
    v = as_float(value)
    if v is None:
        return f"“{quote}”"
    number = unit.said(v)
    if words.BAND_EXPECT_RE.match(col(r, "expect")):
        said = f"the paper's number: {number}" + (" (no difference)" if v == no_effect(r) else "")
    elif v == no_effect(r) and not words.is_rate(r):
        said = f"the paper gives no size ({number}): the test is the direction"
    else:
        said = f"the paper's number: {number}"
    return f"“{quote}” — {said}"


def slug(heading):
    """GitHub's anchor, as tests/test_doc_links.c computes it"""
    return "".join("-" if c == " " else c.lower() for c in heading
                   if c == " " or (c < "\x80" and (c.isalnum() or c in "-_")))


def section_links(results_text, sections, of_section):
    """each experiment's section of results/README.md, as a link from results/"""
    out = {}
    for number, start, _ in sections(results_text):
        heading = results_text[start:results_text.find("\n", start)].lstrip("#").strip()
        for name in of_section.get(number, []):
            out.setdefault(name, (number, f"README.md#{slug(heading)}"))
    return out


REPRODUCTION_ROW_RE = re.compile(r"^\| \[[^\]]*\]\(README\.md#(\d+)-", re.M)


def reproductions_rows(root):
    """the section numbers of results/README.md that a row of
    results/reproductions.md links"""
    try:
        with open(os.path.join(root, "results", "reproductions.md")) as f:
            return {int(m.group(1)) for m in REPRODUCTION_ROW_RE.finditer(f.read())}
    except OSError:
        return set()


def html(text):
    """text for inline HTML (a <details> summary)"""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def anchor(name):
    """the link to an experiment's section of this page"""
    return f"[{name}](#{slug(name)})"


def family_line(name, family):
    """an original's line naming its confirmations, a confirmation's naming
    its original (and the other confirmations), by confirm_order's rule (the program's)"""
    if family is None:
        return []
    base, members = family
    others = [m for m in members if m != name]
    if not is_confirmation(name):
        if not others:
            return []
        return ["Confirmed on fresh seeds in " + ", ".join(anchor(o) for o in others)
                + " (the same claims, committed before their runs): where a later run decides a claim, "
                "its verdict is given beside this one's, and the summary's once-counted line takes the latest."]
    original = anchor(base) if base in members else f"{base} (no verdicts of its own here)"
    line = (f"Confirmation of {original}: its claims re-run on fresh seeds (by name: NAME-confirm, "
            f"NAME-confirm2, ... confirm NAME)")
    siblings = [o for o in others if o != base]
    if siblings:
        line += "; the other confirmations: " + ", ".join(anchor(o) for o in siblings)
    return [line + "."]


def later_word(name, r, latest, rows_of, unit=None):
    """what the latest run of the same claim says where it is not this row:
    'decided in NAME: holds: ...' with its reason (verdict_words), 'retested
    in NAME: undecided at n seeds'"""
    if latest is None:
        return ""
    base = confirm_order(name)[0]
    hit = latest.get((base, r["claim"]))
    if not hit or hit[1] == name:
        return ""
    _, other, row = hit
    rows = rows_of(other)
    said = verdict_words(row, seed_count(row, rows), None, unit, rows) if unit else \
        verdict_text(row, seed_count(row, rows))
    if row["verdict"] in ("holds", "does not hold"):
        return f"decided in {anchor(other)}: {said}"
    return f"retested in {anchor(other)}: {said}"


def threshold_word(r):
    """the threshold near the effect said in words: set by the rule from the
    paper's number (a close call), or not (†)"""
    if not near_threshold(r):
        return ""
    if rule_reproduces(r):
        return ("; close: the threshold lies within the interval's half-width of the effect "
                "(it is the rule's, from the paper's number, not fitted to the runs)")
    return "; the threshold lies within the interval's half-width of the effect and is not the rule's †"


# the line of an experiment's section that leads to its evidence (issue 93)
EVIDENCE = "Evidence: "


def evidence_line(name, experiment, link, plans, reproduced, root="."):
    """the links of an experiment's section to its evidence (issue 93): its
    sweep directory, its verdicts.csv, its looks (this page's "Looks and
    plans" and results/looks.csv: the rows of its original's claims), its
    write-up (its section of results/README.md, and the row of
    reproductions.md that links that section, where one does) and its
    experiment file; every link relative to results/, where this page is"""
    base = confirm_order(name)[0]
    # a sweep's directory has its summary.csv; a claims file over a table
    # (results/fold-bn, results/bench/...) or runs of their own (sync-bn-mpi) do not
    kind = "sweep" if os.path.exists(os.path.join(root, "results", name, "summary.csv")) else "directory"
    parts = [f"{kind} [results/{name}/]({name}/)", f"verdicts [results/{name}/verdicts.csv]({name}/verdicts.csv)"]
    if plans is None:
        looks = "looks: [Looks and plans](#looks-and-plans) (`results/looks.csv` is missing)"
    else:
        n = sum(1 for b, _ in plans if b == base)
        rows = (f"{n} row{'s' if n != 1 else ''} of `{base}`'s claims" if n else
                f"no row: no claim of `{base}` declares a plan")
        looks = f"looks: [Looks and plans](#looks-and-plans), [results/looks.csv](looks.csv) ({rows})"
    parts.append(looks)
    if link:
        up = f"write-up: [§{link[0]} of results/README.md]({link[1]})"
        if reproduced:
            up += ", its row in [reproductions.md](reproductions.md)"
        parts.append(up)
    else:
        parts.append("write-up: none (no section of results/README.md links its experiment file)")
    if experiment:
        parts.append(f"claims: [{experiment}](../{experiment})")
    return EVIDENCE + "; ".join(parts) + "."


def experiment_block(name, rows, link, notes, cost=None, family=None, latest=None, rows_of=None, root=".",
                     plans=None, reproduced=False):
    heads, marked = headline_rows(rows)
    experiment = col(rows[0], "experiment") if rows else ""
    lines = [f"### {name}", ""]
    lines.append(evidence_line(name, experiment, link, plans, reproduced, root))
    lines += family_line(name, family)
    rules = sorted({col(r, "threshold_rule") for r in rows if col(r, "threshold_rule")})
    if rules:
        lines.append("Threshold rule: " + "; ".join(cell(x) for x in rules) + ".")
    elif all(r["verdict"] == "described" for r in rows):
        lines.append("Threshold rule: none needed (its claims describe its runs: counts).")
    else:
        lines.append("Threshold rule: none stated (thresholds of before issue 68).")
    planned = sorted({as_count(col(r, "seeds_planned")) for r in rows} - {None, 0})
    have = max((seed_count(r, rows) for r in rows), default=0)
    if planned:
        short = " — fewer than planned" if have < planned[-1] else ""
        lines.append(f"Seeds: {have} in the runs; the experiment file plans {', '.join(map(str, planned))} "
                     f"(`power.seeds`){short}.")
    if unmarked_tests(rows):
        lines.append("No claim is marked headline (verdicts written before issue 68): every claim "
                     "but the summaries after cells counts as one here.")
    # the table holds what decides each claim: its effect, interval and
    # verdict; the rest, long (the paper's quote, the config keys), is folded
    # beneath it, one <details> per claim (issue 93: a verdict column that
    # fits a 1012 px page)
    lines += ["", "| claim | effect [interval], method | verdict |", "|---|---|---|"]
    folded = []
    previous = None
    for r in heads:
        n = seed_count(r, rows)
        metric, unit_text = words.metric_text(root, r)
        unit = words.unit_of(r, unit_text)
        paper = flat(paper_cell(r, unit))
        # a claim's each: values share its quote: it is written once
        paper, previous = ("as the claim above" if paper == previous else paper), paper
        rule = col(r, "threshold_rule")
        effect = words.effect_text(r, unit, rows) + threshold_word(r)
        if near_threshold(r) and not rule_reproduces(r):
            notes["near"] += 1
        verdict = verdict_words(r, n, cost, unit, rows)
        later = later_word(name, r, latest, rows_of or (lambda _: rows), unit)
        if later:
            verdict += f"; {later}"
        power = as_count(col(r, "seeds_power"))
        expect = f"`{flat(r['expect'])}`" + words.expect_unit_note(r, unit) if r["expect"] else "–"
        lines.append("| " + " | ".join([f"`{cell(r['claim'])}`", cell(effect), cell(verdict)]) + " |")
        unit_said = ("a rate, in % of seeds" if words.is_rate(r) else
                     "a ratio (1: no effect)" if unit.name == "ratio" else f"in {unit.name}")
        folded += ["", f"<details><summary><code>{html(r['claim'])}</code> ({registration_kind(r)}): its cells, "
                   "metric, the paper's number, expect, rule, seeds and registration</summary>", "",
                   f"- **a, b (config keys)**: {flat(words.compares(r, rows))}",
                   f"- **metric (unit)**: {flat(f'{metric}, {unit_said}')}",
                   f"- **the paper's number**: {paper}",
                   f"- **expect**: {flat(expect)}",
                   f"- **rule**: {flat(short_rule(rule))}",
                   f"- **n**: {n}; **n power asks**: {power if power is not None else '–'}",
                   f"- **registration**: {flat(registration_cell(name, r))}",
                   "", "</details>"]
    lines += folded
    if any(near_threshold(r) and not rule_reproduces(r) for r in heads):
        lines += ["", "† The threshold (for `~`, the nearer edge of its band) lies within the interval's "
                  "half-width of the observed effect, and no rule puts it there (none is stated, or the "
                  "stated rule's arithmetic from the paper's number gives another threshold): a threshold "
                  "fitted to the runs decides nothing."]
    second = secondary_rows(rows, marked)
    if second:
        t = tally(second)
        lines += ["", f"Secondary claims: {len(second)} — {t['holds']} hold, {t['does not hold']} do not, "
                  f"{t['inconclusive']} inconclusive, {t['described']} described."]
    return lines


CONFIRM = "-confirm"
CONFIRM_MAX = 1000000


def confirm_order(name):
    """(the original's name, 0 for it, 1 for NAME-confirm, 2 for NAME-confirm2, ...):
    the program's one rule, nl_look_base in core/verdict/looks.c, line for
    line: the last '-confirm' after a non-empty base, followed by nothing (1)
    or by digits giving 1 to 1,000,000 (K); any other name is its own
    original. tests/verdict_prose/look_names.tsv holds both to the same
    answers (render.py's self-test here, test_plan in C)."""
    at = name.rfind(CONFIRM)
    if at <= 0:
        return (name, 0)
    k = name[at + len(CONFIRM):]
    if k == "":
        return (name[:at], 1)
    if not k.isascii() or not k.isdigit() or not 1 <= int(k) <= CONFIRM_MAX:
        return (name, 0)
    return (name[:at], int(k))


def is_confirmation(name):
    return confirm_order(name)[1] > 0


class _ConfirmMatch:
    def __init__(self, base, order):
        self.base, self.order = base, order

    def group(self, i):
        return (None, self.base, "" if self.order == 1 else str(self.order))[i]


class _ConfirmRule:
    """the rule with re's match() for the scripts that import it
    (tests/confirm/configs.py): group(1) the original's name"""
    @staticmethod
    def match(name):
        base, order = confirm_order(name)
        return _ConfirmMatch(base, order) if order else None


CONFIRM_RE = _ConfirmRule()


def latest_by_claim(heads):
    """{(original, claim id): (order, experiment, row)}: the latest run of
    each claim: a confirmation (experiments/NAME-confirm.yaml,
    NAME-confirm2.yaml, ...: the same claim on fresh seeds, committed before
    its runs) stands for NAME's and the earlier confirmations' rows of the
    same claim id"""
    latest = {}
    for name, r in heads:
        base, order = confirm_order(name)
        key = (base, r["claim"])
        if key not in latest or order > latest[key][0]:
            latest[key] = (order, name, r)
    return latest


def latest_per_claim(heads):
    """heads [(experiment, row)] with each claim counted once (latest_by_claim)"""
    return [(name, r) for _, name, r in latest_by_claim(heads).values()]


def looks_by_claim(heads):
    """{(original, claim id): [(order, experiment, row), ...]}: each headline
    claim's looks on this page, the original sweep and its confirmations
    (confirm_order's rule), in order"""
    out = {}
    for name, r in heads:
        base, order = confirm_order(name)
        out.setdefault((base, r["claim"]), []).append((order, name, r))
    for looks in out.values():
        looks.sort(key=lambda look: look[0])
    return out


# the sweeps a plan of experiments/ declares pilots (pilots:), set by
# render(): a pilot is no look of its claim (issue 116)
PILOTS = set()
# plan's pilots: list ("plan: {kind: first-confirmation, pilots: [a, b]}")
PILOTS_RE = re.compile(r",?\s*pilots:\s*\[([^\]]*)\]")
PLAN_RE = re.compile(r"^plan:.*?(?=^[A-Za-z_]|\Z)", re.M | re.S)


def pilots_of(text):
    """the sweeps an experiment file's plan declares pilots"""
    m = PLAN_RE.search(text or "")
    p = PILOTS_RE.search(m.group(0)) if m else None
    return {x.strip() for x in p.group(1).split(",") if x.strip()} if p else set()


def read_pilots(root):
    """the sweeps the plans of experiments/ (and experiments/claims/) declare pilots"""
    out = set()
    for d in ("experiments", os.path.join("experiments", "claims")):
        try:
            names = sorted(os.listdir(os.path.join(root, d)))
        except OSError:
            continue
        for f in names:
            if f.endswith(".yaml"):
                with open(os.path.join(root, d, f)) as fh:
                    out |= pilots_of(fh.read())
    return out


def first_registered_look(looks):
    """the first of a claim's looks whose claim was in the repository before
    its runs (registration "pre-registered", as verdicts.csv says it), a
    declared pilot never (issue 116: it sizes n, it decides nothing); None
    where no look was"""
    for look in looks:
        if registration_kind(look[2]) == "pre-registered" and look[1] not in PILOTS:
            return look
    return None


def is_decided(r):
    return r is not None and r["verdict"] in ("holds", "does not hold")


def look_shares(heads):
    """each claim counted once, two ways (STATS.md "Looks"): {"latest": its
    latest look's verdict (a confirmation standing for the earlier looks),
    "first": its first pre-registered look's (none: undecided)}, each
    (decided, claims, tally of the deciding rows, claims without such a look)"""
    looks = looks_by_claim(heads)
    latest = [ls[-1][2] for ls in looks.values()]
    first = [first_registered_look(ls) for ls in looks.values()]
    first_rows = [f[2] for f in first if f is not None]
    return {"latest": (sum(map(is_decided, latest)), len(looks), tally(latest), 0),
            "first": (sum(map(is_decided, first_rows)), len(looks), tally(first_rows),
                      sum(1 for f in first if f is None))}


def percent(part, whole):
    return f"{100 * part / whole:.0f}%" if whole else "–"


LOOKS_FILE = os.path.join("results", "looks.csv")


def read_looks(root):
    """results/looks.csv as `normlab verdict --looks results` wrote it: per
    (original, verdicts.csv row) of a claim with a plan, its looks and the
    plan's verdict (test_committed_claims holds it to the program's answer
    now), as {(base, claim): row}; None where it is missing. The page never
    chooses which look counts under a plan: it reads this."""
    try:
        with open(os.path.join(root, LOOKS_FILE), newline="") as f:
            return {(r["base"], r["claim"]): r for r in csv.DictReader(f)}
    except OSError:
        return None


def plan_shares(heads, plans):
    """the headline claims, each once, under the plans looks.csv gives:
    (claims, those with a plan, decided under it, tally of the plans'
    verdicts, declared after a decisive look, decided blind: under a plan
    declared before its deciding look). Blind is looks.csv's own judgment
    of each row (declared_after_decisive false where a look decided: the
    plan's first commit a strict ancestor of that look's runs' first), so
    the page compares no commits itself; issue 92 asks for it beside the
    plans' share because a plan declared after the look that decided it
    chose nothing blind"""
    rows = [plans[key] for key in looks_by_claim(heads) if key in plans]
    verdicts = [r["verdict"] for r in rows]
    decided = [r for r in rows if r["verdict"] in ("holds", "does not hold")]
    return (len(looks_by_claim(heads)), len(rows), len(decided),
            {"holds": verdicts.count("holds"), "does not hold": verdicts.count("does not hold")},
            sum(r["declared_after_decisive"] == "true" for r in rows),
            sum(r["declared_after_decisive"] == "false" for r in decided))


def plan_line(heads, plans):
    """the summary's line of the share decided under the plans, from looks.csv"""
    if plans is None:
        return ("- Under the plans claims declare (`plan:`): `results/looks.csv` is missing: "
                "`build/normlab verdict --looks results`.")
    claims, planned, decided, t, after, blind = plan_shares(heads, plans)
    return (f"- Under the plans claims declare (`plan:`; each claim's looks and its plan's verdict by `normlab "
            f"verdict --looks results`, `results/looks.csv`; [per claim](#looks-and-plans)): {planned} of {claims} "
            f"headline claims declare a plan; {decided} decided under it ({percent(decided, claims)} of the "
            f"{claims}): {t['holds']} hold, {t['does not hold']} do not; {after} declared after a decisive look "
            f"(marked *post hoc*). Blind: {blind} of the {claims} ({percent(blind, claims)}) decided under a plan "
            f"declared before its deciding look; the other {decided - blind} of the {decided} were decided at a "
            f"look that ran before their plan was declared.")


def plan_headline(heads, plans):
    """the headline line's words on the plans: their share and, beside it,
    the blind share (plan_shares)"""
    if plans is None:
        return "the plans' verdicts the line above gives"
    claims, _, decided, _, _, blind = plan_shares(heads, plans)
    return (f"the plans' verdicts the line above gives: {percent(decided, claims)} decided under their plans, "
            f"{percent(blind, claims)} blind (under a plan declared before its deciding look)")


def headline_number(heads, plans):
    """the page's one headline number, under its title: the headline claims,
    each once, decided under the plans they declare (plan_shares), with its
    definition in a line; every other count is in the summary beneath"""
    if plans is None:
        return ("**No headline number: `results/looks.csv` is missing** (`build/normlab verdict "
                "--looks results` writes it).")
    claims, _, decided, t, _, blind = plan_shares(heads, plans)
    return (f"**{decided} of {claims} claims ({percent(decided, claims)}) are decided under the plans "
            f"they declare: {t['holds']} hold, {t['does not hold']} do not.** A claim is each "
            f"reproduction's headline claim counted once across its confirmations; decided under its "
            f"plan means at the look its experiment file's `plan:` counts, not at a later re-test "
            f"(`results/looks.csv`, [per claim](#looks-and-plans)); {blind} of the {decided} "
            f"({percent(blind, claims)} of all) were decided blind, at a look that ran after the plan "
            f"was declared. The other counts: [Summary](#summary).")


SMALL_N = 5


def is_direction_only(r, rows):
    """the claim tests a direction with no minimum effect: its threshold (or
    every cell's) is no effect, and it is no band and no rate"""
    expect = col(r, "expect")
    if "~" in expect or expect.startswith("rate(") or expect.startswith("count("):
        return False
    cells = [r] if not derived(r) else [x for x in rows if x["claim"].startswith(r["claim"] + "[")]
    vals = [as_float(col(x, "threshold")) for x in cells]
    return bool(vals) and all(v is not None and close(v, no_effect(x)) for v, x in zip(vals, cells))


def decision_notes(heads, plans, rows_of):
    """(decisions, on SMALL_N seeds or fewer, holds, holds that test a
    direction only, claims that are a rate of 0 or 1): the decisions under
    the plans, each read at its deciding look's row (issue 103)"""
    decided = small = holds = direction = 0
    for (base, claim), looks in looks_by_claim(heads).items():
        plan = (plans or {}).get((base, claim))
        if not plan or plan["verdict"] not in ("holds", "does not hold"):
            continue
        at = [(name, r) for _, name, r in looks if name == plan["decided_by"]]
        if not at:
            continue
        name, r = at[0]
        decided += 1
        if seed_count(r, rows_of(name)) <= SMALL_N:
            small += 1
        if plan["verdict"] == "holds":
            holds += 1
            direction += is_direction_only(r, rows_of(name))
    never = len({(confirm_order(name)[0], r["claim"]) for name, r in heads if NEVER_RATE_RE.match(col(r, "expect"))})
    return decided, small, holds, direction, never


def decision_line(heads, plans, rows_of):
    """the page's second line: what the decisions rest on"""
    decided, small, holds, direction, never = decision_notes(heads, plans, rows_of)
    return (f"**{small} of the {decided} decisions rest on {SMALL_N} seeds or fewer** (at the look that "
            f"decided them), **and {direction} of the {holds} holds test a direction only** (their threshold "
            f"is no effect: any effect the claimed way counts). {never} claims are a rate of 0 or 1 as their "
            f"paper states it, which the exact interval never reaches: they can fail, never hold.")


def stopped_claims(root):
    """{(base, claim): (latest look, its seeds)} of the open claims the
    schedule (schedule.py, by experiments/schedule/rule.yaml) gives no
    further look: a look of the rule's pilot size or more gave power no
    number (issue 103); {} where the schedule cannot be read here (no rule
    or no looks.csv: a scratch root)"""
    import schedule  # imports this module: imported on use
    try:
        s = schedule.schedule(root)
    except schedule.RuleError:
        return {}
    return {(x["base"], x["claim"]): (x["look"], x["seeds"]) for x in s["stopped"]}


def plan_cell(plan, stopped=None):
    """the plan's verdict of one claim, as looks.csv gives it; stopped:
    (look, seeds) where the schedule gives the claim no further look"""
    if plan is None:
        return "no plan"
    by = f" at `{plan['decided_by']}`" if plan["decided_by"] else ""
    late = ", *post hoc*: its plan declared after that look" if plan["declared_after_decisive"] == "true" else ""
    final = ("; *final*: a first confirmation's verdict, a later look does not count"
             if plan["decided_by"] and plan.get("plan") == "first-confirmation"
             and plan["verdict"] not in ("holds", "does not hold") else "")
    stop = (f"; *not schedulable*: power gives no number at `{stopped[0]}` ({stopped[1]} seeds, a pilot's size), "
            "so the schedule gives it no look and it stays undecided" if stopped else "")
    return cell(f"{plan['verdict']}{by}{late}{final}{stop}")


def first_look_section(heads, plans=None, stopped=None):
    """the page's "Looks and plans": per claim (counted once) its looks, the
    look that decides it by the first pre-registered look, the latest
    look's verdict, and its plan's verdict as looks.csv gives it"""
    lines = ["## Looks and plans", "",
             "STATS.md, \"Looks\": a claim re-tested because its last test was undecided, keeping the latest "
             "verdict, is optional stopping. Here each headline claim, counted once, is decided by its first look "
             "whose claim was in the repository before its runs (registration *pre-registered*): the original "
             "sweep where its claim was, else its first pre-registered confirmation, never a pilot declared in "
             "a plan's `pilots:` (marked *a pilot* among its looks). A claim without such a look "
             "is undecided by this rule. Its looks are the original and its confirmations on this page "
             "(NAME-confirm, NAME-confirm2, ...: the program's rule, `nl_look_base` in core/verdict/looks.c), in "
             "order; withdrawn sweeps ([Withdrawn runs](#withdrawn-runs)) are not among them. The last column is "
             "the verdict of the plan the claim's experiment file declares (`plan:`), as `normlab verdict --looks "
             "results` computed it (`results/looks.csv`, where each look is listed with whether the plan's first "
             "commit came before its runs): a first-confirmation plan is decided by the same first pre-registered "
             "look, but counts withdrawn sweeps and pilots not declared before their runs as looks too; a plan "
             "declared after the look that decided it is marked *post hoc*. *decided by* links that look's section "
             "of this page, whose row says why its verdict is what it is.", "",
             "| claim | its looks (registration: verdict) | decided by | its verdict | the latest look's verdict "
             "| the plan's verdict |",
             "|---|---|---|---|---|---|"]
    for (base, claim), looks in sorted(looks_by_claim(heads).items()):
        first = first_registered_look(looks)
        seen = "; ".join(f"`{name}` {registration_kind(r)}{', a pilot' if name in PILOTS else ''}: {r['verdict']}"
                         for _, name, r in looks)
        latest = looks[-1]
        lines.append("| " + " | ".join([
            f"`{cell(claim)}` ({anchor(looks[0][1])})", cell(seen),
            anchor(first[1]) if first else "no pre-registered look",
            first[2]["verdict"] if first else "undecided",
            f"{latest[2]['verdict']} (`{latest[1]}`)",
            plan_cell((plans or {}).get((base, claim)), (stopped or {}).get((base, claim)))]) + " |")
    return lines


def families(names):
    """{experiment: (its original's name, the original and its confirmations
    present, in order)}, for those with a confirmation or an original"""
    groups = {}
    for name in names:
        base, order = confirm_order(name)
        groups.setdefault(base, []).append((order, name))
    out = {}
    for base, members in groups.items():
        ordered = [n for _, n in sorted(members)]
        if len(ordered) > 1 or is_confirmation(ordered[0]):
            for n in ordered:
                out[n] = (base, ordered)
    return out


WITHDRAWN_FILE = os.path.join("results", "withdrawn.csv")


def read_withdrawn(root):
    """results/withdrawn.csv as `normlab verdict --withdrawn results` wrote
    it from the git history (test_committed_claims holds it to the history
    now); None where it is missing"""
    try:
        with open(os.path.join(root, WITHDRAWN_FILE), newline="") as f:
            return list(csv.DictReader(f))
    except OSError:
        return None


def withdrawn_section(rows):
    """the page's "Withdrawn runs": every sweep whose committed runs a later
    commit removed, from the program's list, none typed here"""
    lines = ["## Withdrawn runs", "",
             "Committed runs a later commit removed (STATS.md, \"Looks\": withdrawing is allowed, hiding is not), "
             "found by `normlab verdict --withdrawn results` in the git history (`results/withdrawn.csv`): the "
             "commit, how many runs, where their files are now (identical files in another directory) and what "
             "the sweep's `verdicts.csv` said at the commit before. A rename within a sweep is no withdrawal.", ""]
    if rows is None:
        return lines + ["`results/withdrawn.csv` is missing: `build/normlab verdict --withdrawn results`."]
    if not rows:
        return lines + ["None: no committed run has been removed."]
    lines += ["| sweep | removed by | runs withdrawn | where they are now | its verdicts before |",
              "|---|---|---:|---|---|"]
    for r in rows:
        n, elsewhere = as_count(r["withdrawn"]) or 0, as_count(r["elsewhere"]) or 0
        dirs = ", ".join(f"`results/{d}`" for d in r["elsewhere_dirs"].split())
        if elsewhere:
            where = f"restored as {dirs}" + ("" if elsewhere == n else f" ({elsewhere} of {n})")
        else:
            where = "removed: not in the tree"
        lines.append("| " + " | ".join([
            f"`results/{cell(r['sweep'])}`", f"`{r['commit'][:12]}` ({r['date']})", str(n), where,
            cell(r["verdicts_before"]) or "none committed"]) + " |")
    return lines


# the legend at the top of the page: what each column, unit, method and
# word of a row means (issue 83: a reader who has not read the code)
LEGEND = [
    "## How to read a row",
    "",
    "- **Evidence** (each experiment's first line): its sweep directory (`results/NAME/`: its runs, "
    "summary.csv), its `verdicts.csv` (every row of this page comes from it), its looks (the claim's looks and "
    "its plan's verdict in [Looks and plans](#looks-and-plans), from `results/looks.csv`), its write-up (its "
    "section of [results/README.md](README.md), and the row of [reproductions.md](reproductions.md) that "
    "links that section, where one does) and its experiment file.",
    "- **The table**: a row is a claim, its effect [interval] with its method, and its verdict; beneath the "
    "table, one folded block per claim (*its cells, metric, ...*: click to open) holds the rest: a, b, the metric "
    "and its unit, the paper's number, expect, rule, n and n power asks, and registration, each as below.",
    "- **headline**: the few claims an experiment's section states in its summary, marked `headline: true` in "
    "its experiment file; Holm's correction runs over them, and only they are in the tables. The rest are counted "
    "under each table as *secondary claims*.",
    "- **claim**: its id in the experiment file; `id[key=value]` names one cell of a claim over cells.",
    "- **a, b (config keys)**: the two cells a claim compares, each a set of config keys (`key=value`): the "
    "sweep's runs with those values, one per seed; a's and b's runs of the same seed are paired, and the effect is "
    "computed per seed. `c`, `d`: the second pair of an interaction `(a - b) - (c - d)`. A claim on one cell's "
    "value (`a > X`, `a ~ X within W`, a rate) has only a. A claim over cells shows its first cell's keys less "
    "those that name the cell, and the key whose values make the cells.",
    "- **metric (unit)**: what is compared, as the experiment file states it: a column of the runs' summary.csv "
    "(`final_test_error`, ...) or of a run's own file with `where:` (its rows) and `at:` (how they are reduced); "
    "`a: ...; b: ...` where b is read another way (`b_metric`). Then the unit every number of the row is in:",
    "  - *points of error*, *points of accuracy*: errors and accuracies are fractions in the runs' files and in "
    "verdicts.csv; here they are ×100, so 0.026 is 2.6 points (as `normlab table --pair` prints them);",
    "  - *nats*: a loss (cross-entropy, natural log);",
    "  - *ratio*: a/b per seed, where 1 is no effect, or a value over its reference (a rotation over √(2ηλ));",
    "  - *% of seeds*: a rate claim (`rate(EVENT) >= P`): the share of a's seeds with the event, ×100;",
    "  - *series units*: a series a run records (series.csv, trace.csv) in its own units, named with the series;",
    "  - *cells (counts)*: a claim over cells is decided by counting cells, never a metric: its verdict leads, "
    "then the counts (\"undecided at 5 seeds: 3 of 5 cells hold, 2 undecided\"); its effect column gives the "
    "range of its cells' effects in the metric's unit.",
    "- **the paper's number**: the quote the claim checks (cut to its opening and its number), then the paper's "
    "number (`paper_value`) in the row's unit. *the paper gives no size (0): the test is the direction*: the paper "
    "states a direction without a number, so its value is no effect (0 for a difference, 1 for a ratio) and any "
    "effect the claimed way counts; *(no difference)*: a band around 0.",
    "- **expect**: as the experiment file writes it (error and accuracy as fractions), followed, where the "
    "unit rescales it, by the same expectation in the row's unit. `a > b by D`: a − b ≥ D; `a < b by D`: a − b ≤ −D; "
    "`a ~ b within W`: |a − b| ≤ W (both one-sided tests, TOST); `a/b > R`: the per-seed ratio; "
    "`rate(EVENT) >= P`: the share of seeds; `count(...)`: a description, never a test.",
    "- **rule**: the experiment's threshold rule in short (in full, with its reason, above the table): D is the "
    "rule's fraction of the paper's number (of its distance from 1 for a ratio), W the rule's band.",
    "- **n**: seeds, not units: 3 seeds × 5 normalizers is 3; a claim over cells has its cells' seeds (a claims "
    "file over a table, results/fold-bn, counts its rows). **n power asks**: the seeds that power 0.8 asks at the "
    "observed spread (a rate: the exact binomial test's; a claim over cells: its hardest cell's, each cell at power "
    "0.8^(1/cells)).",
    "- **effect [interval], method**: the mean effect (a − b, a/b, a's value, or the share of seeds) in the row's "
    "unit with its 95% interval, and the method that gave them:",
    "  - *t*: 3 to 9 seeds: Student's t interval of the per-seed effects, with the exact sign-flip test beside it;",
    "  - *bootstrap*: 10 seeds or more: a studentized bootstrap interval (10,000 resamples, seeded);",
    "  - *Clopper-Pearson*: a rate's exact binomial interval and test;",
    "  - *cells (counts)*: the intersection-union test: each cell tested on its own at the level; the claim holds "
    "when every cell holds and does not hold when any cell does not;",
    "  - *none: under 3 seeds*: nothing is decided below 3 seeds.",
    "  - *close: the threshold lies within the interval's half-width of the effect*: the verdict turns on where "
    "the threshold (for a band, its nearer edge) is; the threshold is the rule's arithmetic from the paper's number, "
    "so it was not chosen after seeing the runs. *†*: the same closeness where no rule gives this threshold: a "
    "threshold fitted to the runs decides nothing.",
    "- **verdict**: *holds*: the claim's one-sided test passes at 0.025, Holm-corrected over the experiment's "
    "headline claims (a claim over cells: every cell holds); the row says why, from its own numbers: its interval "
    "against the threshold (*a − b [+2.1, +4.3] points of error lies above the threshold +1 points of error*, "
    "with the threshold's source; *lies above 0, no effect* where the paper gives no size; *lies inside the band* "
    "for `~`; a rate's share of seeds against the share the claim asks), a claim over cells its cells' counts. "
    "*does not hold*: the opposite's test passes by the "
    "same standard; the row says why: *wrong direction* (the whole interval on the other side of no effect), "
    "*right direction, too small* or *too small, the mean the other way* (the interval stops short of the "
    "threshold: how far it reaches, and the threshold's source), *outside the band* (for `~`: which side, by how "
    "much); a claim over cells names the cells that do not hold. *undecided at n seeds (needs m, about H "
    "CPU-hours more)*: inconclusive; m seeds as **n power asks**; H is m − n seeds of the whole sweep at its committed "
    "runs' wall time × threads (an upper bound: a claim may need only some of its cells); *needs at least 3*: one "
    "seed has no spread to compute power from. *described*: a count (\"3 of 3 seeds\"), never a hold. "
    "*decided in NAME: V*, *retested in NAME: ...*: the same claim id in a later confirmation, NAME, whose verdict "
    "is the claim's as it stands.",
    "- **registration**: *pre-registered*: the claim (expectation, threshold, cells, metric) was in the "
    "repository, unchanged, at every commit its runs record; *post hoc*: written or changed after (with why); "
    "*unknown*: a run commit this clone lacks, a tree with uncommitted changes, or runs that record no commit. *changed after the runs in "
    "COMMIT: was X*: the git history's record of an expectation changed after the sweep's runs were committed; "
    "*re-run after a discarded first attempt*: a confirmation whose first runs were thrown away "
    "(tests/verdict_prose/discarded_runs.tsv).",
    "- **Confirmations**: by name, NAME-confirm, NAME-confirm2, ... re-run experiment NAME's claims on fresh "
    "seeds, committed before their runs; each section links its original and its confirmations. The summary "
    "counts each claim once three ways: by its latest run, by its first pre-registered look, and under the plan "
    "its experiment file declares (per claim in [Looks and plans](#looks-and-plans)).",
]

def render(verdicts, results_text, sections, of_section, root="."):
    """the text of results/claims.md"""
    links = section_links(results_text, sections, of_section)
    heads = []
    for name in sorted(verdicts):
        heads += [(name, r) for r in headline_rows(verdicts[name])[0]]
    t = tally(r for _, r in heads)
    decided = t["holds"] + t["does not hold"]
    HISTORY["hist"] = history.History(root)
    PILOTS.clear()
    PILOTS.update(read_pilots(root))
    HISTORY["discarded"] = history.read_discarded(root)
    kinds = {"pre-registered": 0, "post hoc": 0, "unknown": 0}
    for _, r in heads:
        kinds[registration_kind(r)] += 1
    notes_of = [history_notes(name, r) for name, r in heads]
    changed_after = sum(1 for ns in notes_of if any(x.startswith("changed after the runs") for x in ns))
    rerun = sum(1 for ns in notes_of if any(x.startswith(("re-run after", "its file changed")) for x in ns))
    ruled = sum(1 for name, r in heads
                if col(r, "threshold_rule") or any(col(x, "threshold_rule") for x in verdicts[name]))
    legacy = sum(1 for name in verdicts if unmarked_tests(verdicts[name]))
    share = f"{100 * decided / len(heads):.0f}%" if heads else "–"
    latest = latest_per_claim(heads)
    lt = tally(r for _, r in latest)
    latest_decided = lt["holds"] + lt["does not hold"]
    latest_share = f"{100 * latest_decided / len(latest):.0f}%" if latest else "–"
    shares = look_shares(heads)
    first_decided, claims_once, ft, no_first = shares["first"]
    first_share = percent(first_decided, claims_once)
    plans = read_looks(root)
    stopped = stopped_claims(root) if plans is not None else {}
    reproduced = reproductions_rows(root)
    notes = {"near": 0}
    body, costs = [], {}
    family_of, latest_of = families(verdicts), latest_by_claim(heads)
    for name in sorted(verdicts):
        costs[name] = seed_cost(root, name)
        link = links.get(name)
        body += [""] + experiment_block(name, verdicts[name], link, notes, costs[name],
                                        family_of.get(name), latest_of, verdicts.get, root, plans,
                                        bool(link) and link[0] in reproduced)
    lines = [
        "<!-- generated from results/*/verdicts.csv by tests/verdict_prose/render.py; do not edit: "
        "python3 tests/verdict_prose/render.py . --write -->",
        "",
        "# Claims and verdicts",
        "",
        headline_number(heads, plans),
        "",
        decision_line(heads, plans, verdicts.get),
        "",
        "Every reproduction's headline claims — the few its section's summary states, over which "
        "Holm's correction runs — with the paper's number each tests, the threshold, the seeds it had "
        "and the seeds power 0.8 asks for, its interval and verdict, and whether the claim was in the "
        "repository before its runs (*pre-registered*) or written after them (*post hoc*), with what the "
        "git history adds (tests/verdict_prose/history.py): a change of its expectation made after its "
        "sweep's runs were committed (*changed after the runs in COMMIT: was X*), and a confirmation "
        "re-run after a discarded first attempt. The rule: "
        f"{STATS_RULE}. This page is generated from the committed `results/*/verdicts.csv` "
        "(written by `normlab verdict`); do not edit it: regenerate it with "
        "`python3 tests/verdict_prose/render.py . --write`, and `test_readme_verdicts` fails when it "
        "differs. The *computed* column of the summary tables ([README.md](README.md), "
        "[reproductions.md](reproductions.md), the top [README](../README.md)) counts these claims.",
        "",
    ] + LEGEND + [
        "",
        "## Summary",
        "",
        f"- {len(heads)} headline claims over {len(verdicts)} experiments; {decided} decided ({share}): "
        f"{t['holds']} hold, {t['does not hold']} do not; {t['inconclusive']} inconclusive, "
        f"{t['described']} described.",
        f"- Each claim counted once, a confirmation on fresh seeds (NAME-confirm, NAME-confirm2) standing "
        f"for the earlier runs of the same claim: {len(latest)} claims, {latest_decided} decided "
        f"({latest_share}): {lt['holds']} hold, {lt['does not hold']} do not; {lt['inconclusive']} "
        f"inconclusive.",
        f"- Each claim counted once and decided by its first pre-registered look (the original where its claim "
        f"was committed before its runs, else its first pre-registered confirmation; "
        f"[per claim](#looks-and-plans)): {claims_once} claims, {first_decided} decided "
        f"({first_share}): {ft['holds']} hold, {ft['does not hold']} do not; "
        f"{ft['inconclusive'] + ft['described']} undecided at that look, {no_first} without a pre-registered look "
        f"(undecided by this rule).",
        plan_line(heads, plans),
        f"- Which number is this page's headline: the share decided under the plans (the top of the page). "
        f"Beside it: {share} of headline rows, every look a row of its own (the first line); each claim once, "
        f"{latest_share} keeping its latest look (a confirmation run because the last test was undecided "
        f"raises it: STATS.md, \"Looks\"), {first_share} by its first pre-registered look, and "
        f"{plan_headline(heads, plans)}.",
        f"- Registration: {kinds['pre-registered']} pre-registered, {kinds['post hoc']} post hoc, "
        f"{kinds['unknown']} unknown; {changed_after} had their expectation (threshold or direction) changed "
        f"after their sweep's runs were committed (each with its commit in its registration), and "
        f"{rerun} are a confirmation's re-run after a discarded first attempt or changed between registration and runs"
        + ("" if HISTORY["hist"].ok else " (no git history here: neither is looked for)") + ".",
        f"- {ruled} of {len(heads)} have a threshold rule stated by their experiment; "
        f"{notes['near']} have a threshold within the interval's half-width of the effect that no rule's "
        "arithmetic from the paper's number gives (†).",
    ]
    if plans is not None:
        lines += plan_cost_lines(plan_ledger(heads, plans, costs), stopped, read_budget(root))
    if legacy:
        lines.append(f"- {legacy} experiments mark no headline claim (verdicts of before issue 68): "
                     "all their claims but the summaries after cells are counted.")
    withdrawn = read_withdrawn(root)
    if withdrawn:
        runs = sum(as_count(r["withdrawn"]) or 0 for r in withdrawn)
        lines.append(f"- {len(withdrawn)} sweeps had committed runs withdrawn ({runs} runs): "
                     "[Withdrawn runs](#withdrawn-runs).")
    lines += [""] + first_look_section(heads, plans, stopped)
    lines += [""] + withdrawn_section(withdrawn)
    lines += ["", "## Experiments"] + body
    return "\n".join(lines) + "\n"


STATED_RE = re.compile(r"\b(\d+) seeds?\b")


def stated_seeds(cells):
    """the seed counts a row's prose states: "(1 seed)", "3 of 3 seeds", "in 2 seeds\""""
    return [int(m.group(1)) for c in cells for m in STATED_RE.finditer(c)]


# ---- the page's own checks (issue 93): its sections lead to their evidence,
# its verdicts say why, its links resolve ----

CELL_SPLIT_RE = re.compile(r"(?<!\\)\|")
# a verdict of "holds" with no reason after it: at the cell's start or after
# a later look's link ("decided in [NAME](#NAME): holds")
BARE_HOLDS_RE = re.compile(r"(?:^|\): )holds(?!: \S)")
# an over-cells row's verdict: the verdict first, then its cells' counts
CELLS_VERDICT_RE = re.compile(r"^(?:holds|does not hold|undecided[^:]*): \d+ of \d+ cells hold\b")
LINK_TARGET_RE = re.compile(r"\]\(([^)\s]+)\)")


def table_cells(line):
    return [c.strip() for c in CELL_SPLIT_RE.split(line.strip().strip("|"))]


# a claim over cells that holds and says no more than its counts ("holds:
# 2 of 2 cells hold" at the verdict's end or before a later look's "; ")
COUNTS_ONLY_HOLDS_RE = re.compile(r"\bholds: \d+ of \d+ cells hold(?:, \d+ [a-z ]+)*(?=;|$)")
EXP_HOURS_RE = re.compile(r"\d[eE][+−-]?\d+ CPU-hours")


def page_problems(text):
    """what the generated page lacks of issue 93, each a line: an experiment's
    section without its links to its sweep directory, its verdicts.csv, its
    looks and its write-up; a row whose verdict is a bare "holds"; a claim
    over cells whose verdict does not lead with itself and its cells' counts,
    or that holds and gives only its counts; CPU-hours in e-notation"""
    out = [f"results/claims.md: CPU-hours in e-notation, {m.group(0)!r} (a reader reads plain decimals)"
           for m in EXP_HOURS_RE.finditer(text)]
    body = re.split(r"(?:^|\n)## Experiments\n", text, maxsplit=1)
    if len(body) != 2:
        return ["results/claims.md: no \"## Experiments\" section"]
    for section in re.split(r"\n(?=### )", body[1]):
        if not section.startswith("### "):
            continue
        name = section[4:section.index("\n") if "\n" in section else None].strip()
        evidence = next((x for x in section.split("\n") if x.startswith(EVIDENCE)), "")
        wants = {"its sweep directory": f"]({name}/)", "its verdicts.csv": f"]({name}/verdicts.csv)",
                 "its looks": "](#looks-and-plans)", "its write-up": "](README.md#"}
        for what, link in wants.items():
            if link not in evidence:
                out.append(f"results/claims.md, {name}: its section does not link {what} (`{link}`) "
                           f"in its \"{EVIDENCE.strip()}\" line")
        header = None
        for line in section.split("\n"):
            if not line.startswith("| "):
                continue
            cells = table_cells(line)
            if header is None:
                header = cells
                continue
            if line.startswith("|---") or "verdict" not in header or len(cells) != len(header):
                continue
            verdict = cells[header.index("verdict")]
            claim = cells[0]
            if BARE_HOLDS_RE.search(verdict):
                out.append(f"results/claims.md, {name}, {claim}: a bare \"holds\" (the row does not say why): "
                           f"{verdict!r}")
            if COUNTS_ONLY_HOLDS_RE.search(verdict):
                out.append(f"results/claims.md, {name}, {claim}: a claim over cells that holds gives only its "
                           f"counts (not what its cells hold): {verdict!r}")
            effect = next((c for h, c in zip(header, cells) if h.startswith("effect")), "")
            if "cells (counts)" in effect and not CELLS_VERDICT_RE.match(verdict):
                out.append(f"results/claims.md, {name}, {claim}: a claim over cells whose verdict does not lead "
                           f"with itself and its cells' counts (\"3 of 5 cells hold, 2 undecided\"): {verdict!r}")
    return out


def heading_anchors(text):
    """the anchors of a Markdown page's headings, as tests/test_doc_links.c
    computes them (a repeated heading's get -1, -2, ...)"""
    seen, out, fenced = {}, set(), False
    for line in text.split("\n"):
        if line.startswith("```"):
            fenced = not fenced
        if fenced or not line.startswith("#"):
            continue
        s = slug(line.lstrip("#").lstrip(" "))
        k = seen.get(s, 0)
        out.add(f"{s}-{k}" if k else s)
        seen[s] = k + 1
    return out


def link_problems(root, page, text):
    """each relative link of `text` (the page at `page`, a path from root)
    that names no file, or an anchor no heading of its page has: what
    test_doc_links fails on, found where the page is written"""
    out, anchors = [], {}
    for target in LINK_TARGET_RE.findall(text):
        if "://" in target or target.startswith("mailto:"):
            continue
        path, _, frag = target.partition("#")
        rel = os.path.normpath(os.path.join(os.path.dirname(page), path)) if path else page
        if path and not os.path.exists(os.path.join(root, rel)):
            out.append(f"{page}: the link ({target}) names no file {rel}")
            continue
        if frag and rel.endswith(".md"):
            if rel not in anchors:
                if rel == page:
                    anchors[rel] = heading_anchors(text)
                else:
                    with open(os.path.join(root, rel)) as f:
                        anchors[rel] = heading_anchors(f.read())
            if frag not in anchors[rel]:
                out.append(f"{page}: the link ({target}): {rel} has no heading with the anchor #{frag}")
    return out


# ---- the page split (issue 116): results/claims.md grew past what GitHub
# renders (1 MB) within a week; it keeps the summary (the legend, the
# counts, every claim with its verdict under Looks and plans, withdrawn
# runs, and an index of the experiments), each experiment's evidence a page
# of its own, results/claims/NAME.md; every link rebased to its page ----

PAGE = os.path.join("results", "claims.md")
PAGES_DIR = os.path.join("results", "claims")
PAGE_LIMIT = 500_000  # bytes: half of what GitHub renders of a file
GENERATED = ("<!-- generated from results/*/verdicts.csv by tests/verdict_prose/render.py; do not edit: "
             "python3 tests/verdict_prose/render.py . --write -->")


def experiment_page(name):
    """the path (from the repository's root) of an experiment's page"""
    return os.path.join(PAGES_DIR, name + ".md")


def relink(text, page, slugs, origin=PAGE):
    """TEXT's relative links, written for ORIGIN, rewritten for PAGE: a
    path from its folder, an anchor of an experiment's section (SLUGS:
    {anchor: name}) its page, any other anchor the summary's"""
    here = os.path.dirname(page)

    def fix(m):
        target = m.group(1)
        if "://" in target or target.startswith("mailto:"):
            return m.group(0)
        path, _, frag = target.partition("#")
        if not path and frag in slugs:
            dest, frag = experiment_page(slugs[frag]), ""
        elif not path:
            dest = origin
        else:
            dest = os.path.normpath(os.path.join(os.path.dirname(origin), path))
        rel = os.path.relpath(dest, here) + ("/" if path.endswith("/") else "")
        if dest == page:
            rel = "" if frag else os.path.basename(page)
        return "](" + rel + ("#" + frag if frag else "") + ")"
    return LINK_TARGET_RE.sub(fix, text)


def split(text, verdicts):
    """{path from the root: text} of the claims pages: the summary
    results/claims.md (all but the experiments' sections, which an index
    replaces) and each experiment's page"""
    head, _, body = text.partition("\n## Experiments\n")
    sections = [s for s in re.split(r"\n(?=### )", body) if s.startswith("### ")]
    names = [s[4:s.index("\n")].strip() for s in sections]
    slugs = {slug(n): n for n in names}
    index = ["", "## Experiments", "",
             "Each experiment's claims, with their evidence (its sweep, its verdicts.csv, its looks, its "
             "write-up), on a page of its own; its headline claims' verdicts here, each look counted as a row:", ""]
    for name in names:
        t = tally(headline_rows(verdicts.get(name) or [])[0])
        counts = ", ".join(f"{v} {k}" for k, v in t.items() if v)
        index.append(f"- [{name}]({os.path.relpath(experiment_page(name), 'results')}): {counts or 'no claims'}")
    pages = {PAGE: relink(head, PAGE, slugs) + "\n" + "\n".join(index) + "\n"}
    for name, section in zip(names, sections):
        page = experiment_page(name)
        up = os.path.relpath(PAGE, os.path.dirname(page))
        lines = section.rstrip("\n").split("\n")
        pages[page] = "\n".join([GENERATED, "", f"# {name}", "",
                                 f"One experiment of [Claims and verdicts]({up}) (how to read a row: "
                                 f"[its legend]({up}#how-to-read-a-row); every claim's looks and plans: "
                                 f"[Looks and plans]({up}#looks-and-plans))."]
                                + [relink(x, page, slugs) for x in lines[1:]]) + "\n"
    return pages


def joined(root):
    """the pages as one text with the links of the single page it replaced
    (the summary, then ## Experiments and each experiment's page as a ###
    section, its links rebased to results/): what tests/claims_page/github.py
    measures, table by table, as GitHub shows each page"""
    with open(os.path.join(root, PAGE), encoding="utf-8") as f:
        summary = f.read()
    head = summary.split("\n## Experiments\n")[0]
    out = [head, "", "## Experiments"]
    names = sorted(os.path.relpath(os.path.join(d, f), os.path.join(root, PAGES_DIR))[:-3]
                   for d, _, fs in os.walk(os.path.join(root, PAGES_DIR)) for f in fs if f.endswith(".md"))
    slugs = {}
    for name in names:
        page = experiment_page(name)
        with open(os.path.join(root, page), encoding="utf-8") as f:
            text = f.read()
        body = text.split(f"\n# {name}\n", 1)[-1].split("\n", 3)[-1]
        out += ["", f"### {name}"] + [relink(x, PAGE, slugs, origin=page) for x in body.rstrip("\n").split("\n")]
    return "\n".join(out) + "\n"


def size_problems(pages):
    """each page over PAGE_LIMIT bytes"""
    return [f"{p}: {len(t.encode()):,} bytes, over the {PAGE_LIMIT:,} a claims page may have (GitHub renders "
            "1 MB of a file): split it further" for p, t in sorted(pages.items()) if len(t.encode()) > PAGE_LIMIT]
