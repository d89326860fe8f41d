"""claim_words.py - a verdict row of results/*/verdicts.csv said in words a
reader of results/claims.md can check (issue 83): the cells it compares,
its metric and that metric's unit, its effect and interval in that unit,
and why a claim that does not hold does not (the wrong direction, or the
right one by too little).

The unit follows from the claim's metric and expectation:
  - a rate (`rate(...) >= P`): % of seeds (the row's 0..1 times 100);
  - a ratio (`a/b ...`, a rotation over its equilibrium): a plain ratio;
  - an error or accuracy (a fraction in summary.csv and verdicts.csv):
    points, the fraction times 100, as `normlab table --pair` prints it;
  - a loss: nats; `median_us`: microseconds; `samples_per_s`: samples/s;
  - a run's series (series.csv, trace.csv): the series' own units;
  - a claim over cells (intersection-union): its row's effect and interval
    are counts of cells; the page prints them as counts and gives its
    cells' effects in the metric's unit.
"""
import os
import re

# ---- units ----


class Unit:
    def __init__(self, name, scale=1.0, short=None):
        self.name, self.scale, self.short = name, scale, short or name

    def value(self, v, digits=3, sign=False):
        """v in this unit: '−1.33' (sign: '+' for positive)"""
        x = v * self.scale
        if abs(x) < 1e-12:
            x = 0.0
        text = f"{x:+.{digits}g}" if sign else f"{x:.{digits}g}"
        return text.replace("-", "−")

    def amount(self, v, digits=3):
        """a size: '1.33 points of error'"""
        return self.said(abs(v), digits)

    def said(self, v, digits=3, sign=False):
        """'−1.33 points of error', '50% of seeds', '1.07' (a ratio)"""
        if self.name == "ratio" or not self.short:
            return self.value(v, digits, sign)
        gap = "" if self.short.startswith("%") else " "
        return f"{self.value(v, digits, sign)}{gap}{self.short}"


def as_float(s):
    try:
        return float(s)
    except (TypeError, ValueError):
        return None


def col(r, key):
    return (r.get(key) or "").strip()


RATE_EXPECT_RE = re.compile(r"^rate\((?P<event>.*)\)\s*(?P<op>>=|<=|>|<)\s*(?P<p>[-+\d.eE]+)\s*$")
BAND_EXPECT_RE = re.compile(r"^(?P<lhs>.+?)\s*~\s*(?P<rhs>.+?)\s+within\s+(?P<w>[-+\d.eE]+)\s*$")
SIDE_EXPECT_RE = re.compile(r"^(?P<lhs>.+?)\s*(?P<op>>=|<=|>|<)\s*(?P<rhs>.+?)"
                            r"(?:\s+by\s+(?P<by>[-+\d.eE]+)|(?<=b)\s*(?P<margin>[-+])\s+(?P<w>[\d.eE]+))?\s*$")
RATIO_RE = re.compile(r"\b[a-d]\s*/\s*[a-d]\b")
SERIES_RE = re.compile(r"\bseries:\s*([\w.]+)")
# a per-seed indicator, min(1, max(0, ...)): 0 or 1 per seed, so its mean
# is a share of seeds and a difference of two is one of shares (issue 103:
# DeepNorm's and Xiong's contrasts), whatever metric the inside reads
INDICATOR_RE = re.compile(r"^\{?\s*(?:expr:\s*)?\"?\s*min\(\s*1\s*,\s*max\(\s*0\s*,")


def is_rate(r):
    return col(r, "expect").startswith("rate(")


def error_or_accuracy(text):
    """'error', 'accuracy' or None for a metric's text"""
    if re.search(r"\berror\b|_error\b|1 - \w*accuracy", text):
        return "error"
    if re.search(r"accuracy", text):
        return "accuracy"
    return None


