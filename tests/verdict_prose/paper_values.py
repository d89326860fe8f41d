#!/usr/bin/env python3
"""paper_values.py - a claim's paper_value is the paper's number, read
from its quote (issue 92, "paper_value tied to its quote"). Imported by
render.py, whose --check (test_readme_verdicts) runs check() beside
quotes.py; run alone (test_paper_values) it also plants a changed value
in every committed claim and fails unless each change is found:

    python3 tests/verdict_prose/paper_values.py ROOT

A claim (an entry of claims: in experiments/*.yaml and
experiments/claims/*.yaml) with a paper_value has a paper: text. Its
quote is the verbatim passages that text quotes (quotes.py's quotes, each
inside a text of tests/verdict_prose/paper_quotes.tsv); a paper: text
that quotes nothing verbatim is the experiment's transcription of the
paper (a table's or a figure's numbers), and its text after the citation
(the part before the first ": ") stands for the quote.

The value is read in the claim's unit (claim_words.unit_of, the unit
results/claims.md gives it): points of error or accuracy and % of seeds
are the value x 100 (0.007 is the paper's "0.7" or "0.7%"), a ratio, a
loss and every other unit the value itself. Its magnitude is compared:
its sign is the claim's direction (expect:). It must follow from the
quote in one of three ways, or the check reports the claim:

  - in the quote: the value as the paper writes it is a number of the
    verbatim quote: "1.5%" or "1.5" for 0.015 in points; for a ratio,
    also "2x" or "2×" for 2, and a change by p% for 1 + p/100 or
    1 - p/100 (Zhang & Sennrich's "reduces the running time by 7%":
    1.07 in samples/s, 0.93 in time);
  - a difference (points only: the form every table the experiments
    transcribe takes, "34.7% against 24.1%, a 10.6-point gap"): paper:
    states the result in points ("10.6-point", "1.2 points") and it is
    the difference of two of the paper's measurements, percentages of
    the quote ("34.7%"), or of the subtraction paper: writes out
    ("(25.3 - 24.7)");
  - no size: the value is 0 or 1 (no effect, or the paper's equality: a
    difference of 0, a ratio of 1, a rate of no or every seed) and
    paper:, or a comment on the paper_value: line, says so: "paper value
    0", "the paper's difference: 0", "a ratio of 1", "(rate 1)",
    "sigma(W_SN) = 1" (STATED_RE). The comment is where an experiment
    states it without changing its claims (and so its verdicts.csv).

A paper_value: line the check cannot read as a claim's (one "- id:"
entry, one key a line) is reported too, so no claim escapes it unread.
What it cannot see: a transcription's numbers are the experiment's own
typing of the paper (paper_quotes.tsv holds no tables), so a changed
measurement with a value and result changed to match passes; every
other change of a value alone, or of a value with its stated result,
fails (planted()).
"""
import glob
import os
import re
import sys

# (no __pycache__ left in the source tree by the test)
sys.dont_write_bytecode = True
import claim_words  # noqa: E402
import quotes  # noqa: E402

CLAIM_RE = re.compile(r"^(\s*)- id:\s*(\S+)\s*$")
KEY_RE = re.compile(r"^(\s*)([A-Za-z_]+):\s*(.*?)\s*$")
NUMBER_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\d])")
# a difference's result as paper: states it ("a 10.6-point gap", "(1.2
# points)"), the paper's measurements it is of ("34.7%"), and the
# subtraction where paper: writes it out ("(25.3 - 24.7)")
RESULT_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?:-| )points?\b")
MEASURED_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)%")
SUBTRACTION_RE = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?) - (\d+(?:\.\d+)?)(?![\w.])")
TIMES_AFTER_RE = re.compile(r"^\s?(?:x\b|×)")
PERCENT_AFTER_RE = re.compile(r"^\s?%")
# the paper's value said in words: "paper value 0", "the paper's value is a
# difference of 0", "(the paper's difference: 0)", "paper value: a ratio of
# 1", "the no-effect ratio 1", "(rate 1)", "the paper's divergence rate 0"
STATED_RE = re.compile(r"(?:\b(?:value|difference|ratio|rate)\b:?"
                       r"(?:\s+(?:is|of|the|a|no-effect|difference|ratio|rate)\b:?)*\s+|(?<![<>!=])=\s*)"
                       r"(\d+(?:\.\d+)?)(?![\d.]*\d)(?!\s?%)")
