"""frozen.py - a claim with a look is frozen (issue 103; STATS.md, "State
the claim before the runs").

usage: frozen.py ROOT    list every claim changed after its first look
                         (after a self-test on a scratch repository)

A claim's fields (every line of its entry in an experiment or claims file,
comments aside) are fixed at its base's first look: the first commit that
added runs (runs/*/summary.json) or verdicts (verdicts.csv) to a sweep of
the base (NAME, NAME-confirm, NAME-confirm2, ...). From then on the claim
of that id, in the working tree, must read as it read at that commit (or,
for a claim added later, as it read in the commit that added it: post hoc
by definition, decided only by a confirmation registered for it). A
changed claim is a new claim: it takes a new id and the old one keeps its
text, its history and its verdict. A confirmation registered from FROM
on that repeats a claim of its original repeats it word for word: the same
id is the same claim.

Claims were edited after their runs before the plans (FROM, the commit
that declared a plan for every headline claim, 897eaae90: its looks before
are post hoc, and the claims page lists each such change): the freeze
starts there, at the later of FROM and the first look.

The git calls are history.py's (a cloned repository's configured programs
turned off). A checkout without history (shallow, a tarball) says so and
checks nothing.
"""
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import claims_page as cp  # noqa: E402
import history  # noqa: E402

FROM = "897eaae90b9d1403218f2723846dace05a07e008"
FILES = ["experiments/*.yaml", "experiments/claims/*.yaml"]
LOOK_FILES = ["results/*/runs/*/summary.json", "results/*/*/runs/*/summary.json", "results/*/verdicts.csv",
              "results/*/*/verdicts.csv"]
NAME_RE = re.compile(r"^name:\s*([^\s#]+)", re.M)
CLAIMS_RE = re.compile(r"^claims:[ \t]*(?:#.*)?\n", re.M)
TOP_KEY_RE = re.compile(r"^[A-Za-z_]")
START_RE = re.compile(r"^  - (?:\{\s*)?id:\s*([^\s,#}]+)")


def strip_comment(line):
    """the line without its comment (a # outside quotes, at the start or
    after a blank), trailing blanks dropped"""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1] in " \t"):
            return line[:i].rstrip()
        # a quote opened inside a word (it's) is an apostrophe, not a string
        if quote and i > 0 and line[i - 1].isalnum() and ch == "'":
            quote = None
    return line.rstrip()


def claims_of(text):
    """{id: (its field lines, comments dropped)} of a file's claims: section"""
    out = {}
    if not text:
        return out
    m = CLAIMS_RE.search(text)
    if not m:
        return out
    cid, lines = None, []
    for raw in text[m.end():].split("\n"):
        if TOP_KEY_RE.match(raw):
            break
        line = strip_comment(raw)
        if not line.strip():
            continue
        s = START_RE.match(line)
        if s:
            if cid is not None:
                out[cid] = tuple(lines)
            cid, lines = s.group(1), []
        if cid is not None:
            lines.append(line)
    if cid is not None:
        out[cid] = tuple(lines)
    return out


def name_of(text, path):
    m = NAME_RE.search(text or "")
    return m.group(1) if m else os.path.splitext(os.path.basename(path))[0]


def first_looks(h):
    """{base: the first commit that added a look's runs or verdicts} (git
    log lists the newest first: the last commit seen is the first)"""
    log = history.git(h.root, "log", "--diff-filter=A", "--format=@%H", "--name-only", "--", *LOOK_FILES) or ""
    out, commit = {}, None
    for line in log.split("\n"):
        if line.startswith("@"):
            commit = line[1:]
        elif line.strip() and commit:
            rel = line.strip()[len("results/"):]
            sweep = rel.split("/runs/", 1)[0] if "/runs/" in rel else os.path.dirname(rel)
            base = cp.confirm_order(sweep)[0]
            out[base] = commit
    return out


_DESCENDANTS = {}


def descends(h, start, commit):
    """COMMIT is START or comes after it (one rev-list per START)"""
    if start not in _DESCENDANTS:
        out = history.git(h.root, "rev-list", "--ancestry-path", f"{start}..HEAD") or ""
        _DESCENDANTS[start] = set(out.split()) | {start}
    return commit in _DESCENDANTS[start]


def frozen_claims(h, path, start):
    """{id: (commit, fields)}: each claim of PATH as it read when the freeze
    started (the version in force at START), or for a claim added later,
    in the commit that added it"""
    before, out = {}, None
    for commit, text in h.file_versions(path):
        if not descends(h, start, commit):
            before = claims_of(text)
            continue
        if out is None:
            out = {cid: (start[:9], f) for cid, f in before.items()}
        for cid, f in claims_of(text).items():
            out.setdefault(cid, (commit[:9], f))
    return out if out is not None else {cid: (start[:9], f) for cid, f in before.items()}


def field_diff(was, now):
    """the first line that differs, both ways"""
    for a, b in zip(was, now):
        if a != b:
            return f"'{a.strip()}' is now '{b.strip()}'"
    if len(was) > len(now):
        return f"'{was[len(now)].strip()}' is gone"
    return f"'{now[len(was)].strip()}' was added"


def tracked_files(root):
    out = history.git(root, "ls-files", "--", *FILES) or ""
    return sorted(p for p in out.split("\n") if p)