def unit_of(r, spec=""):
    """the Unit of a row's effect (and of its paper_value and threshold)"""
    expect = col(r, "expect")
    if is_rate(r) or INDICATOR_RE.match(col(r, "metric")):
        return Unit("% of seeds", 100, "% of seeds")
    metric, column, b_metric = col(r, "metric"), col(r, "column"), col(r, "b_metric")
    if RATIO_RE.search(expect) or metric.startswith("rotation /"):
        return Unit("ratio", 1, "")
    a_text = f"{metric} {column}"
    kind = error_or_accuracy(b_metric) if metric.endswith("accuracy") and b_metric else None
    kind = kind or error_or_accuracy(a_text if metric.endswith(".csv") else metric)
    if metric.endswith(".csv") and column not in ("error", "accuracy"):
        kind = None
    if kind:
        return Unit(f"points of {kind}", 100, f"points of {kind}")
    series = SERIES_RE.findall(spec)
    if "loss" in metric or column == "loss" or (series and all("loss" in s for s in series)):
        return Unit("nats")
    if metric == "median_us":
        return Unit("microseconds", 1, "µs")
    if metric == "samples_per_s":
        return Unit("samples per second", 1, "samples/s")
    if series:
        return Unit(f"the units of the series {', '.join(dict.fromkeys(series))}", 1, "series units")
    if metric.endswith(".csv"):
        return Unit(f"the units of {metric}'s {column}", 1, f"{column} units")
    return Unit("the metric's own units", 1, "metric units")


COUNT = Unit("cells", 1, "cells")

# ---- the claim's metric, as its experiment file states it ----

_FILES = {}


def claim_block(root, r):
    """the lines of the experiment file's claim (its '- id:' entry); [] where
    the file or the claim is not found"""
    path = col(r, "experiment")
    if not path:
        return []
    if path not in _FILES:
        try:
            with open(os.path.join(root, path)) as f:
                _FILES[path] = f.read().split("\n")
        except OSError:
            _FILES[path] = []
    lines, claim = _FILES[path], r["claim"].split("[", 1)[0]
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)- id:\s*(\S+)\s*$", line)
        if m and m.group(2) == claim:
            indent, out = len(m.group(1)), []
            for nxt in lines[i + 1:]:
                stripped = nxt.strip()
                if stripped and (len(nxt) - len(nxt.lstrip()) <= indent):
                    break
                out.append(nxt)
            return out
    return []


def spec_of(block, key):
    """a key's value in a claim's block: its line's text, or its nested
    lines joined (vars:)"""
    for i, line in enumerate(block):
        m = re.match(rf"^(\s*){key}:\s*(.*)$", line)
        if not m:
            continue
        if m.group(2):
            return m.group(2).strip()
        indent, parts = len(m.group(1)), []
        for nxt in block[i + 1:]:
            if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= indent:
                break
            parts.append(nxt.strip())
        return "{" + ", ".join(p for p in parts if p) + "}"
    return ""


def metric_text(root, r):
    """(the metric as the experiment file states it, the text a unit is read
    from)"""
    block = claim_block(root, r)
    metric, b_metric, variables = (spec_of(block, k) for k in ("metric", "b_metric", "vars"))
    if not metric:
        metric = col(r, "metric") + (f" {col(r, 'column')}" if col(r, "column") else "")
        if col(r, "b_metric"):
            b_metric = col(r, "b_metric")
    text = f"`{metric}`"
    if b_metric:
        text = f"a: `{metric}`; b: `{b_metric}`"
    if variables:
        text += f" with `vars: {variables}`"
    return text, " ".join([metric, b_metric, variables])


# ---- the cells a claim compares ----

KEY_SPLIT_RE = re.compile(r",\s*(?=[\w.]+=)")


def keys_of(label):
    return [k.strip() for k in KEY_SPLIT_RE.split(label) if k.strip()] if label else []


def cell_rows(r, rows):
    prefix = r["claim"] + "["
    return [x for x in rows if x["claim"].startswith(prefix)]


def cell_name(row):
    claim = row["claim"]
    return claim[claim.index("[") + 1:-1] if "[" in claim else claim


def compares(r, rows):
    """'a: `keys`; b: `keys`' (c and d where the claim has them); for a
    claim over cells, its first cell's less the keys that name the cell"""
    cells = cell_rows(r, rows)
    source, drop, per = r, [], ""
    if cells and not col(r, "a"):
        source = cells[0]
        drop = keys_of(cell_name(source))
        varied = list(dict.fromkeys(k.split("=", 1)[0] for k in drop))
        per = f"; one cell per value of {', '.join(f'`{k}`' for k in varied)} ({len(cells)} cells)"
    parts = []
    for side in "abcd":
        keys = [k for k in keys_of(col(source, side)) if k not in drop]
        if col(source, side):
            parts.append(f"{side}: `{', '.join(keys)}`" if keys else f"{side}: every run of the cell")
    if not parts:
        return "–"
    return "; ".join(parts) + per