NO_SIZE = (0.0, 1.0)
# a paper_value: key, in block or flow style ("- {id: x, paper_value: 1}")
PAPER_VALUE_KEY_RE = re.compile(r"^\s*(?:-\s+)?(?:\{[^#]*[{,]\s*)?paper_value:")


def unquote(value):
    """a YAML scalar's text: a double-quoted string unescaped, else as is"""
    if len(value) >= 2 and value[0] == '"' and value[-1] == '"':
        return re.sub(r'\\(.)', r"\1", value[1:-1])
    if len(value) >= 2 and value[0] == "'" and value[-1] == "'":
        return value[1:-1].replace("''", "'")
    return value


def read_claims(text):
    """(claims, unread): each claim with a paper_value as a dict of its
    top-level keys' texts (and 'line', its paper_value's line); unread: the
    line numbers of paper_value: lines outside any claim read so"""
    lines = text.split("\n")
    claims, seen = [], set()
    i = 0
    while i < len(lines):
        m = CLAIM_RE.match(lines[i])
        if not m:
            i += 1
            continue
        indent, claim = len(m.group(1)), {"id": m.group(2)}
        j = i + 1
        while j < len(lines):
            line = lines[j]
            if line.strip() and not line.lstrip().startswith("#") and len(line) - len(line.lstrip()) <= indent:
                break
            k = KEY_RE.match(line)
            if k and len(k.group(1)) == indent + 2 and k.group(2) not in claim:
                key, value = k.group(2), k.group(3)
                if key == "paper_value":
                    value, _, note = value.partition("#")
                    claim["note"], claim["line"] = note.strip(), j + 1
                    seen.add(j + 1)
                elif key == "paper" and value.startswith('"') and value.endswith('"'):
                    # as the file has it: quotes.py reads its \"...\" quotes
                    claim["paper_raw"] = value[1:-1]
                claim[key] = unquote(value.strip())
            j += 1
        if "paper_value" in claim:
            claims.append(claim)
        i = j
    unread = [n for n, line in enumerate(lines, 1) if PAPER_VALUE_KEY_RE.match(line) and n not in seen]
    return claims, unread


def close(x, y):
    """equal as numbers written with a few decimals (34.7 - 24.1 is 10.6)"""
    return abs(x - y) <= 1e-6 * max(1.0, abs(x), abs(y))


def verbatim_quotes(paper, texts):
    """the passages of a paper: text that are the paper's words"""
    out = []
    for quote, marked in quotes.quotes_in(paper):
        q = quotes.norm(quote)
        if marked or len(q.split()) < 2 or quotes.LOCAL.search(q) or not quotes.verbatim(q, texts):
            continue
        out.append(q)
    return out


def unit_of(claim):
    """the claim's Unit, as claim_words reads it from a verdict row"""
    metric = claim.get("metric", "")
    expr = re.match(r'^\{\s*expr:\s*"?(.*?)"?\s*\}$', metric)
    metric = expr.group(1) if expr else metric
    row = {"expect": claim.get("expect", ""), "metric": metric,
           "b_metric": claim.get("b_metric", ""), "column": ""}
    return claim_words.unit_of(row, f"{claim.get('metric', '')} {claim.get('vars', '')}")


