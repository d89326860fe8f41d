#!/usr/bin/env python3
"""prose.py - the pages' words about outcomes agree with the computed
verdicts (issue 68): every sentence of README.md, results/README.md and
results/reproductions.md that states an outcome cites the claim it states
(its id in backticks, as verdicts.csv names it: `bn-fails-at-2`, one row
of it: `rms-as-ln[train.optimizer.lr=0.3]`, or, where sweeps share an id
with different verdicts, the sweep's: `wu-he-batch-cnn/bn-fails-at-2`), and
its words match that claim's verdict.

    python3 tests/verdict_prose/prose.py ROOT          # exit 1 on any finding

A claim is cited by its id or by its words (issue 103): the id's words,
three or more, in order ("the batch mean weight grows with batch" cites
`batch-mean-weight-grows-with-batch`).

What counts as stating an outcome (case-insensitive), and what it asks of
the claims the sentence cites:
  - "reproduced", "reproduces", "replicated", "replicates", "holds",
    "hold" (not after "do not"), "confirmed", "confirms", "borne out",
    "bears out", "upheld", "verified", a table cell "yes", "best": a claim
    that holds;
  - "does not hold", "do not hold", "not reproduced", "does not
    reproduce", "not replicated", "does not replicate", "fails (failed) to
    reproduce, replicate or hold", "refuted", "contradicted", "not borne
    out", a table cell "no": a claim that does not hold;
  - "undecided", "inconclusive": an inconclusive claim;
  - "every seed", "in every seed", "K of N seeds": a cited claim whose seeds
    agree as many times as the sentence says (every seed: all of them);
  - "pre-registered", "committed (written, fixed) before the runs": every
    claim it speaks of (those it cites, else the headline claims of the
    experiment its paragraph links last) pre-registered by the program's
    own lookup (verdicts.csv's registered column), unless the sentence
    itself says post hoc; and "pre-registered" of a confirmation re-run
    after a discarded first attempt (tests/verdict_prose/discarded_runs.tsv)
    says so ("discarded", "re-run") in the same sentence.
Held to the plan (issue 92): where a claim's plan has decided
(results/looks.csv, written by `normlab verdict --looks results`: under a
first-confirmation plan the first pre-registered look decides, final), a
sentence's verdict words are held to the plan's verdict, not to the cited
sweep's. Citing another look of the claim (the post hoc sweep before the
deciding look, a later re-test after it) with its own verdict, where that
verdict is decided and differs from the plan's, needs the marker phrase

    not counted under the plan

in the same clause as the citation (clauses split at ';', '|', ', and',
', but', ' — '), e.g. "on 98 fresh seeds `wu-he-batch-mlp-confirm2/
gn-batch-independent` holds, a later re-test, not counted under the plan",
or "(`rms-lm/rms-as-ln`, post hoc, not counted under the plan)". A look
said undecided needs no marker (it decides nothing against the plan). A
claim with no pre-registered look yet is undecided under its plan (issue
103): a post hoc look's decided verdict is said only with its status in
its clause, "post hoc" or the marker. The self-test plants
"reproduced" (or "not reproduced") beside every look whose decided verdict
its plan does not give, from the committed results/looks.csv, and fails
unless each is found, and unless the marker clears it; and the nine forms
of issue 103 (the class above, the synonyms, a claim cited by its words,
a summary cell, a synonym citing no claim) planted on known rows must each
be found.
A pilot (a sweep a plan of experiments/ declares in its pilots:) is no
look of its claim's plan (issue 116): its decided verdict, where the plan
has not decided alike, is cited only with "a pilot, not counted under the
plan" in its clause (the plain marker does not do), never as the claim's;
the self-test plants "reproduced" (or "not reproduced") beside each such
pilot row and fails unless each is found and only the pilot's marker
clears it.
A weaker claim is never the paper's statement (issue 116): where two
claims quote the same paper text and number for the same cells and metric
and compare the same quantity the same way, the one whose threshold the
paper does not state (rate(a diverged) <= 0.5 beside <= 0: at most half
the seeds, where the paper says none) is weaker (claims_page.weaker_claims,
from the verdict files), and a sentence that says it holds has "a weaker
claim" ("a weaker post hoc claim" where its first look was post hoc) in
each clause citing it. An outcome said of a paper without a verdict word
("as Wu & He report", "Li et al.'s finding", "points the paper's way",
"consistent with the paper"; the authors those of the committed quotes)
cites its claim like any other. The self-test plants each form on rows
whose findings are known, and a weaker claim's hold beside every committed
one.
A sentence with words of several kinds (one claim holds, another does not)
passes when each cited claim matches one of its kinds and each kind is
matched by one cited claim. Generated blocks (<!-- BEGIN VERDICTS -->),
code, HTML comments, headings and the summary tables' "computed" column are
not prose and are skipped; so is results/claims.md, which is generated
whole.
"""
import csv
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import claims_page as cp  # noqa: E402

PAGES = ("README.md", "results/README.md", "results/reproductions.md")

# a verdict word and its synonyms (issue 103: "replicates", "borne out")
POSITIVE = (r"reproduced|reproduces|replicated|replicates|holds?|confirmed|confirms|best|borne out|bears out|"
            r"upheld|verified")
KINDS = {
    "holds": re.compile(r"\b(%s)\b|\|\s*yes\s*(?=\|)" % POSITIVE, re.I),
    "does not hold": re.compile(r"\b(does not hold|do not hold|not reproduced|does not reproduce|not replicated|"
                                r"does not replicate|fails to (?:reproduce|replicate|hold)|failed to (?:reproduce|"
                                r"replicate|hold)|refuted|contradicted)\b|\|\s*no\s*(?=\|)", re.I),
    "inconclusive": re.compile(r"\b(undecided|inconclusive)\b", re.I),
}
# the marker of a look whose verdict the claim's plan does not count (a
# later re-test after the plan's deciding look, or the post hoc pilot before
# it): "a later re-test, not counted under the plan" (issue 92)
NOT_COUNTED = re.compile(r"\bnot counted under the plan\b", re.I)
# a pilot's verdict (a look declared a pilot in a plan's pilots:, which the
# plan never counts) is cited only with this marker in its clause, never
# as the claim's (issue 116)
PILOT_MARK = re.compile(r"\ba pilot, not counted under the plan\b", re.I)
PILOT = "a pilot"
# the sweeps the experiment files' plans declare pilots, set by check()
PILOTS = set()
PLAN_CLAUSE = re.compile(r"[;|]|, and |, but | — ")
# "not reproduced" is the negative, not "reproduced"
NEGATED = re.compile(r"\b(not|never)\s+(reproduced|reproduces|replicated|replicates|holds|confirmed|confirms|"
                     r"borne out|upheld|verified)\b", re.I)