# ---- effect and interval ----

def method_name(method):
    """the method column in a word (the legend says what each is)"""
    if method.startswith("t;") or method == "t":
        return "t"
    if method.startswith("studentized bootstrap"):
        return "bootstrap"
    if method.startswith("Clopper-Pearson"):
        return "Clopper-Pearson"
    if method.startswith("none"):
        return "none: under 3 seeds"
    return method


def derived(r):
    return col(r, "method").startswith(("cells:", "intersection-union:"))


def is_difference(r):
    """whether the effect is a difference (signed: a − b, or an expression of
    b, c, d), not a rate, a ratio or a's value"""
    expect = col(r, "expect")
    return not is_rate(r) and not RATIO_RE.search(expect) and bool(re.search(r"\b[bcd]\b", expect))


CELLS_METHOD_RE = re.compile(r"^[\w-]+:\s*(\d+) hold, (\d+) do not, of (\d+)")


def cell_counts(r):
    """(hold, do not, undecided, cells) of a claim over cells, as its method
    column counts them; None where it gives no counts"""
    m = CELLS_METHOD_RE.match(col(r, "method"))
    if not m:
        return None
    holds, fails, n = map(int, m.groups())
    return holds, fails, n - holds - fails, n


def cells_said(r):
    """a claim over cells' counts in words: '3 of 5 cells hold, 2 undecided'
    (issue 93: the counts, not a count dressed as an effect and interval)"""
    counts = cell_counts(r)
    if counts is None:
        return ""
    holds, fails, undecided, n = counts
    parts = [f"{holds} of {n} cells hold"]
    if fails:
        parts.append(f"{fails} {'does' if fails == 1 else 'do'} not")
    if undecided:
        parts.append(f"{undecided} undecided")
    return ", ".join(parts)


def effect_text(r, unit, rows):
    """'−1.33 points of error [−1.65, −0.99], bootstrap'; a claim over cells:
    the range of its cells' effects in the unit, and its method, cells
    (counts): the counts themselves lead its verdict (cells_said)"""
    if derived(r):
        if cell_counts(r) is None:
            return col(r, "method")
        effects = [as_float(col(c, "effect")) for c in cell_rows(r, rows)]
        effects = [e for e in effects if e is not None]
        if not effects:
            return "cells (counts)"
        lo, hi = min(effects), max(effects)
        sign = is_difference(r)
        span = unit.said(lo, sign=sign) if lo == hi else f"{unit.value(lo, sign=sign)} to {unit.said(hi, sign=sign)}"
        return f"{span} (its cells' effects), cells (counts)"
    effect, lo, hi = (as_float(col(r, k)) for k in ("effect", "lo", "hi"))
    if effect is None:
        return "–"
    text = unit.said(effect, sign=is_difference(r)) + interval(r, unit)
    return text + f", {method_name(col(r, 'method'))}"


NUMBER_RE = re.compile(r"(?<![\w.])[-+]?\d*\.?\d+(?:[eE][-+]?\d+)?")


def expect_unit_note(r, unit):
    """the expectation in the unit where it rescales its numbers: 'a < b by
    0.026' is 'a < b by 2.6' in points of error; a rate's P in % of seeds"""
    if unit.scale == 1:
        return ""
    expect = col(r, "expect")
    m = RATE_EXPECT_RE.match(expect)
    if m:
        return f" (at least {unit.said(float(m.group('p')))})" if m.group("op").startswith(">") else \
            f" (at most {unit.said(float(m.group('p')))})"
    if not NUMBER_RE.search(expect):
        return ""
    scaled = NUMBER_RE.sub(lambda x: unit.value(float(x.group(0))).replace("−", "-"), expect)
    return f" (in {unit.short}: `{scaled}`)"


# ---- why a claim does not hold ----

def fraction_word(f):
    return {0.5: "half", 0.25: "a quarter", 1.0: "all"}.get(f, f"{f:g} of")