def in_quote(v, unit, quoted):
    """the number of the verbatim quote that is v in the claim's unit, as
    the paper writes it, or None"""
    size = abs(v) * unit.scale
    for q in quoted:
        for m in NUMBER_RE.finditer(q):
            n, after = float(m.group(1)), q[m.end():m.end() + 8]
            if close(n, size) or (unit.name == "ratio" and (
                    (TIMES_AFTER_RE.match(after) and close(n, v)) or
                    (PERCENT_AFTER_RE.match(after) and (close(1 + n / 100, v) or close(1 - n / 100, v))))):
                return q[max(0, m.start() - 30):m.end() + 10]
    return None


def citation_cut(paper):
    """the paper: text after its citation (the part before the first ': ')"""
    at = paper.find(": ")
    return paper[at + 2:] if at >= 0 else paper


def by_difference(v, unit, paper, quoted):
    """'A - B = N' where two of the paper's measurements in the quote differ
    by v, in points, and paper: states the result N points; else None"""
    size = abs(v) * unit.scale
    if not unit.name.startswith("points of") or close(size, 0) or \
            not any(close(float(m.group(1)), size) for m in RESULT_RE.finditer(paper)):
        return None
    written = [(float(a), float(b)) for a, b in SUBTRACTION_RE.findall(paper)]
    if quoted:
        # a subtraction of the quote's numbers
        own = {float(m.group(1)) for q in quoted for m in NUMBER_RE.finditer(q)}
        written = [(a, b) for a, b in written if a in own and b in own]
    if written:
        pairs = written
    else:
        measured = [float(m.group(1)) for s in (quoted or [citation_cut(paper)]) for m in MEASURED_RE.finditer(s)]
        pairs = [(a, b) for i, a in enumerate(measured) for b in measured[i + 1:]]
    for a, b in pairs:
        if close(abs(a - b), size):
            return f"{max(a, b):g} - {min(a, b):g} = {size:g}"
    return None


def no_size(v, stated):
    """the words that state v, 0 or 1, as the paper's value, or None"""
    if not any(close(v, x) for x in NO_SIZE):
        return None
    for m in STATED_RE.finditer(stated):
        if close(float(m.group(1)), v):
            return stated[max(0, m.start() - 20):m.end()]
    return None


def follows(claim, texts):
    """(rule, evidence) by which the claim's paper_value follows from its
    quote, or (None, why not)"""
    try:
        v = float(claim["paper_value"])
    except ValueError:
        return None, f"paper_value {claim['paper_value']!r} is not a number"
    paper = quotes.norm(claim.get("paper", ""))
    unit = unit_of(claim)
    quoted = verbatim_quotes(claim.get("paper_raw", claim.get("paper", "")), texts)
    for rule, found in (("in the quote", in_quote(v, unit, quoted)),
                        ("a difference", by_difference(v, unit, paper, quoted)),
                        ("no size", no_size(v, f"{paper} {claim.get('note', '')}"))):
        if found:
            return rule, found
    said = unit.said(v).replace("−", "-")
    where = "its verbatim quote" if quoted else "its paper: text (it quotes nothing verbatim: a transcription)"
    return None, (f"paper_value {claim['paper_value']} ({said}) does not follow from {where}: it is no number "
                  f"of it as the paper writes it, no difference of two of its measurements with the result "
                  f"stated in paper:, and no value of no size that paper: or a comment on its line names "
                  f"(\"the paper's value 0\", \"a ratio of 1\"): make it the quote's, or state its rule "
                  f"(tests/verdict_prose/paper_values.py)")


def check_text(path, text, texts):
    """(findings, claims checked) of one experiment file's text"""
    claims, unread = read_claims(text)
    problems = [f"{path}:{n}: a paper_value: the check cannot read as a claim's (one '- id:' entry, "
                f"one key a line): write it so" for n in unread]
    for claim in claims:
        rule, why = follows(claim, texts)
        if rule is None:
            problems.append(f"{path}:{claim['line']}: claim {claim['id']}: {why}")
    return problems, len(claims)