EVERY_SEED = re.compile(r"\bevery seed\b", re.I)
K_OF_N = re.compile(r"\b(\d+) of (\d+) seeds\b", re.I)
# "needs 43", "need 34, 394, 75", "needs 1,643": the seeds an undecided
# claim is said to need (a thousands comma has no space after it)
NEEDS = re.compile(r"\bneeds? ~?(\d[\d,]*\d|\d)((?:(?:, | and )(?:\d[\d,]*\d|\d)\b(?! seeds? (?:of|agree)))*)")
# "need 4 to 379", "need 5 to about 100,000": a range over a claim's cells
NEEDS_RANGE = re.compile(r"\bneeds? (\d[\d,]*\d|\d) to (?:about )?(\d[\d,]*\d|\d)\b")
# `claim`, `claim[key=value]`, or `sweep/claim` where claims of several
# sweeps share the id (results/NAME or results/GROUP/NAME's NAME)
CITE = re.compile(r"`((?:[a-z0-9][a-z0-9_.-]*/)?[a-zA-Z0-9][a-zA-Z0-9_.-]*(?:\[(?:[^\[\]`]|\[[^\[\]`]*\])+\])?)`")


def read_verdicts(root):
    """claim id -> rows, under the id and under sweep/id (the sweep: the
    directory's name); a base id (before '[') also names its rows"""
    rows = {}
    for path in sorted(glob.glob(os.path.join(root, "results", "*", "verdicts.csv")) +
                       glob.glob(os.path.join(root, "results", "*", "*", "verdicts.csv"))):
        sweep = os.path.basename(os.path.dirname(path))
        with open(path, newline="") as f:
            for r in csv.DictReader(f):
                r["_sweep"] = sweep
                rows.setdefault(r["claim"], []).append(r)
                rows.setdefault(sweep + "/" + r["claim"], []).append(r)
    return rows


def read_plans(root):
    """(sweep, claim) -> (the plan's verdict, the look that decided it), for
    every look of every claim whose plan has decided (results/looks.csv:
    written by `normlab verdict --looks results`); a claim with no
    pre-registered look yet has no plan verdict to hold a sentence to"""
    plans = {}
    try:
        f = open(os.path.join(root, "results", "looks.csv"), newline="")
    except OSError:
        return plans
    with f:
        for r in csv.DictReader(f):
            # a claim no pre-registered look has decided is undecided under
            # its plan (issue 103): a post hoc look's "does not hold" is not
            # its verdict, and is said only with its status beside it
            verdict = "inconclusive" if r["verdict"].startswith("undecided") else r["verdict"]
            for look in r["looks"].split("; "):
                m = re.match(r"[^\s:]+", look)
                if m:
                    plans[(m.group(0), r["claim"])] = (verdict, r["decided_by"])
    return plans


def ambiguous(rows, cited):
    """the sweeps an unqualified id names with different verdicts"""
    if "/" in cited:
        return []
    by_sweep = {}
    for r in verdict_rows(rows, cited):
        by_sweep.setdefault(r["_sweep"], set()).add(r["verdict"])
    if len(by_sweep) > 1 and len({frozenset(v) for v in by_sweep.values()}) > 1:
        return sorted(by_sweep)
    return []


def verdict_rows(rows, cited):
    """the rows a citation names: the row itself, or a claim's row over its
    cells where it has one, else every row of the claim"""
    if cited in rows:
        return rows[cited]
    family = [r for key, rs in rows.items() if key.startswith(cited + "[") for r in rs]
    return family


def strip(text):
    """the prose, with what is not prose blanked (its lines kept, so that
    findings name the page's own line numbers)"""
    blank = lambda m: "\n" * m.group(0).count("\n")
    text = re.sub(r"<!-- BEGIN VERDICTS.*?<!-- END VERDICTS -->", blank, text, flags=re.S)
    text = re.sub(r"```.*?```", blank, text, flags=re.S)
    return re.sub(r"<!--.*?-->", blank, text, flags=re.S)


def units(text):
    """(line, text) of each sentence, list item and table row"""
    out = []
    paragraph, start = [], 0
    lines = text.split("\n")

    def flush():
        if paragraph:
            joined = " ".join(paragraph)
            for s in re.split(r"(?<=[.!?])\s+(?=[A-Z§(*\[`])", joined):
                out.append((start, s))
        paragraph.clear()

    computed = None  # the index of a table's generated "computed" column
    for i, line in enumerate(lines, 1):
        s = line.strip()
        if not s or s.startswith("#"):
            flush()
            computed = None
        elif s.startswith("|"):
            flush()
            cells = [c.strip() for c in s.strip("|").split("|")]
            if computed is None and i < len(lines) and re.match(r"^\|[\s|:-]+\|$", lines[i].strip()):
                # a header: render.py generates the column named "computed"
                computed = cells.index("computed") if "computed" in cells else -1
            if re.match(r"^\|[\s|:-]+\|$", s):
                continue
            if computed is not None and 0 <= computed < len(cells):
                cells = cells[:computed] + cells[computed + 1:]
            out.append((i, "| " + " | ".join(cells) + " |"))
        elif re.match(r"^([-*+]|\d+\.)\s", s):
            flush()
            paragraph.append(s)
            start = i
        else:
            if not paragraph:
                start = i
            paragraph.append(s)
    flush()
    return out