def rule_words(r, unit, threshold_fn):
    """"(half the paper's 5.2)" where the rule's arithmetic gives the
    threshold from the paper's number"""
    want = threshold_fn(r)
    pv = as_float(col(r, "paper_value"))
    m = re.match(r"^([0-9.]+) of the paper's effect", col(r, "threshold_rule"))
    if not want or pv is None or not m or want[1] is not None:
        return ""
    ratio = bool(RATIO_RE.search(col(r, "expect")))
    size = abs(pv - 1) if ratio else abs(pv)
    what = f"the paper's {unit.value(size)} from 1" if ratio else f"the paper's {unit.value(size)}"
    return f" ({fraction_word(float(m.group(1)))} {what})"


def interval(r, unit):
    lo, hi = as_float(col(r, "lo")), as_float(col(r, "hi"))
    if lo is None or hi is None:
        return ""
    sign = is_difference(r)
    return f" [{unit.value(lo, sign=sign)}, {unit.value(hi, sign=sign)}]"


def subject(lhs, rhs):
    """what the effect measures, and the words for its two sides"""
    lhs, rhs = lhs.strip(), rhs.strip()
    if lhs == "a" and rhs == "b":
        return "a − b", ("a above b by", "a below b by")
    if lhs == "a/b":
        return "a/b", ("a/b", "a/b")
    if lhs == "a":
        return "a", ("a", "a")
    text = lhs.replace("-", "−")
    return text, (f"{text} is", f"{text} is")


def why_not(r, unit, rows, threshold_fn):
    """words for a row that does not hold: the wrong direction, or the right
    one by too little (or outside a band: which side and by how much)"""
    if derived(r):
        failing = [c for c in cell_rows(r, rows) if c["verdict"] == "does not hold"]
        if not failing:
            return ""
        said = [f"`{cell_name(c)}`: {why_not(c, unit, rows, threshold_fn)}" for c in failing[:3]]
        more = f"; and {len(failing) - 3} more" if len(failing) > 3 else ""
        counts = cells_said(r) or f"{len(failing)} of {len(cell_rows(r, rows))} cells do not hold"
        return f"{counts} — " + "; ".join(said) + more
    expect = col(r, "expect")
    effect, t = as_float(col(r, "effect")), as_float(col(r, "threshold"))
    if effect is None:
        return ""
    iv = interval(r, unit)
    sign = is_difference(r)
    m = RATE_EXPECT_RE.match(expect)
    if m:
        p = float(m.group("p"))
        side = "under" if m.group("op").startswith(">") else "over"
        return (f"{unit.said(effect)}{iv} had `{m.group('event')}`, {side} the "
                f"{unit.said(p)} the claim asks")
    m = BAND_EXPECT_RE.match(expect)
    if m:
        w = float(m.group("w"))
        centre = t if t is not None else 0.0
        lhs, rhs = m.group("lhs").strip(), m.group("rhs").strip()
        what = "a − b" if rhs == "b" else lhs.replace("-", "−")
        lo_edge, hi_edge = centre - w, centre + w
        side = "above" if effect > hi_edge else "below"
        edge = hi_edge if side == "above" else lo_edge
        band = f"{unit.value(centre, sign=sign)} ± {unit.said(w)}" if centre else f"± {unit.said(w)}"
        return (f"outside the band: {what} is {unit.said(effect, sign=sign)}{iv}, "
                f"{side} the band ({band}) by {unit.amount(effect - edge)}")
    m = SIDE_EXPECT_RE.match(expect)
    if not m:
        return ""
    up = m.group("op").startswith(">")
    lhs, rhs = m.group("lhs").strip(), m.group("rhs").strip()
    wanted = "above" if up else "below"
    if lhs == "a" and rhs != "b":
        # a's value against a number
        threshold = t if t is not None else 0.0
        return (f"a is {unit.said(effect)}{iv}, {'under' if up else 'over'} the "
                f"{unit.said(threshold)} the claim asks")
    null = 1.0 if lhs == "a/b" else 0.0
    threshold = t if t is not None else null
    if m.group("margin"):
        # non-inferiority: a may lose to b by up to the margin, no more
        lo, hi = as_float(col(r, "lo")), as_float(col(r, "hi"))
        edge = lo if up else hi
        reached = f"; by its interval it may reach {unit.said(edge, sign=sign)}" if edge is not None else ""
        return (f"past the margin: a − b is {unit.said(effect, sign=sign)}{iv}{reached}, where the claim allows "
                f"{'down to' if up else 'up to'} {unit.said(threshold, 4, sign=sign)} (a {wanted} b "
                f"{m.group('margin')} {unit.said(abs(threshold), 4)})")
    if lhs == "a" and rhs == "b":
        said = f"a {'above' if effect > 0 else 'below'} b by {unit.amount(effect)}{iv}"
        need = unit.amount(threshold, 4)
    else:
        said = f"{lhs.replace('-', '−')} is {unit.said(effect, sign=sign)}{iv}"
        need = unit.said(threshold, 4, sign=sign)
    toward = 1 if up else -1
    lo, hi = as_float(col(r, "lo")), as_float(col(r, "hi"))
    reach = ((hi if up else lo) - null) * toward if lo is not None and hi is not None else (effect - null) * toward
    if reach <= 0:
        # the whole interval on the other side of no effect
        if lhs == "a" and rhs == "b":
            return f"wrong direction: {said} (the claim: a {wanted} b)"
        other = "below" if up else "above"
        return (f"wrong direction: {said}, {other} {unit.value(null)}, no effect "
                f"(the claim asks it {wanted} {unit.value(threshold, 4)})")
    first = "right direction, too small" if (effect - null) * toward > 0 else "too small, the mean the other way"
    if lhs == "a" and rhs == "b":
        reached = f"a at most {unit.amount(reach)} {wanted} b"
    else:
        reached = f"{lhs.replace('-', '−')} at most {unit.said(null + toward * reach, sign=sign)}"
    return (f"{first}: {said}; by its interval {reached}, short of the {need} the claim asks"
            + rule_words(r, unit, threshold_fn))


