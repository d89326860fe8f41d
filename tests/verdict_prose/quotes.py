"""quotes.py - every quote of a paper in experiments/ is the paper's text
(issue 81, "Citations as the papers have them"). Imported by render.py,
whose --check (test_readme_verdicts) runs it.

A quote is text an experiment file (experiments/*.yaml and
experiments/claims/*.yaml, comments included) sets in single quotes
('...'), in escaped double quotes inside a YAML string (\\"...\\") or in
curly quotes (“...”), two words or more. Each must be inside one text of
tests/verdict_prose/paper_quotes.tsv, the verbatim sentences read from a
source named beside them (each part between " ... " ellipses on its own),
unless "(paraphrase)" follows its closing mark: then it is marked as not
the paper's words. Text that quotes the repository itself (an expect:,
a key) is not a paper's and carries no marker: it is left out by LOCAL.
"""
import glob
import os
import re

QUOTES_FILE = os.path.join("tests", "verdict_prose", "paper_quotes.tsv")
SINGLE = re.compile(r"(?<![A-Za-z0-9'])'([^'\n]+?)'(?![A-Za-z0-9])")
ESCAPED = re.compile(r'\\"([^"\\\n]+)\\"')
CURLY = re.compile(r"“([^”\n]+)”")
PARAPHRASE = re.compile(r"^\s*\(paraphrase\b")
ELLIPSIS = re.compile(r"\s*(?:\.\.\.|…)\s*")
# the repository's own text in quotes: an expectation ('a > b by 0.3'), a
# key or value, a file: not a paper's words
LOCAL = re.compile(r"^(?=.*[<>=~])[a-z0-9_.()+*/<>=~ ,-]+$|^[a-z0-9_.-]+$|^[a-z_.]+: [^ ]+$")


def norm(text):
    text = text.replace("’", "'").replace("‘", "'").replace("ﬁ", "fi")
    return " ".join(text.split())


def read_quotes(root):
    """the verbatim texts, normalized; None where the file is missing"""
    try:
        with open(os.path.join(root, QUOTES_FILE)) as f:
            lines = f.read().split("\n")
    except OSError:
        return None
    out = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        cells = line.split("\t")
        if len(cells) == 4 and cells[3].strip():
            out.append(norm(cells[3]))
    return out


def quotes_in(line):
    """(quote, marked as a paraphrase) of each quote on a line"""
    found = []
    for rx in (ESCAPED, CURLY, SINGLE):
        for m in rx.finditer(line):
            found.append((m.start(), m.group(1), bool(PARAPHRASE.match(line[m.end():]))))
        if rx is ESCAPED:
            # a \"...\" quote's inner single quotes are its own
            line = ESCAPED.sub(lambda m: " " * len(m.group(0)), line)
    return [(q, p) for _, q, p in sorted(found)]


def verbatim(quote, texts):
    parts = [norm(p).strip(" .,;:") for p in ELLIPSIS.split(quote)]
    return all(any(p in t for t in texts) for p in parts if p)


def check_text(path, text, texts):
    """findings for one experiment file's text"""
    problems = []
    for i, line in enumerate(text.split("\n"), 1):
        for quote, marked in quotes_in(line):
            q = norm(quote)
            if marked or len(q.split()) < 2 or LOCAL.search(q):
                continue
            if not verbatim(q, texts):
                problems.append(f"{path}:{i}: quotes '{q[:100]}', which is in no paper text of {QUOTES_FILE}: "
                                f"make it verbatim (and add the text with its source) or mark it "
                                f"'...' (paraphrase)")
    return problems


def check(root):
    texts = read_quotes(root)
    if texts is None:
        return [f"{QUOTES_FILE}: missing"]
    problems = []
    for path in sorted(glob.glob(os.path.join(root, "experiments", "*.yaml")) +
                       glob.glob(os.path.join(root, "experiments", "claims", "*.yaml"))):
        with open(path) as f:
            problems += check_text(os.path.relpath(path, root), f.read(), texts)
    return problems


def self_test():
    """quotes whose finding is known: the check can fail"""
    texts = [norm("By incorporating DyT, Transformers without normalization can match or exceed the performance "
                  "of their normalized counterparts. In contrast, the distributions are much more stable.")]
    cases = [
        ("paper: \"Zhu, abstract: 'Transformers with DyT can achieve similar or better performance'\"", 1),
        ("paper: \"Zhu, abstract: 'Transformers with DyT can achieve similar' (paraphrase)\"", 0),
        ("paper: \"Zhu: 'can match or exceed the performance'\"", 0),
        ("paper: \"Zhu: \\\"can match or exceed the performance\\\"\"", 0),
        ("paper: \"Zhu: \\\"can match or beat the performance\\\"\"", 1),
        ("# Zhu et al.'s 'match or exceed the performance' is 0", 0),
        ("# Zhu's “can match or exceed” and “can match and exceed”", 1),
        ("paper: \"'Transformers without normalization ... much more stable'\"", 0),
        ("paper: \"'Transformers without normalization ... much less stable'\"", 1),
        ("# expect was 'a > b by 0.3' at 7096cdb9d09f", 0),
        ("paper: \"FRN \\\"performs >1% better than GN\\\"\"", 1),
    ]
    failures = []
    for line, want in cases:
        got = len(check_text("t.yaml", line, texts))
        if got != want:
            failures.append(f"quotes.py self-test: {line!r} gave {got} findings, want {want}")
    return failures