def kinds_of(sentence):
    plain = NEGATED.sub(" does not hold ", sentence)
    kinds = {k for k, rx in KINDS.items() if k != "holds" and rx.search(plain)}
    # "hold" inside "do not hold" is the negative's
    plain = KINDS["does not hold"].sub(" ", plain)
    if KINDS["holds"].search(plain):
        kinds.add("holds")
    return kinds


def clause_at(sentence, i):
    """the clause (between ';', '|', ', and', ', but', ' — ') around index i"""
    cuts = list(PLAN_CLAUSE.finditer(sentence))
    start = max([m.end() for m in cuts if m.end() <= i] or [0])
    end = min([m.start() for m in cuts if m.start() >= i] or [len(sentence)])
    return sentence[start:end]


def counted(rows, plans, sentence, c):
    """the verdicts a sentence may give citation c (issue 92): for each row it
    names, its plan's verdict where its claim's plan has decided
    (results/looks.csv), the row's own where it is undecided (a look that
    decides nothing says nothing against the plan) or where the clause of
    each place the sentence cites c marks it "not counted under the plan";
    else the row's own verdict. Also (row, plan, clauses) for each row whose
    own verdict is decided, differs from its plan's and is not marked"""
    at = [m.start() for m in re.finditer(re.escape("`%s`" % c), sentence)]
    at += [m.start() for m in WORDS_CITED.get(c, ())]
    clauses = [clause_at(sentence, i) for i in at]
    marked = bool(clauses) and all(NOT_COUNTED.search(x) for x in clauses)
    # a look of a claim its plan has not decided: "post hoc" is its status too
    undecided_marked = bool(clauses) and all(NOT_COUNTED.search(x) or SAYS_POST_HOC.search(x) for x in clauses)
    vs, unplanned = set(), []
    for r in verdict_rows(rows, c):
        plan = plans.get((r["_sweep"], r["claim"])) if plans else None
        if r["_sweep"] in PILOTS and r["verdict"] in ("holds", "does not hold"):
            claim_plan = plan_of_claim(plans, r)
            vs.add(claim_plan[0] if claim_plan else "inconclusive")
            # the pilot's words are the claim's where its plan decided alike
            if clauses and all(PILOT_MARK.search(x) for x in clauses) or \
                    (claim_plan and claim_plan[1] and claim_plan[0] == r["verdict"]):
                vs.add(r["verdict"])
            else:
                unplanned.append((r, (claim_plan[0] if claim_plan else "undecided", PILOT), clauses))
            continue
        if plan is None or r["verdict"] == "described":
            vs.add(r["verdict"])
            continue
        vs.add(plan[0])
        if r["verdict"] != plan[0]:
            if marked or r["verdict"] in ("inconclusive", "described") or \
                    (not plan[1] and undecided_marked):
                vs.add(r["verdict"])
            else:
                unplanned.append((r, plan, clauses))
    return vs, unplanned


def plan_of_claim(plans, r):
    """the plan's (verdict, deciding look) of the claim row R is a look of:
    a look of the same original in results/looks.csv (a pilot is in none)"""
    base = cp.confirm_order(r["_sweep"])[0]
    for (sweep, claim), plan in sorted((plans or {}).items()):
        if claim == r["claim"] and cp.confirm_order(sweep)[0] == base:
            return plan
    return None


# a claim cited by its words (issue 103): its id's words, three or more, in
# order with blanks or hyphens between, outside backticks ("the batch mean
# weight grows with batch" is `batch-mean-weight-grows-with-batch`); set per
# sentence by check_unit: {id: [match, ...]}
WORDS_CITED = {}
_WORD_IDS = {}


def word_ids(rows):
    """{first word: [(id, its words' pattern)]} of the ids of three words or more"""
    key = id(rows)
    if key not in _WORD_IDS:
        out = {}
        for cid in rows:
            if "/" in cid or "[" in cid:
                continue
            words = [w for w in re.split(r"[-_.]", cid.lower()) if w]
            if len(words) >= 3 and all(re.match(r"^[a-z0-9]+$", w) for w in words):
                pattern = re.compile(r"\b" + r"[\s-]+".join(map(re.escape, words)) + r"\b", re.I)
                out.setdefault(words[0], []).append((cid, pattern))
        _WORD_IDS.clear()
        _WORD_IDS[key] = out
    return _WORD_IDS[key]


def cited_by_words(sentence, rows):
    """{id: [matches]} of the claims the sentence names by their words"""
    plain = CITE.sub(lambda m: " " * len(m.group(0)), sentence)
    present = set(re.findall(r"[a-z0-9]+", plain.lower()))
    out = {}
    for first in present:
        for cid, pattern in word_ids(rows).get(first, ()):
            found = list(pattern.finditer(plain))
            if found:
                out[cid] = found
    return out


# a weaker claim (claims_page.weaker_claims: the same quote, number, cells
# and metric as another, tested at a threshold the paper does not state) is
# never the paper's statement (issue 116): cited as holding, its clause says
# what it is, "a weaker post hoc claim" ("post hoc" where it was)
WEAKER_MARK = re.compile(r"\bweaker (?:post hoc )?claims?\b", re.I)
# (the rows it was computed from, kept so that their id is not reused, the claims)
_WEAKER = [None, None]


def weaker_of(rows):
    """claims_page.weaker_claims over the rows check_unit reads, once per rows"""
    if _WEAKER[0] is not rows:
        _WEAKER[:] = [rows, cp.weaker_claims((r["_sweep"], r) for key, rs in rows.items() if "/" not in key
                                             for r in rs)]
    return _WEAKER[1]