def check(root, counts=None):
    """findings over every experiment file; counts, where given, gets the
    number of claims checked"""
    texts = quotes.read_quotes(root)
    if texts is None:
        return [f"{quotes.QUOTES_FILE}: missing"]
    problems, n = [], 0
    for path in sorted(glob.glob(os.path.join(root, "experiments", "*.yaml")) +
                       glob.glob(os.path.join(root, "experiments", "claims", "*.yaml"))):
        with open(path) as f:
            found, k = check_text(os.path.relpath(path, root), f.read(), texts)
        problems += found
        n += k
    if counts is not None:
        counts.append(n)
    return problems


# ---- tests: the check can fail ----

def self_test():
    """claims whose finding is known: the check can fail"""
    texts = [quotes.norm("FRN layer performs 0.7-1.0% better than BN on top-1 validation accuracy. Further, it "
                         "performs >1% better than GN on the same problem."),
             quotes.norm("RMSNorm achieves comparable performance against LayerNorm but reduces the running time "
                         "by 7%~64% on different models."),
             quotes.norm("The new layer trains 2x faster than the old one.")]

    def claim(paper, value, expect="a > b", metric="final_test_error", note=""):
        return (f"claims:\n  - id: c\n    paper: \"{paper}\"\n    metric: {metric}\n"
                f"    paper_value: {value}{'  # ' + note if note else ''}\n    expect: {expect}\n")
    frn = "S & K 2020, abstract: \\\"FRN layer performs 0.7-1.0% better than BN\\\"; at least 0.7 points"
    rms = "Z & S 2019, abstract: \\\"reduces the running time by 7%~64% on different models\\\""
    two = "X 2020: \\\"The new layer trains 2x faster\\\""
    table = "Wu & He 2018, Table 2: at batch 2 batch norm {} against group norm 24.1%, a {}-point gap"
    gaps = "Wu & He 2018, Table 3: layer norm 25.3% against 24.1-24.7%: at least {} points worse (25.3 - 24.7)"
    cases = [
        (claim(frn, 0.007, "a > b by 0.0035"), 0),                    # 0.7 (points) is the quote's
        (claim(frn, 0.008, "a > b by 0.004"), 1),                     # changed with its threshold
        (claim(frn.replace("0.7 points", "0.8 points"), 0.008), 1),   # and with the words outside the quote
        (claim(rms, 1.07, "a/b > 1.035", "samples_per_s"), 0),        # a ratio: 7% faster
        (claim(rms, 0.93, "a/b < 0.965", "median_us"), 0),            # 7% less time
        (claim(rms, 1.08, "a/b > 1.04", "samples_per_s"), 1),
        (claim(rms, 0.07, "a > b"), 0),                               # 7% as points of error: 0.07
        (claim(rms, 0.07, "a > b", "final_test_loss"), 1),            # 7% is no loss in nats
        (claim(two, 2, "a/b > 1.5", "samples_per_s"), 0),             # "2x"
        (claim(two, 3, "a/b > 1.5", "samples_per_s"), 1),
        (claim(table.format("34.7%", "10.6"), 0.106, "a > b by 0.053"), 0),   # 34.7 - 24.1 = 10.6, stated
        (claim(table.format("34.7%", "10.6"), 0.12, "a > b by 0.06"), 1),     # the value alone changed
        (claim(table.format("34.7%", "12"), 0.12, "a > b by 0.06"), 1),       # with its result: 34.7 - 24.1 is not 12
        (claim(table.format("36.1%", "12"), 0.12, "a > b by 0.06"), 0),       # a transcription's numbers are its own
        # a subtraction written out is the pair: 25.3 - 24.1 is no longer any
        (claim(gaps.format("0.6"), 0.006, "a > b by 0.003"), 0),
        (claim(gaps.format("1.2"), 0.012, "a > b by 0.006"), 1),
        (claim("Ioffe 2015, Fig. 1: faster (no number: the paper's value 0, the test the direction)", 0), 0),
        (claim("Ioffe 2015, Fig. 1: faster (no number: the paper's value 0, the test the direction)", 0.05), 1),
        (claim("Ioffe 2015, Fig. 1: faster", 0), 1),                  # 0 with no word for it
        (claim("Ioffe 2015, Fig. 1: faster", 0, note="no number: the paper's value 0"), 0),
        (claim("Miyato 2018: so sigma(W_SN) = 1", 1, "a/b ~ 1 within 0.1", "sigma"), 0),
        (claim("Xiong 2020: fails without warmup, stated without exception (a rate of 1)", 1,
               "rate(a > 2.95) >= 0.5"), 0),
        (claim("Xiong 2020: fails without warmup, stated without exception (a rate of 1)", 0.8,
               "rate(a > 2.95) >= 0.4"), 1),
        ("claims:\n  - {id: c, paper: \"Table 2: 10.6 points\", paper_value: 0.106, metric: e, expect: a > b}\n", 1),
    ]
    failures = []
    for text, want in cases:
        got = len(check_text("t.yaml", text, texts)[0])
        if got != want:
            failures.append(f"paper_values.py self-test: {text!r} gave {got} findings, want {want}")
    return failures