def check(root):
    """(problems, checked): each claim in the working tree that differs from
    its frozen version, and how many claims were held to one"""
    h = history.History(root)
    if not h.ok:
        return None, 0
    if history.git(root, "cat-file", "-e", FROM + "^{commit}") is None:
        return [f"frozen.py: the commit the freeze starts at, {FROM[:9]}, is not in this history"], 0
    looks = first_looks(h)
    problems, checked, current = [], 0, {}
    for path in tracked_files(root):
        try:
            text = open(os.path.join(root, path)).read()
        except OSError:
            continue
        name = name_of(text, path)
        current[name] = (path, claims_of(text))
    for name, (path, now) in sorted(current.items()):
        base = cp.confirm_order(name)[0]
        first = looks.get(base)
        if first is None:
            continue
        start = first if descends(h, FROM, first) else FROM
        frozen = frozen_claims(h, path, start)
        for cid, fields in now.items():
            if cid not in frozen:
                continue
            checked += 1
            at, was = frozen[cid]
            if was != fields:
                problems.append(f"{path}: claim {cid} changed after its first look (frozen at {at}): "
                                f"{field_diff(was, fields)}; a changed claim is a new claim: give it an id of its own")
    problems += confirmation_copies(h, current)
    return problems, checked


def confirmation_copies(h, current):
    """a confirmation registered from FROM on repeats its original's claims
    of the same id word for word"""
    out = []
    for name, (path, claims) in sorted(current.items()):
        base, order = cp.confirm_order(name)
        if not order or base not in current:
            continue
        added = history.git(h.root, "log", "--diff-filter=A", "--format=%H", "--", path) or ""
        added = added.split()
        if not added or not descends(h, FROM, added[-1]):
            continue
        orig_path, orig = current[base]
        for cid, fields in claims.items():
            if cid in orig and orig[cid] != fields:
                out.append(f"{path}: claim {cid} is not {orig_path}'s claim {cid} ({field_diff(orig[cid], fields)}); "
                           f"a confirmation tests its original's claims as written, a changed one under an id of its own")
    return out


def self_test():
    """a scratch repository whose history is known: a claim changed after
    its first look must be found, in the original and in a confirmation's
    copy; a claim changed before any run, a comment changed after, and a
    new claim with an id of its own are not findings"""
    import tempfile
    failures = []
    global FROM
    saved = FROM
    with tempfile.TemporaryDirectory() as root:
        def run(*args):
            subprocess.run(["git", *history.SAFE, "-C", root, *args], check=True, capture_output=True,
                           env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1"))

        def write(path, text):
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)

        def commit(path, text, message):
            write(path, text)
            run("add", path)
            run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)
            return history.git(root, "rev-parse", "HEAD").strip()

        head = "name: {}\nclaims:\n"
        one = "  - id: one\n    metric: m\n    a: {{k: 1}}\n    expect: {}  # {}\n"
        two = "  - id: two\n    metric: m\n    a: {k: 2}\n    expect: a > 1\n"
        run("init", "-q")
        FROM = commit("experiments/x.yaml", head.format("x") + one.format("a < 2", "c") + two, "claims")
        commit("experiments/x.yaml", head.format("x") + one.format("a < 1", "c") + two, "before any run")
        commit("results/x/runs/r1/summary.json", "{}", "runs")
        good = head.format("x") + one.format("a < 1", "a comment, changed") + two \
            + "  - id: one-looser\n    metric: m\n    a: {k: 1}\n    expect: a < 3\n"
        commit("experiments/x.yaml", good, "a comment and a new claim")
        commit("experiments/x-confirm.yaml", head.format("x-confirm") + one.format("a < 1", "c"), "registered")
        _DESCENDANTS.clear()
        problems, checked = check(root)
        if problems or checked != 4:
            failures.append(f"frozen.py self-test: the clean history gave {problems}, {checked} claims checked "
                            "(want none, 4)")
        for what, path, text in [
                ("an edited expect:", "experiments/x.yaml", good.replace("a < 1", "a < 2")),
                ("an edited cell", "experiments/x.yaml", good.replace("{k: 2}", "{k: 3}")),
                ("a field added", "experiments/x.yaml", good.replace("expect: a > 1", "expect: a > 1\n    headline: true")),
                ("a confirmation's copy", "experiments/x-confirm.yaml",
                 head.format("x-confirm") + one.format("a < 3", "c")),
                ("a new claim edited after its first commit", "experiments/x.yaml", good.replace("a < 3", "a < 4"))]:
            old = open(os.path.join(root, path)).read()
            write(path, text)
            problems, _ = check(root)
            if not problems:
                failures.append(f"frozen.py self-test: {what} after the first look was not found")
            write(path, old)
    FROM = saved
    _DESCENDANTS.clear()
    return failures


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    failures = self_test()
    problems, checked = check(root)
    if problems is None:
        print("frozen.py: no git history here (shallow or none): nothing checked")
        return 1 if failures else 0
    for p in failures + problems:
        print(p)
    if failures or problems:
        print(f"frozen.py: {len(failures) + len(problems)} problem(s)")
        return 1
    print(f"frozen.py: {checked} claims read as at their first look, and the self-test's plants were found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