def weaker_cited(rows, sentence, cited, where, short):
    """a weaker claim said to hold without its status in each clause citing it"""
    problems = []
    weak = weaker_of(rows)
    for c in cited:
        found = sorted({(r["claim"],) + weak[r["claim"]] for r in verdict_rows(rows, c) if r["claim"] in weak})
        if not found:
            continue
        at = [m.start() for m in re.finditer(re.escape("`%s`" % c), sentence)]
        clauses = [clause_at(sentence, i) for i in at + [m.start() for m in WORDS_CITED.get(c, ())]]
        post_hoc = any(p for _, _, p in found)
        if clauses and all(WEAKER_MARK.search(x) and (not post_hoc or SAYS_POST_HOC.search(x)) for x in clauses):
            continue
        problems.append("%s: `%s` is a weaker %sclaim than `%s` (the same quote and cells, a threshold the paper "
                        "does not state): its hold is not the paper's statement; say \"a weaker %sclaim\" in its "
                        "clause: %s" % (where, c, "post hoc " if post_hoc else "", found[0][1],
                                        "post hoc " if post_hoc else "", short))
    return problems


# a paper's authors as the quotes of the verdict files name them ("De & Smith
# 2020", "Brock, De & Smith 2021", "Santurkar et al. 2018"): a name before a year
AUTHORS = re.compile(r"(?<![A-Za-z])([A-Z][a-z][\w'’-]*(?: et al\.?|(?:, [A-Z][a-z][\w'’-]*)*"
                     r"(?: (?:&|and) [A-Z][a-z][\w'’-]*)?)),? \(?(?:19|20)\d\d")
# what a paper says, the verbs of "as Wu & He report"
SAYS = (r"report|reports|reported|find|finds|found|show|shows|showed|shown|state|states|stated|say|says|said|"
        r"predict|predicts|predicted|describe|describes|described|observe|observes|observed|claim|claims|claimed")
# (the rows it was built from, the pattern)
_ABOUT_PAPER = [None, None]


def about_paper(rows):
    """the outcome said of a paper with no verdict word (issue 116): "as
    AUTHORS report" (or find, show, say...), "AUTHORS' finding", "points the
    paper's way", "consistent with (agrees with, in line with) the paper";
    AUTHORS the names of the committed quotes (verdicts.csv's paper column),
    or "the paper(s)" """
    if _ABOUT_PAPER[0] is not rows:
        names = {a.rstrip(".") for rs in rows.values() for r in rs for a in AUTHORS.findall(r.get("paper") or "")}
        paper = r"(?:the papers?|%s)" % "|".join(re.escape(n).replace(r"\ et\ al", r"\ et\ al\.?")
                                                  for n in sorted(names, key=len, reverse=True))
        _ABOUT_PAPER[:] = [rows, re.compile(
            r"\bas (?:in )?%s(?:'s?)?(?: \(?\d{4}\)?)? (?:also |too |do |does |did )?(?:%s)\b|"
            r"\b(?:points?|pointing|pointed|goes|go|went) (?:the )?(?:paper's|papers'|%s's) way\b|"
            r"\b(?:consistent|in line|agrees?|agreeing|in agreement) with %s\b|"
            r"\b%s(?:'s?) (?:finding|findings|result|results|observation)\b" % (paper, SAYS, paper, paper, paper),
            re.I)]
    return _ABOUT_PAPER[1]


def check_unit(path, line, sentence, rows, plans=None):
    WORDS_CITED.clear()
    WORDS_CITED.update(cited_by_words(sentence, rows))
    # an id's own words (`gn-swap-best-at-4`) are not the sentence's
    kinds = kinds_of(CITE.sub(" ", sentence))
    every = EVERY_SEED.search(sentence)
    k_of_n = K_OF_N.findall(sentence)
    plain_text = CITE.sub(" ", sentence)
    ranges = [int(x.replace(",", "")) for m in NEEDS_RANGE.finditer(plain_text) for x in m.groups()]
    needs = [int(x.replace(",", "")) for m in NEEDS.finditer(NEEDS_RANGE.sub(" ", plain_text))
             for x in [m.group(1)] + re.split(r", | and ", m.group(2))[1:]]
    needs_cells = ranges
    about = about_paper(rows).search(plain_text)
    if not kinds and not every and not k_of_n and not ((needs or needs_cells) and CITE.search(sentence)) and \
            not about:
        return []
    cited = [c for c in CITE.findall(sentence) if verdict_rows(rows, c)]
    cited += [c for c in sorted(WORDS_CITED) if c not in cited and not any(x.endswith("/" + c) for x in cited)]
    where = "%s:%d" % (path, line)
    short = sentence if len(sentence) < 160 else sentence[:157] + "..."
    if not cited:
        if about and not kinds:
            return ["%s: states an outcome of a paper (%r) and cites no claim: %s" % (where, about.group(0), short)]
        return ["%s: states an outcome and cites no claim: %s" % (where, short)]
    problems = []
    for c in cited:
        sweeps = ambiguous(rows, c)
        if sweeps:
            problems.append("%s: `%s` names claims of %s with different verdicts: cite `%s/%s`: %s" % (
                where, c, ", ".join(sweeps), sweeps[0], c, short))
    verdicts, said = {}, {}

    def off_plan(c, r, plan):
        if (r["_sweep"], r["verdict"]) in said[c]:
            return
        said[c].add((r["_sweep"], r["verdict"]))
        if plan[1] == PILOT:
            problems.append("%s: `%s` is %s under its plan; %s is a pilot (declared in a plan's pilots:) and its %s "
                            "is never the claim's verdict: cite it with \"a pilot, not counted under the plan\" "
                            "in its clause: %s" % (where, c, plan[0], r["_sweep"], r["verdict"], short))
            return
        problems.append("%s: `%s` is %s under its plan (results/looks.csv: %s decides it); %s's %s is a look the "
                        "plan does not count: say the plan's verdict, or mark the look \"not counted under the "
                        "plan\" in its clause: %s" % (where, c, plan[0], plan[1] or "no look", r["_sweep"],
                                                       r["verdict"], short))
    for c in cited:
        verdicts[c], unplanned = counted(rows, plans, sentence, c)
        said[c] = set()
        # a look's own verdict, stated in its clause, that the plan does not give
        for r, plan, clauses in unplanned:
            if any(r["verdict"] in kinds_of(CITE.sub(" ", x)) for x in clauses):
                off_plan(c, r, plan)
        # or stated elsewhere in the sentence (a table row's "yes")
        if kinds and not verdicts[c] & kinds:
            for r, plan, _ in unplanned:
                if r["verdict"] in kinds:
                    off_plan(c, r, plan)
    if "holds" in kinds:
        problems += weaker_cited(rows, sentence, cited, where, short)
    if kinds:
        for c, vs in verdicts.items():
            if not vs & kinds and not vs <= {"described"} and not said[c]:
                problems.append("%s: `%s` is %s, but the sentence says %s: %s" % (
                    where, c, "/".join(sorted(vs)), " and ".join(sorted(kinds)), short))
        for k in kinds:
            if not any(k in vs for vs in verdicts.values()):
                problems.append("%s: the sentence says %s, and no claim it cites is: %s" % (where, k, short))
    if every:
        if not any(r["agree"] and r["n"] and r["agree"] == r["n"]
                   for c in cited for r in verdict_rows(rows, c)):
            problems.append("%s: says every seed, and no claim it cites agrees in every seed: %s" % (where, short))
    # a claim's own row (its cells' where it has none); a range, its cells'
    def seeds_of(keys):
        return {r.get(k) for key in keys for r in rows[key] for k in ("seeds_needed", "seeds_power")}
    own = seeds_of([c if c in rows else key for c in cited for key in rows
                    if key == c or (c not in rows and key.startswith(c + "["))])
    cells = seeds_of([key for c in cited for key in rows if key.startswith(c + "[")])
    for m in [(m, own) for m in needs] + [(m, cells) for m in needs_cells]:
        m, needed = m
        if str(m) not in needed:
            problems.append("%s: says needs %d seeds, and no claim it cites needs that (stale?): %s" % (where, m, short))
    for k, n in k_of_n:
        if not any(r["agree"] == k and r["n"] == n for c in cited for r in verdict_rows(rows, c)):
            problems.append("%s: says %s of %s seeds, and no claim it cites counts that: %s" % (where, k, n, short))
    return problems