def planted(root):
    """every committed claim's paper_value changed (to twice it; 0 to 0.05,
    1 to 1.5), and where a difference gives it, also with the result
    paper: states (its "N points") changed to match: each change must be
    found. ([(experiment, claim, the change)] the check passes, changes
    made)"""
    texts = quotes.read_quotes(root)
    missed, n = [], 0
    for path in sorted(glob.glob(os.path.join(root, "experiments", "*.yaml")) +
                       glob.glob(os.path.join(root, "experiments", "claims", "*.yaml"))):
        with open(path) as f:
            lines = f.read().split("\n")
        rel = os.path.relpath(path, root)
        for claim in read_claims("\n".join(lines))[0]:
            rule, found = follows(claim, texts)
            if rule is None:
                continue  # check() reports it
            v = float(claim["paper_value"])
            new = {0.0: 0.05, 1.0: 1.5}.get(v, 2 * v)
            at = claim["line"] - 1
            changed = list(lines)
            key, _, rest = changed[at].partition("paper_value:")
            changed[at] = f"{key}paper_value: {new:g}" + ("  #" + rest.split("#", 1)[1] if "#" in rest else "")
            plants = [(f"paper_value changed to {new:g}", changed)]
            if rule == "a difference":
                result, now = found.rsplit("= ", 1)[1], f"{abs(new) * unit_of(claim).scale:g}"
                both = list(changed)
                for i in range(claim_line_of(both, claim["line"]), at):
                    if both[i].lstrip().startswith("paper:"):
                        both[i] = re.sub(rf"(?<![\w.]){re.escape(result)}(?=[- ]points?\b)", now, both[i])
                plants.append((f"paper_value changed to {new:g} and paper:'s {result} points to {now}", both))
            for what, text in plants:
                n += 1
                if not any(f" claim {claim['id']}:" in p for p in check_text(rel, "\n".join(text), texts)[0]):
                    missed.append((rel, claim["id"], what))
    return missed, n


def claim_line_of(lines, line_no):
    """the index of the '- id:' line of the claim holding line line_no"""
    for i in range(line_no - 1, -1, -1):
        if CLAIM_RE.match(lines[i]):
            return i
    return 0


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    failures = self_test()
    counts = []
    problems = check(root, counts)
    missed, n = planted(root)
    for f in failures + problems:
        print(f, file=sys.stderr)
    for rel, cid, what in missed:
        print(f"{rel}: claim {cid}: planted: its {what} passes the check, which so cannot tie this claim's "
              f"paper_value to its quote", file=sys.stderr)
    print(f"paper_values.py: {counts[0] if counts else 0} claims with a paper_value, {len(problems)} findings; "
          f"{n} planted changes, {n - len(missed)} found")
    sys.exit(1 if failures or problems or missed else 0)


if __name__ == "__main__":
    main()