def span_said(lo, hi, unit, sign):
    """an interval in the unit: '[+2.1, +4.3] points of error', '[60, 100]% of seeds'"""
    text = f"[{unit.value(lo, sign=sign)}, {unit.value(hi, sign=sign)}]"
    if unit.name == "ratio" or not unit.short:
        return text
    return text + ("" if unit.short.startswith("%") else " ") + unit.short


def cells_held(r, unit, rows, threshold_fn):
    """': each a − b lies below 0 (...): `cell` [lo, hi] unit, ...' for the
    cells of r that hold, the reason said once where every cell's is the
    same but for its interval, else each cell's in full; "" without cells"""
    said = []
    for c in cell_rows(r, rows):
        if c["verdict"] != "holds":
            continue
        why = holds_why(c, unit_of(c), rows, threshold_fn)
        lo, hi = as_float(col(c, "lo")), as_float(col(c, "hi"))
        span = span_said(lo, hi, unit_of(c), is_difference(c)) if lo is not None and hi is not None else None
        said.append((cell_name(c), why, span))
    if not said:
        return ""
    shared = {why.replace(" " + span, "", 1) for _, why, span in said if span and span in why}
    if len(shared) == 1 and all(span and span in why for _, why, span in said):
        return f": each {shared.pop()}: " + ", ".join(f"`{name}` {span}" for name, _, span in said)
    return ": " + "; ".join(f"`{name}` {why}" for name, why, _ in said)