# words that say a claim was registered before its runs (issue 81): read
# against the program's registration of the claims they speak of
REGISTERED = re.compile(r"\bpre-registered\b|\b(?:committed|written|fixed)\b[^.;]{0,60}?\bbefore "
                        r"(?:the runs?\b|its runs\b|their runs\b|these runs\b|any (?:of its )?runs?\b|"
                        r"this sweep ran\b|it ran\b|the sweep\b)", re.I)
NOT_REGISTERED = re.compile(r"\b(?:not|never)\s+(?:\w+\s+){0,2}$", re.I)
# a sentence that names the exception itself ("committed before the runs, but
# seeds 1-2 repeat older runs, so the program reads them as post hoc")
SAYS_POST_HOC = re.compile(r"\bpost hoc\b", re.I)
SAYS_DISCARDED = re.compile(r"\bdiscarded\b|\bre-run\b", re.I)
LINK = re.compile(r"experiments/([a-z0-9_.-]+)\.yaml")


def paragraphs(text):
    """(first line, text) of each paragraph, a table row its own"""
    out, lines, start = [], [], 0
    for i, line in enumerate(text.split("\n") + [""], 1):
        s = line.strip()
        if not s or s.startswith("#") or s.startswith("|"):
            if lines:
                out.append((start, " ".join(lines)))
            lines = []
            if s.startswith("|"):
                out.append((i, s))
            continue
        if not lines:
            start = i
        lines.append(s)
    return out


CLAUSE = re.compile(r"[;|]|, and |, but | — ")


def registration_claims(rows, sentence, at, before):
    """the claims a sentence's registration words (at `at`) speak of: a
    claim cited in their clause (between ';', '|', ', and', ', but'), else
    those the sentence cites, else the headline claims of the experiment
    its paragraph links last before the words"""
    starts = [0] + [m.end() for m in CLAUSE.finditer(sentence)]
    ends = [m.start() for m in CLAUSE.finditer(sentence)] + [len(sentence)]
    s, e = next(((s, e) for s, e in zip(starts, ends) if s <= at <= e), (0, len(sentence)))
    # the claim the words qualify: the nearest cited after them in their
    # clause ("on 5 fresh pre-registered seeds `x-confirm/c` holds"), else
    # the nearest before ("`x-confirm/c` holds, pre-registered"), else the
    # next the sentence cites, else any it cites
    cites = [(m.start(), m.group(1)) for m in CITE.finditer(sentence) if verdict_rows(rows, m.group(1))]
    after = [c for i, c in cites if at <= i < e]
    ahead = [c for i, c in cites if s <= i < at]
    later = [c for i, c in cites if i >= at]
    chosen = after[:1] or ahead[-1:] or later[:1] or [c for _, c in cites]
    if chosen:
        return [(c, r) for c in chosen for r in verdict_rows(rows, c)]
    # a setup's sentence names its experiment first; else the paragraph's
    # last link before the words
    own = LINK.findall(sentence[:at])
    links = own[:1] or LINK.findall(before)
    if not links:
        return []
    sweep = links[-1]
    return [(sweep + "/" + r["claim"], r) for key, rs in rows.items() if key.startswith(sweep + "/")
            for r in rs if r.get("headline") == "true" and r.get("family") in ("headline", None)]


def check_registration(path, text, rows, discarded):
    """every sentence that says its claims were registered before their runs
    ("pre-registered", "committed before the runs", "fixed before the runs")
    against the program's registration column, and a confirmation re-run
    after a discarded first attempt said to be one"""
    problems = []
    for line, para in paragraphs(text):
        done = ""
        for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z§(*\[`])", para):
            before = done + " " + sentence
            done = before
            m = next((m for m in REGISTERED.finditer(sentence)
                      if not NOT_REGISTERED.search(sentence[:m.start()])), None)
            if not m:
                continue
            short = sentence if len(sentence) < 160 else sentence[:157] + "..."
            where = "%s:%d" % (path, line)
            claims = registration_claims(rows, sentence, m.start(), done[:len(done) - len(sentence) + m.start()])
            if not SAYS_POST_HOC.search(sentence):
                # an id several sweeps share may mean its pre-registered one
                pre = {c for c, r in claims if (r.get("registered") or "").startswith("pre-registered")}
                post = sorted({c for c, r in claims if c not in pre})
                if post:
                    problems.append("%s: says %r of %s, which the program registers as post hoc (verdicts.csv's "
                                    "registered column): %s" % (where, m.group(0), ", ".join(post), short))
            if m.group(0).lower() == "pre-registered" and not SAYS_DISCARDED.search(sentence):
                again = sorted({c for c, r in claims if r.get("_sweep") in discarded})
                if again:
                    problems.append("%s: says pre-registered of %s, a confirmation re-run after a discarded first "
                                    "attempt (tests/verdict_prose/discarded_runs.tsv), and not that: %s"
                                    % (where, ", ".join(again), short))
    return problems


def read_discarded(root):
    try:
        with open(os.path.join(root, "tests", "verdict_prose", "discarded_runs.tsv")) as f:
            return {line.split("\t", 1)[0] for line in f if line.strip() and not line.startswith(("#", "sweep\t"))}
    except OSError:
        return set()


def check(root):
    rows = read_verdicts(root)
    plans = read_plans(root)
    PILOTS.clear()
    PILOTS.update(cp.read_pilots(root))
    discarded = read_discarded(root)
    problems = []
    for page in PAGES:
        with open(os.path.join(root, page)) as f:
            text = strip(f.read())
        for line, sentence in units(text):
            problems += check_unit(page, line, sentence, rows, plans)
        problems += check_registration(page, text, rows, discarded)
    return problems


def self_test():
    """the checker on sentences whose findings are known: it can fail"""
    def row(sweep, claim, verdict, n="3", agree="3", needed=""):
        return {"_sweep": sweep, "claim": claim, "verdict": verdict, "n": n, "agree": agree,
                "seeds_needed": needed, "seeds_power": needed}
    rows = {}
    for r in (row("mlp", "gap", "holds"), row("cnn", "gap", "does not hold", agree="1"),
              row("mlp", "flat", "inconclusive", agree="2", needed="1643"),
              row("mlp", "flat[lr=1]", "inconclusive", agree="2", needed="12"),
              row("mlp", "count-best", "described")):
        rows.setdefault(r["claim"], []).append(r)
        rows.setdefault(r["_sweep"] + "/" + r["claim"], []).append(r)
    cases = [
        ("The gap is reproduced.", "cites no claim"),
        ("The gap holds (`mlp/gap`).", None),
        ("The gap holds (`cnn/gap`).", "is does not hold"),
        ("The gap holds (`gap`).", "different verdicts"),
        ("Flatness does not hold (`flat`).", "is inconclusive"),
        ("Flatness is undecided at 3 seeds (`flat`).", None),
        ("Flat in every seed (`flat`).", "every seed"),
        ("Flat in 2 of 3 seeds (`flat[lr=1]`), undecided at 3 seeds.", None),
        ("A count (`count-best`).", None),
        ("Undecided at 3 seeds (`flat[lr=[1, 2]]`).", "cites no claim"),
        ("`mlp/gap` holds; `cnn/gap` does not hold.", None),
        ("`cnn/gap` does not hold.", None),
        ("`mlp/gap` holds and so does the band.", None),
        ("| a | yes | `cnn/gap` |", "is does not hold"),
        ("The lock holds.", "cites no claim"),
        ("`flat` is undecided at 3 seeds (needs 1,643).", None),
        ("`flat` is undecided at 3 seeds (needs 18).", "needs 18 seeds"),
        ("`flat` and `flat[lr=1]` are undecided (need 1,643 and 12).", None),
        ("`flat` and `flat[lr=1]` are undecided (need 12, 40).", "needs 40 seeds"),
        ("`flat` is undecided (needs 12).", "needs 12 seeds"),
        ("`flat` is undecided: its cells need 12 to 12.", None),
    ]
    failures = 0
    # held to the plan (issue 92): `wu-confirm2/flat` holds, but the plan's
    # first pre-registered look (wu-confirm) left the claim undecided
    planned = {}
    for r in (row("wu", "flat", "inconclusive", agree="2"), row("wu-confirm", "flat", "inconclusive", agree="4"),
              row("wu-confirm2", "flat", "holds", n="98", agree="98"), row("wu", "gap", "holds"),
              row("wu", "pilot", "inconclusive", agree="2"), row("wu-confirm", "pilot", "holds")):
        planned.setdefault(r["claim"], []).append(r)
        planned.setdefault(r["_sweep"] + "/" + r["claim"], []).append(r)
    plans = {(sweep, "flat"): ("inconclusive", "wu-confirm") for sweep in ("wu", "wu-confirm", "wu-confirm2")}
    plans.update({(sweep, "pilot"): ("holds", "wu-confirm") for sweep in ("wu", "wu-confirm")})
    plan_cases = [
        ("Flat group norm is reproduced here, at the seeds it took (`wu-confirm2/flat`).", "under its plan"),
        ("`wu-confirm2/flat` holds.", "under its plan"),
        ("| GN flat | yes | `wu-confirm2/flat` |", "under its plan"),
        ("| undecided at 3 seeds (`wu/flat`), and on 98 seeds `wu-confirm2/flat` holds; `wu/gap` holds |",
         "under its plan"),
        ("`wu-confirm2/flat` holds; `wu/gap` holds, a later re-test, not counted under the plan.", "under its plan"),
        ("`wu-confirm2/flat` holds, a later re-test, not counted under the plan.", None),
        ("`wu/flat` is undecided under the plan; `wu-confirm2/flat` holds, a later re-test, not counted under the "
         "plan.", None),
        ("| undecided at 3 seeds (`wu/flat`), and on 98 seeds `wu-confirm2/flat` holds, a later re-test, not "
         "counted under the plan; `wu/gap` holds |", None),
        ("`wu-confirm/flat` is undecided, so the claim is undecided under the plan.", None),
        ("`wu/pilot` is undecided at 3 seeds, and `wu-confirm/pilot` holds.", None),
        ("`wu/gap` holds.", None),
    ]
    for sentence, want in plan_cases:
        got = check_unit("t.md", 1, sentence, planned, plans)
        ok = (not got) if want is None else any(want in g for g in got)
        if not ok:
            failures += 1
            print("self-test: %r gave %s, want %s" % (sentence, got or "nothing", want or "nothing"))
    # registration words against the registration column
    reg = {}
    for r in (dict(row("wn", "beats-bn", "holds"), headline="true", family="headline",
                   registered="post hoc (its runs of seeds 1-2 were first committed at 1234, before this claim)"),
              dict(row("wn", "beats-none", "holds"), headline="true", family="headline", registered="pre-registered"),
              dict(row("fig1-confirm", "higher", "holds"), headline="true", family="headline",
                   registered="pre-registered"),
              dict(row("wn-confirm", "beats-bn", "holds"), headline="true", family="headline",
                   registered="pre-registered")):
        reg.setdefault(r["claim"], []).append(r)
        reg.setdefault(r["_sweep"] + "/" + r["claim"], []).append(r)
    reg_cases = [
        ("*Setup* ([experiments/wn.yaml](x)): 6 seeds (its claims committed before the runs), 36 runs.", "post hoc"),
        ("*Setup* ([experiments/wn.yaml](x)): its claims were committed before the runs, but seeds 1-2 repeat "
         "older runs, so the program reads them as post hoc.", None),
        ("*Setup* ([experiments/wn-confirm.yaml](x)): its claims committed before the runs.", None),
        # the setup's own experiment, not one it links in passing
        ("*The CNN* ([experiments/wn.yaml](x)): the CNN of [wn-confirm](../experiments/wn-confirm.yaml), "
         "its claims committed before the runs.", "post hoc"),
        ("`wn/beats-bn` holds, pre-registered.", "post hoc"),
        ("`wn/beats-none` holds, pre-registered.", None),
        ("`wn/beats-bn` was fixed before the runs.", "post hoc"),
        ("The pilot's rule was not committed before it ran (`wn/beats-bn`).", None),
        ("`fig1-confirm/higher` holds, pre-registered.", "discarded first attempt"),
        ("`fig1-confirm/higher` holds, pre-registered, at the re-run after a discarded first attempt.", None),
    ]
    for sentence, want in reg_cases:
        got = check_registration("t.md", sentence, reg, {"fig1-confirm"})
        ok = (not got) if want is None else any(want in g for g in got)
        if not ok:
            failures += 1
            print("self-test: %r gave %s, want %s" % (sentence, got or "nothing", want or "nothing"))
    for sentence, want in cases:
        got = check_unit("t.md", 1, sentence, rows)
        ok = (not got) if want is None else any(want in g for g in got)
        if not ok:
            failures += 1
            print("self-test: %r gave %s, want %s" % (sentence, got or "nothing", want or "nothing"))
    failures += nine_forms(row)
    failures += paper_forms(row)
    return failures


def paper_forms(row):
    """issue 116's forms, each found: a weaker post hoc claim cited for the
    paper's statement (weaker by claims_page.weaker_claims, from the rows
    alone), and an outcome said of a paper with no claim cited; the same
    said with their status, or cited, pass"""
    quote = "De & Smith 2020: SkipInit trains (the paper's divergence rate 0)"
    rows = {}
    for sweep, claim, expect, registered, paper in (
            ("sp", "trains", "rate(a diverged) <= 0", "post hoc (runs first)", quote),
            ("sp-confirm3", "half", "rate(a diverged) <= 0.5", "post hoc (no claim 'half' at 1234)", quote),
            ("sp-confirm5", "half", "rate(a diverged) <= 0.5", "pre-registered", quote),
            ("sp", "fails", "rate(a diverged) >= 1", "pre-registered", "Wu & He 2018: fails at 2 (rate 1)"),
            ("sp", "often", "rate(a diverged) >= 0.5", "pre-registered", "Wu & He 2018: fails at 2 (rate 1)"),
            ("sp", "other", "rate(a diverged) <= 0.5", "post hoc (runs first)", "Li et al. 2019: another")):
        r = dict(row(sweep, claim, "holds" if "half" in claim or claim in ("often", "other") else "inconclusive"),
                 expect=expect, registered=registered, paper=paper, paper_value="0", a="norm=none")
        rows.setdefault(claim, []).append(r)
        rows.setdefault(sweep + "/" + claim, []).append(r)
    want_weak = {"half": ("trains", True), "often": ("fails", False)}
    got_weak = weaker_of(rows)
    failures = 0
    if got_weak != want_weak:
        failures += 1
        print("self-test: weaker claims %s, want %s" % (got_weak, want_weak))
    forms = [
        ("SkipInit trains: `sp-confirm5/half` holds, pre-registered.", "weaker post hoc claim"),
        ("`sp-confirm3/half` is reproduced here.", "weaker post hoc claim"),
        ("| SkipInit | yes | `sp-confirm5/half` |", "weaker post hoc claim"),
        ("`sp-confirm5/half` holds, a weaker claim.", "weaker post hoc claim"),        # not said post hoc
        ("`sp/often` holds.", "weaker claim than `fails`"),                            # ">=": 0.5 is weaker than 1
        ("SkipInit trains, as De & Smith report.", "outcome of a paper"),
        ("Batch norm fails at batch 2, as Wu & He (2018) found.", "outcome of a paper"),
        ("On the ResNet the numbers point the paper's way.", "outcome of a paper"),
        ("The norms are consistent with Li et al.'s account.", "outcome of a paper"),
        ("SkipInit trains, as De & Smith report (`sp-confirm5/half` holds).", "weaker post hoc claim"),
        ("`sp-confirm5/half` holds, a weaker post hoc claim.", None),
        ("`sp-confirm3/half` and `sp-confirm5/half` hold, weaker post hoc claims; `sp/trains` is undecided.", None),
        ("`sp/other` holds.", None),                                                   # no stronger sibling
        ("`sp/trains` is undecided.", None),
        ("De & Smith report that SkipInit trains.", None),                             # the paper's words, no outcome
        ("SkipInit diverges at lr 1, as De & Smith report (`sp/trains` undecided).", None),
    ]
    for sentence, want in forms:
        got = check_unit("planted", 1, sentence, rows, {})
        ok = (not got) if want is None else any(want in g for g in got)
        if not ok:
            failures += 1
            print("self-test: %r gave %s, want %s" % (sentence, got or "nothing", want or "nothing"))
    return failures


def nine_forms(row):
    """issue 103's nine planted sentences, each of which must be found: a
    verdict word (or a synonym) beside a claim cited by id or by its words,
    held to its plan, where a claim no pre-registered look has decided is
    undecided whatever its post hoc look says; and the same claims said
    right (or marked) pass"""
    rows = {}
    for r in (row("sw", "grows-with-batch", "does not hold"), row("sw", "level", "holds"),
              row("sw", "held", "inconclusive"), row("sw-confirm", "held", "holds")):
        rows.setdefault(r["claim"], []).append(r)
        rows.setdefault(r["_sweep"] + "/" + r["claim"], []).append(r)
    plans = {("sw", "grows-with-batch"): ("inconclusive", ""), ("sw", "level"): ("inconclusive", ""),
             ("sw", "held"): ("holds", "sw-confirm"), ("sw-confirm", "held"): ("holds", "sw-confirm")}
    forms = [
        "`sw/grows-with-batch` does not hold.",                 # undecided under its plan: the class
        "`sw/level` holds.",
        "`sw/level` replicates here.",                           # synonyms
        "`sw/level` is borne out.",
        "`sw/level` was reproduced on these seeds.",
        "`sw-confirm/held` fails to replicate.",                 # a negative synonym against a plan's hold
        "The claim that grows with batch does not hold here.",   # cited by its words, no id
        "| switchable | yes | `sw/level` |",                     # a summary row's cell
        "The batch weight's growth is borne out.",               # a synonym that cites no claim
    ]
    failures = 0
    for sentence in forms:
        if not check_unit("planted", 1, sentence, rows, plans):
            failures += 1
            print("self-test: the planted %r passes" % sentence)
    for sentence in ["`sw/grows-with-batch` (a post hoc look: undecided under its plan) does not hold.",
                     "`sw/level` is undecided under its plan.", "`sw-confirm/held` holds.",
                     "`sw/level` replicates here, a later re-test, not counted under the plan.",
                     "The claim that grows with batch is undecided: no look its plan counts."]:
        got = check_unit("planted", 1, sentence, rows, plans)
        if got:
            failures += 1
            print("self-test: %r gave %s, want nothing" % (sentence, got))
    return failures


def planted(rows, plans):
    """a "reproduced" ("not reproduced") planted beside every look of the
    committed results whose decided verdict its claim's plan does not give
    must be found, and the marker must clear it: the failures"""
    failures = 0
    word = {"holds": "reproduced", "does not hold": "not reproduced"}
    # a pilot's decided verdict said as the claim's (issue 116): found;
    # with the pilot's marker: cleared; with the plain marker: still found
    for key, rs in sorted(rows.items()):
        for r in rs:
            plan = plan_of_claim(plans, r)
            if "/" not in key or r["_sweep"] not in PILOTS or r["verdict"] not in word or \
                    (plan and plan[1] and plan[0] == r["verdict"]):
                continue
            sentence = "It is %s here, at the seeds it took (`%s`)." % (word[r["verdict"]], key)
            for said, want in ((sentence, True), (sentence[:-1] + ", not counted under the plan.", True),
                               (sentence[:-1] + ", a pilot, not counted under the plan.", False)):
                if any("is a pilot" in g for g in check_unit("planted", 1, said, rows, plans)) != want:
                    failures += 1
                    print("self-test: planted %r %s, but %s is a pilot" % (said, "passes" if want else "fails", key))
    # a weaker claim of the committed files said to reproduce the paper
    # (issue 116): found; with its status: cleared
    weak = weaker_of(rows)
    for key, rs in sorted(rows.items()):
        for r in rs:
            if "/" not in key or r["claim"] not in weak or r["verdict"] != "holds":
                continue
            said = "The paper's statement is reproduced here (`%s`)" % key
            status = ", a weaker %sclaim." % ("post hoc " if weak[r["claim"]][1] else "")
            for sentence, want in ((said + ".", True), (said + status, False)):
                if any("weaker" in g for g in check_unit("planted", 1, sentence, rows, plans)) != want:
                    failures += 1
                    print("self-test: planted %r %s, but %s is weaker than `%s`" % (
                        sentence, "passes" if want else "fails", key, weak[r["claim"]][0]))
    for (sweep, claim), (verdict, _) in sorted(plans.items()):
        for r in rows.get(sweep + "/" + claim, []):
            if r["_sweep"] != sweep or r["verdict"] not in word or r["verdict"] == verdict:
                continue
            sentence = "It is %s here, at the seeds it took (`%s/%s`)." % (word[r["verdict"]], sweep, claim)
            if not any("under its plan" in g for g in check_unit("planted", 1, sentence, rows, plans)):
                failures += 1
                print("self-test: planted %r passes, but %s/%s is %s under its plan" % (sentence, sweep, claim,
                                                                                       verdict))
            marked = sentence[:-1] + ", a later re-test, not counted under the plan."
            if any("under its plan" in g for g in check_unit("planted", 1, marked, rows, plans)):
                failures += 1
                print("self-test: the marker does not clear %r" % marked)
    return failures


def main():
    # the checker is checked first: a sentence of each kind, right and wrong
    if self_test():
        return 1
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    PILOTS.update(cp.read_pilots(root))
    if not PILOTS:
        print("self-test: no plan of experiments/ declares a pilot (pilots:), so the pilot plants test nothing")
        return 1
    if planted(read_verdicts(root), read_plans(root)):
        return 1
    problems = check(root)
    for p in problems:
        print(p)
    print("prose.py: %d finding%s" % (len(problems), "" if len(problems) == 1 else "s"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