def holds_why(r, unit, rows, threshold_fn):
    """words for a row that holds, as why_not's for one that does not (issue
    93: no bare "holds"): its interval against the threshold, from the
    row's own lo, hi and threshold; a claim over cells: its cells' counts,
    then what the cells that hold hold (issue 102: counts alone do not say)"""
    if derived(r):
        return cells_said(r) + cells_held(r, unit, rows, threshold_fn)
    expect = col(r, "expect")
    lo, hi, t = as_float(col(r, "lo")), as_float(col(r, "hi")), as_float(col(r, "threshold"))
    if lo is None or hi is None:
        return ""
    sign = is_difference(r)
    span = span_said(lo, hi, unit, sign)
    passed = (f", and its test passes (Holm p {float(col(r, 'p_holm')):.3g})" if as_float(col(r, "p_holm")) is not None
              else ", and its test passes")
    m = RATE_EXPECT_RE.match(expect)
    if m:
        p = float(m.group("p"))
        up = m.group("op").startswith(">")
        beyond = lo >= p if up else hi <= p
        where = f"{'above' if up else 'below'} the {unit.said(p)} the claim asks"
        said = f"the share of seeds with `{m.group('event')}`, {span},"
        return f"{said} lies {where}" if beyond else f"{said} reaches {unit.said(lo if up else hi)}{passed}"
    m = BAND_EXPECT_RE.match(expect)
    if m:
        w = float(m.group("w"))
        centre = t if t is not None else 0.0
        lhs, rhs = m.group("lhs").strip(), m.group("rhs").strip()
        what = "a − b" if rhs == "b" else lhs.replace("-", "−")
        band = f"{unit.value(centre, sign=sign)} ± {unit.said(w)}" if centre else f"± {unit.said(w)}"
        if centre - w <= lo and hi <= centre + w:
            return f"{what} {span} lies inside the band ({band})"
        return f"{what} {span}, the band {band}{passed}"
    m = SIDE_EXPECT_RE.match(expect)
    if not m:
        return ""
    up = m.group("op").startswith(">")
    lhs, rhs = m.group("lhs").strip(), m.group("rhs").strip()
    null = 1.0 if lhs == "a/b" else 0.0
    threshold = t if t is not None else null
    if lhs == "a" and rhs != "b":
        what, need = "a", f"the {unit.said(threshold, 4)} the claim asks"
    else:
        what = "a − b" if (lhs == "a" and rhs == "b") else lhs.replace("-", "−")
        need = (f"the margin {unit.said(threshold, 4, sign=sign)} a may lose by" if m.group("margin")
                else f"the threshold {unit.said(threshold, 4, sign=sign)}")
    if threshold == null and not (lhs == "a" and rhs != "b"):
        # the paper gives no size: its value is no effect, and the test is the direction
        need = f"{unit.value(null)}, no effect (the claim asks the direction)"
    beyond = lo >= threshold if up else hi <= threshold
    if beyond:
        return (f"{what} {span} lies {'above' if up else 'below'} {need}"
                + ("" if threshold == null else rule_words(r, unit, threshold_fn)))
    return f"{what} {span}, {need}{passed}"


def self_test():
    """why_not and the units on rows whose answer is known: they can fail"""
    def row(expect, effect, lo, hi, threshold, metric="final_test_error", within="", paper="", rule=""):
        return {"claim": "x", "expect": expect, "effect": effect, "lo": lo, "hi": hi, "threshold": threshold,
                "within": within, "metric": metric, "method": "t", "paper_value": paper, "threshold_rule": rule}
    no_rule = lambda r: None  # noqa: E731
    half = lambda r: (0.5 * float(r["paper_value"]), None)  # noqa: E731
    cases = [
        # the bn-lstm-better-permuted: the right way by 1.33 points, short of 2.6 (half the paper's 5.2)
        (row("a < b by 0.026", "-0.0133175", "-0.0164913", "-0.00993281", "-0.026", paper="-0.052",
             rule="0.5 of the paper's effect"), half,
         ["right direction, too small", "a below b by 1.33 points of error", "2.6 points of error",
          "half the paper's 5.2"]),
        (row("a < b by 0.0056", "0.049", "0.0219", "0.204", "-0.0056"), no_rule,
         ["wrong direction: a above b by 4.9 points of error"]),
        (row("a ~ b within 0.02", "-0.173", "-0.241", "-0.124", "0", within="0.02"), no_rule,
         ["outside the band", "below the band (± 2 points of error) by 15.3"]),
        (row("a ~ b within 0.02", "0.952", "0.905", "0.999", "0", metric="final_test_loss", within="0.02"), no_rule,
         ["+0.952 nats"]),
        (row("a/b > 1.035", "0.892", "0.807", "0.977", "1.035", metric="samples_per_s"), no_rule,
         ["wrong direction: a/b is 0.892", "below 1, no effect"]),
        (row("rate(a > 2.95 or diverged) >= 0.5", "0.25", "0.05", "0.45", "0.5", metric="final_test_loss"), no_rule,
         ["25% of seeds", "under the 50% of seeds"]),
        # a difference of two shares of seeds (an indicator per seed), not nats (issue 103)
        (row("a > b by 0.5", "0.19", "0.05", "0.33", "0.5",
             metric="min(1, max(0, (2.95 - final_test_loss) * 1000000000))"), no_rule,
         ["a above b by 19% of seeds", "the 50% of seeds the claim asks"]),
    ]
    out = []
    for r, fn, want in cases:
        got = why_not(r, unit_of(r), [r], fn)
        for w in want:
            if w not in got:
                out.append(f"claim_words self-test: why_not({r['expect']}, effect {r['effect']}) gave {got!r}, "
                           f"without {w!r}")
    # a row that holds says why (issue 93): its interval against the threshold, in the row's unit
    holds = [
        (row("a > b by 0.01", "0.032", "0.021", "0.043", "0.01", paper="0.02", rule="0.5 of the paper's effect"),
         half, "a − b [+2.1, +4.3] points of error lies above the threshold +1 points of error (half the paper's 2)"),
        (row("a < b by 0.026", "-0.04", "-0.05", "-0.03", "-0.026"), no_rule,
         "a − b [−5, −3] points of error lies below the threshold −2.6 points of error"),
        (row("a ~ b within 0.02", "0.001", "-0.005", "0.007", "0", within="0.02"), no_rule,
         "a − b [−0.5, +0.7] points of error lies inside the band (± 2 points of error)"),
        (row("a/b > 1.035", "1.2", "1.1", "1.3", "1.035", metric="samples_per_s"), no_rule,
         "a/b [1.1, 1.3] lies above the threshold 1.035"),
        (row("rate(a > 2.95 or diverged) >= 0.5", "0.9", "0.6", "1", "0.5", metric="final_test_loss"), no_rule,
         "the share of seeds with `a > 2.95 or diverged`, [60, 100]% of seeds, lies above the 50% of seeds "
         "the claim asks"),
        # the paper gives no size: the test is the direction, and no "half the paper's 0"
        (row("a < b", "-0.1", "-0.13", "-0.0657", "0", paper="0", rule="0.5 of the paper's effect"), half,
         "a − b [−13, −6.57] points of error lies below 0, no effect (the claim asks the direction)"),
        # an interval that crosses the threshold is not said to lie beyond it
        (row("a > b by 0.01", "0.032", "0.005", "0.043", "0.01"), no_rule,
         "a − b [+0.5, +4.3] points of error, the threshold +1 points of error, and its test passes"),
    ]
    for r, fn, want in holds:
        got = holds_why(r, unit_of(r), [r], fn)
        if got != want:
            out.append(f"claim_words self-test: holds_why({r['expect']}, [{r['lo']}, {r['hi']}]) gave {got!r}, "
                       f"by hand {want!r}")
    # a claim over cells: its counts, in words, and no count as an effect
    over = {"claim": "x", "expect": "a < b", "method": "intersection-union: 3 hold, 0 do not, of 5"}
    if cells_said(over) != "3 of 5 cells hold, 2 undecided" or "hold" in effect_text(over, unit_of(over), [over]):
        out.append(f"claim_words self-test: a claim over cells with 3 of 5 holding said {cells_said(over)!r}, "
                   f"effect {effect_text(over, unit_of(over), [over])!r}")
    # one that holds says what its cells hold: the shared reason once, then each cell's interval (issue 102)
    held = dict(row("a < b", "", "", "", "0"), method="intersection-union: 2 hold, 0 do not, of 2", verdict="holds")
    cells = [dict(row("a < b", "-0.02", "-0.03", "-0.01", "0"), claim="x[w=8]", verdict="holds"),
             dict(row("a < b", "-0.04", "-0.05", "-0.02", "0"), claim="x[w=16]", verdict="holds")]
    got = holds_why(held, unit_of(held), [held] + cells, no_rule)
    want = ("2 of 2 cells hold: each a − b lies below 0, no effect (the claim asks the direction): "
            "`w=8` [−3, −1] points of error, `w=16` [−5, −2] points of error")
    if got != want:
        out.append(f"claim_words self-test: a claim over cells that holds said {got!r}, by hand {want!r}")
    return out
