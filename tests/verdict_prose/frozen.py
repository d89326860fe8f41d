"""frozen.py - a claim with a look is frozen (issue 103; STATS.md, "State
the claim before the runs").

usage: frozen.py ROOT    list every claim changed after its first run
                         (after a self-test on a scratch repository)

A claim's fields (every line of its entry in an experiment or claims file,
comments aside, its quoted paper: text included) are fixed from its base's
first run: the earliest started_at (summary.json) of any run ever committed
to a sweep of the base (NAME, NAME-confirm, NAME-confirm2, ...), in its run
directories or packed (runs.sqlite, tests/packs.py), whatever the order of
the commits (issue 116: a claim reworded after its runs ran
and before the commit that added them is changed after its first run). The
version in force then is the file's last commit made at or before that time;
a claim added later is frozen in the commit that added it (post hoc by
definition, decided only by a confirmation registered for it). A changed
claim is a new claim: it takes a new id and the old one keeps its text, its
history and its verdict. A confirmation registered from FROM on that repeats
a claim of its original repeats it word for word.

The file-level keys that say what a sweep tests (FILE_KEYS: base, grid,
threshold_rule, plan; a confirmation's own base too) are frozen from the
first run of that file's own sweep; plan's pilots: list aside, since a
pilot is declared in its base's plan before the pilot runs. A claim with a
look (in force when its base's first run started, or added before a later
sweep of the base started) is never deleted or renamed: it is gone only
when RECORD (experiments/claim_changes.tsv) withdraws it, naming the commit
that removed it and why. A look is never declared a pilot after its runs:
each sweep a plan declares a pilot was declared one by a commit made before
its first run started. RECORD may also put one field's rewording on the
record (the commit that made it, which changed that field alone, and why);
a record line that excuses no change the history holds is itself a finding.

Claims were edited after their runs before the plans (FROM, the commit
that declared a plan for every headline claim, 897eaae90: its looks before
are post hoc, and the claims page lists each such change): the freeze
starts there, at the later of FROM and the first run.

The git calls are history.py's (a cloned repository's configured programs
turned off). A checkout without history (shallow, a tarball) says so and
checks nothing.
"""
import os
import datetime
import re
import sqlite3
import subprocess
import sys

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import claims_page as cp  # noqa: E402
import history  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import packs  # noqa: E402

FROM = "897eaae90b9d1403218f2723846dace05a07e008"
FILES = ["experiments/*.yaml", "experiments/claims/*.yaml"]
LOOK_FILES = ["results/*/runs/*/summary.json", "results/*/*/runs/*/summary.json", "results/*/verdicts.csv",
              "results/*/*/verdicts.csv", "results/*/runs.sqlite", "results/*/*/runs.sqlite"]
NAME_RE = re.compile(r"^name:\s*([^\s#]+)", re.M)
CLAIMS_RE = re.compile(r"^claims:[ \t]*(?:#.*)?\n", re.M)
TOP_KEY_RE = re.compile(r"^[A-Za-z_]")
START_RE = re.compile(r"^  - (?:\{\s*)?id:\s*([^\s,#}]+)")
STARTED_RE = re.compile(r'"started_at"\s*:\s*"([^"]+)"')
FILE_KEYS = ("base", "grid", "threshold_rule", "plan")
RECORD = "experiments/claim_changes.tsv"


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


def commit_times(root):
    """{commit: its committer time (epoch seconds)} of every commit of HEAD"""
    out = {}
    for line in (history.git(root, "log", "--format=%H %ct") or "").split("\n"):
        if line.strip():
            c, t = line.split()
            out[c] = int(t)
    return out


def epoch(stamp):
    """a summary.json started_at (2026-11-28T00:43:04Z) in epoch seconds, None if unreadable"""
    try:
        return int(datetime.datetime.fromisoformat(stamp.replace("Z", "+00:00")).timestamp())
    except ValueError:
        return None


def sweep_of(path):
    rel = path[len("results/"):]
    return rel.split("/runs/", 1)[0] if "/runs/" in rel else os.path.dirname(rel)


def raw_log(root, *args):
    """[(commit, blob or None where deleted, path)] of one git log --raw walk
    over ARGS (newest first): blob ids, so one cat-file reads them all"""
    log = history.git(root, "log", "--format=@%H", "--raw", "--no-abbrev", "--no-renames", *args) or ""
    out, commit = [], None
    for line in log.split("\n"):
        if line.startswith("@"):
            commit = line[1:]
        elif line.startswith(":") and commit and "\t" in line:
            meta, path = line.split("\t", 1)
            cols = meta.split()
            out.append((commit, None if cols[4].startswith("D") else cols[3], path))
    return out


def blobs(root, ids):
    """{blob id: its text}"""
    ids = sorted(set(i for i in ids if i))
    batch = history.git(root, "cat-file", "--batch", stdin="".join(i + "\n" for i in ids).encode())
    return dict(zip(ids, history.split_batch(batch or "", len(ids))))


def pack_summaries(root, ids):
    """{blob id of a runs.sqlite: [the text of each of its runs' summary.json]}
    (a pack that cannot be read: none)"""
    ids = sorted(set(i for i in ids if i))
    out = {}
    for i in ids:
        data = history.git_bytes(root, "cat-file", "blob", i)
        try:
            runs = packs.read_pack_blob_runs(data or b"", [packs.SUMMARY])
        except (packs.PackError, sqlite3.DatabaseError):
            runs = {}
        out[i] = [f[packs.SUMMARY].decode("utf-8", "replace") for _, f in sorted(runs.items())
                  if packs.SUMMARY in f]
    return out


def preload_versions(h, paths):
    """fill History's file_versions for every path of PATHS from one walk
    (oldest first, '' where a commit deletes the file) where it would take
    a walk per file"""
    entries = raw_log(h.root, "--", *FILES)
    text = blobs(h.root, [b for _, b, _ in entries])
    per = {p: [] for p in paths}
    for commit, blob, path in reversed(entries):
        if path in per:
            per[path].append((commit, text.get(blob, "") if blob else ""))
    h._files.update(per)


def run_starts(h, times):
    """{sweep: when its first run started}: the earliest started_at of any
    run ever committed to it, whichever commit added it (a run committed
    later than another may have started first; a sweep with a verdicts.csv
    and no runs: that commit's time); a pack (runs.sqlite) stands for the
    summary.json files of its runs, added by the commit that added it"""
    added = raw_log(h.root, "--diff-filter=A", "--", *LOOK_FILES)
    text = blobs(h.root, [b for _, b, p in added if p.endswith("summary.json")])
    packed = pack_summaries(h.root, [b for _, b, p in added if p.endswith(history.PACK_SUFFIX)])
    out = {}
    for c, blob, p in added:
        summaries = (packed.get(blob) or [""]) if p.endswith(history.PACK_SUFFIX) else [text.get(blob, "")]
        for summary in summaries:
            m = STARTED_RE.search(summary) if p.endswith(("summary.json", history.PACK_SUFFIX)) else None
            t = (m and epoch(m.group(1))) or times.get(c)
            if t is not None:
                sweep = sweep_of(p)
                out[sweep] = min(t, out.get(sweep, t))
    return out


def top_blocks(text):
    """{key: its lines, comments dropped} of the file-level keys that say
    what an experiment tests (FILE_KEYS); plan's pilots: list aside (a pilot
    is declared in its base's plan before its runs, after the base's own)"""
    out, key = {}, None
    for raw in (text or "").split("\n"):
        if TOP_KEY_RE.match(raw):
            key = raw.split(":", 1)[0].strip()
            key = key if key in FILE_KEYS else None
            if key:
                out[key] = []
        if key is None:
            continue
        line = strip_comment(raw)
        if line.strip():
            out[key].append(line)
    blocks = {k: "\n".join(v) for k, v in out.items()}
    if "plan" in blocks:
        blocks["plan"] = cp.PILOTS_RE.sub("", blocks["plan"])
    return blocks


def in_force(versions, times, t):
    """the index of the last version committed at or before T (-1: none)"""
    at = -1
    for i, (commit, _) in enumerate(versions):
        if times.get(commit, 0) <= t:
            at = i
    return at


def frozen_claims(versions, times, t):
    """({id: (commit, fields, when added)}, ids in force at T): each claim
    as it read in the version in force when the freeze started (time T,
    whatever the order of the commits that added the runs), or for a claim
    added later, in the commit that added it"""
    at = in_force(versions, times, t)
    out = {}
    if at >= 0:
        commit, text = versions[at]
        out = {cid: (commit[:9], f, t) for cid, f in claims_of(text).items()}
    there = set(out)
    for commit, text in versions[at + 1:]:
        for cid, f in claims_of(text).items():
            out.setdefault(cid, (commit[:9], f, times.get(commit, 0)))
    return out, there


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


def ever_files(root):
    """every experiment or claims file the history has held (deleted ones too)"""
    out = history.git(root, "log", "--format=", "--name-only", "--", *FILES) or ""
    return sorted(set(p.strip() for p in out.split("\n") if p.strip()) | set(tracked_files(root)))


def read_record(root):
    """{(experiment, id): [(commit, change, reason)]} of RECORD: a claim
    withdrawn (change 'withdrawn': it may be gone from the file) or one
    field's rewording on the record (change: the field's name), and the
    record's own problems (a line without a reason or a known change)"""
    out, problems = {}, []
    try:
        lines = open(os.path.join(root, RECORD)).read().split("\n")
    except OSError:
        return out, problems
    for n, line in enumerate(lines[1:], 2):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 5 or not cols[4].strip() or not re.fullmatch(r"[0-9a-f]{40}", cols[2]) \
                or not re.fullmatch(r"withdrawn|[a-z_]+", cols[3]):
            problems.append(f"{RECORD}:{n}: want experiment, claim, a full commit, 'withdrawn' or a field, and a reason")
            continue
        out.setdefault((cols[0], cols[1]), []).append((cols[2], cols[3], cols[4]))
    return out, problems


class Ctx:
    """what every file's check reads once: the history, commit times, when
    each sweep's first run started, the record, the working tree's files"""
    def __init__(self, root):
        self.h = history.History(root)
        self.times = commit_times(root)
        self.t_from = self.times.get(FROM, 0)
        self.starts = run_starts(self.h, self.times)
        preload_versions(self.h, ever_files(root))
        self.record, self.problems = read_record(root)
        self.used = set()
        self.current = {}
        for path in tracked_files(root):
            try:
                text = open(os.path.join(root, path)).read()
            except OSError:
                continue
            self.current[name_of(text, path)] = (path, claims_of(text), top_blocks(text), cp.pilots_of(text))

    def family_start(self, base):
        """when the first run of the base or any of its confirmations started"""
        ts = [t for sweep, t in self.starts.items() if cp.confirm_order(sweep)[0] == base]
        return min(ts) if ts else None

    def looked_after(self, base, t):
        """a sweep of BASE started at or after T (a look at a claim added then)"""
        return any(cp.confirm_order(s)[0] == base and st >= t for s, st in self.starts.items())


def recorded_change(ctx, name, cid, versions, was, now):
    """None when NOW is WAS changed only as RECORD says (each line one
    field's rewording by a named commit of this file, in the file's order),
    else why not"""
    recs = [(c, ch) for c, ch, _ in ctx.record.get((name, cid), []) if ch != "withdrawn"]
    if not recs:
        return "no change of it is on the record"
    order = {c: i for i, (c, _) in enumerate(versions)}
    current = was
    recs.sort(key=lambda r: order.get(r[0], -1))
    for commit, change in recs:
        ctx.used.add((name, cid, commit))
        if commit not in order:
            return f"{RECORD} names {commit[:9]}, which did not change this file"
        made = claims_of(versions[order[commit]][1]).get(cid)
        key = f"    {change}:"
        if made is None or len(made) != len(current) or any(
                a != b and not (a.startswith(key) and b.startswith(key)) for a, b in zip(current, made)):
            return f"{commit[:9]} changed more than the {change}: field {RECORD} names"
        current = made
    if current != now:
        return f"it reads otherwise than {RECORD}'s {recs[-1][0][:9]} left it"
    return None


def removed_by(versions, cid, commit):
    """COMMIT is the version of the file that dropped claim CID"""
    for (_, before), (c, after) in zip(versions, versions[1:]):
        if c == commit:
            return cid in claims_of(before) and cid not in claims_of(after)
    return False


def check_claims(ctx, path, name, versions, problems):
    """PATH's claims against their frozen text; a frozen claim with a look
    gone from the file (deleted, renamed) unless withdrawn on the record"""
    base = cp.confirm_order(name)[0]
    t0 = ctx.family_start(base)
    if t0 is None:
        return 0
    frozen, there = frozen_claims(versions, ctx.times, max(t0, ctx.t_from))
    now = ctx.current.get(name, (path, {}, {}, set()))[1]
    checked = 0
    for cid, (at, was, added) in sorted(frozen.items()):
        if cid in now:
            checked += 1
            if was != now[cid]:
                why = recorded_change(ctx, name, cid, versions, was, now[cid])
                if why:
                    problems.append(f"{path}: claim {cid} changed after its first run (frozen at {at}): "
                                    f"{field_diff(was, now[cid])} ({why}); a changed claim is a new claim: "
                                    "give it an id of its own")
            continue
        withdrawn = [c for c, ch, _ in ctx.record.get((name, cid), []) if ch == "withdrawn"]
        ctx.used.update((name, cid, c) for c in withdrawn)
        withdrawn = [c for c in withdrawn if removed_by(versions, cid, c)]
        if (cid in there or ctx.looked_after(base, added)) and not withdrawn:
            problems.append(f"{path}: claim {cid} of {name}, which has a look (frozen at {at}), is gone "
                            f"(deleted or renamed): a claim with a look is withdrawn on the record ({RECORD}), "
                            "never deleted")
        elif withdrawn:
            # its text as the withdrawal found it, held to the freeze as a present claim's
            last = last_text(versions, cid, withdrawn[-1])
            why = recorded_change(ctx, name, cid, versions, was, last) if last is not None and last != was else None
            if why:
                problems.append(f"{path}: claim {cid} changed after its first run (frozen at {at}) and before "
                                f"its withdrawal: {field_diff(was, last)} ({why})")
    return checked


def last_text(versions, cid, commit):
    """claim CID as the version before COMMIT (the one that dropped it) held it"""
    for (_, before), (c, _) in zip(versions, versions[1:]):
        if c == commit:
            return claims_of(before).get(cid)
    return None


def all_withdrawn(ctx, name, text):
    """TEXT's claims are all withdrawn on the record, and the file holds none
    now: no claim is left for its file-level keys to define"""
    ids = claims_of(text)
    return bool(ids) and not ctx.current[name][1] and all(
        any(ch == "withdrawn" for _, ch, _ in ctx.record.get((name, cid), [])) for cid in ids)


def check_keys(ctx, path, name, versions, problems):
    """the file-level keys that say what PATH's sweep tests (FILE_KEYS: a
    confirmation's base too), frozen from its own first run"""
    t0 = ctx.starts.get(name)
    if t0 is None or name not in ctx.current or ctx.current[name][0] != path:
        return
    at = in_force(versions, ctx.times, max(t0, ctx.t_from))
    if at < 0:
        return
    was, now = top_blocks(versions[at][1]), ctx.current[name][2]
    if all_withdrawn(ctx, name, versions[at][1]):
        return
    for key in FILE_KEYS:
        if was.get(key) != now.get(key):
            problems.append(f"{path}: its {key}: changed after its sweep's first run (frozen at "
                            f"{versions[at][0][:9]}): '{was.get(key)}' is now '{now.get(key)}'; what a sweep "
                            "tests is fixed once it ran: a new experiment of its own")


def check_pilots(ctx, problems):
    """a look is never declared a pilot after its runs: each sweep a plan
    of the working tree declares a pilot was declared one by a commit made
    before its first run started"""
    declared = {}
    for path in ever_files(ctx.h.root):
        for commit, text in ctx.h.file_versions(path):
            for sweep in cp.pilots_of(text):
                t = ctx.times.get(commit)
                if t is not None:
                    declared[sweep] = min(t, declared.get(sweep, t))
    for name, (path, _, _, pilots) in sorted(ctx.current.items()):
        for sweep in sorted(pilots):
            started = ctx.starts.get(sweep)
            if started is not None and max(started, ctx.t_from) < declared.get(sweep, float("inf")):
                problems.append(f"{path}: {sweep} is declared a pilot after its runs (its first run started "
                                "before any commit declared it): a look is declared a pilot before it runs, or "
                                "it counts as a look")


def check(root):
    """(problems, checked): each claim or file-level key that differs from
    its frozen version, each frozen claim gone without a withdrawal, each
    pilot declared after its runs, and how many claims were held to one"""
    h = history.History(root)
    if not h.ok:
        return None, 0
    if history.git(root, "cat-file", "-e", FROM + "^{commit}") is None:
        return [f"frozen.py: the commit the freeze starts at, {FROM[:9]}, is not in this history"], 0
    ctx = Ctx(root)
    problems, checked = list(ctx.problems), 0
    for path in ever_files(root):
        versions = [(c, t) for c, t in ctx.h.file_versions(path) if t]
        if not versions:
            continue
        name = name_of(versions[-1][1], path)
        checked += check_claims(ctx, path, name, versions, problems)
        check_keys(ctx, path, name, versions, problems)
    check_pilots(ctx, problems)
    for (name, cid), lines in sorted(ctx.record.items()):
        for commit, change, _ in lines:
            if (name, cid, commit) not in ctx.used:
                problems.append(f"{RECORD}: {name} {cid} {commit[:9]} {change} excuses nothing the history holds: "
                                "the record lists only changes made")
    problems += confirmation_copies(h, ctx.current)
    return problems, checked


def confirmation_copies(h, current):
    """a confirmation registered from FROM on repeats its original's claims
    of the same id word for word"""
    out = []
    for name, (path, claims, _, _) in sorted(current.items()):
        base, order = cp.confirm_order(name)
        if not order or base not in current:
            continue
        added = history.git(h.root, "log", "--diff-filter=A", "--format=%H", "--", path) or ""
        added = added.split()
        if not added or history.git(h.root, "merge-base", "--is-ancestor", FROM, added[-1]) is None:
            continue
        orig_path, orig = current[base][:2]
        for cid, fields in claims.items():
            if cid in orig and orig[cid] != fields:
                out.append(f"{path}: claim {cid} is not {orig_path}'s claim {cid} ({field_diff(orig[cid], fields)}); "
                           f"a confirmation tests its original's claims as written, a changed one under an id of its own")
    return out


T0 = 1800000000  # the scratch history's first commit (2027-01-15)
X_HEAD = ("name: {name}\nplan: {{kind: first-confirmation{pilots}}}\nthreshold_rule: {{fraction: 0.5}}\n"
          "base: ../c/{name}.yaml\ngrid:\n  k: [1, 2]\nclaims:\n")
ONE = "  - id: one\n    paper: \"P: one\"\n    metric: m\n    a: {{k: 1}}\n    expect: {}  # {}\n"
TWO = "  - id: two\n    paper: \"{}\"\n    metric: m\n    a: {{k: 2}}\n    expect: a > 1\n"
THREE = "  - id: three\n    metric: m\n    a: {k: 2}\n    expect: a > 2\n"
LOOSER = "  - id: one-looser\n    metric: m\n    a: {k: 1}\n    expect: a < 3\n"


Y_PLAIN = "name: y\nbase: ../c/y.yaml\ngrid:\n  k: [1, 2]\n"
Y_FILE = ("name: y\nplan: {{kind: first-confirmation}}\nthreshold_rule: {{fraction: 0.5}}\nbase: ../c/y.yaml\n"
          "grid:\n  k: [1, 2]\nclaims:\n  - id: only\n    paper: \"{}\"\n    metric: m\n    a: {{k: 1}}\n"
          "    expect: a < 1\n")


def X_RECORD(c):
    return [("x", "two", c[7], "paper"), ("x", "three", c[8], "withdrawn")]


def Y_RECORD(c):
    """y's lines, at the history's last four commits before the record's"""
    return [("y", "only", c[-2], "paper"), ("y", "only", c[-1], "withdrawn")]


def x_file(name="x", pilots="", one=("a < 1", "c"), two="P: two", three=True, looser=True):
    text = X_HEAD.format(name=name, pilots=f", pilots: [{pilots}]" if pilots else "") + ONE.format(*one)
    if name == "x":
        text += TWO.format(two) + (THREE if three else "") + (LOOSER if looser else "")
    return text


def summary(t):
    return '{"started_at": "%s"}' % datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def record(rows):
    return "experiment\tclaim\tcommit\tchange\treason\n" + "".join("\t".join(r) + "\treason\n" for r in rows)


def history_steps(window=False, packed=False):
    """the scratch history: (time, {path: text, None to delete, or a
    function of the commits so far}) per commit. The claims are written
    (the freeze's FROM), edited before any run, run (started at T0+200,
    committed at T0+300), given a comment and a new claim, confirmed (x-confirm)
    and piloted (x-confirm2, declared in x's plan before its runs); two's
    paper: is reworded on the record, three withdrawn on it. WINDOW: one's
    paper: reworded after the runs started, before their commit. PACKED:
    x's and the pilot's runs committed packed (runs.sqlite, schema 2 and 1),
    the confirmation's packed last (its pack added, its run directories
    removed)"""
    R = "results/{}/runs/r1/summary.json"
    P = "results/{}/runs.sqlite"

    def runs(name, t, schema=packs.SCHEMA):
        return {P.format(name): packs.pack_bytes({"r1": {packs.SUMMARY: summary(t)}}, schema)} if packed else \
            {R.format(name): summary(t)}
    steps = [(T0, {"experiments/x.yaml": x_file(one=("a < 2", "c"))}),
             (T0 + 100, {"experiments/x.yaml": x_file(looser=False)}),
             (T0 + 300, runs("x", T0 + 200)),
             (T0 + 400, {"experiments/x.yaml": x_file(one=("a < 1", "a comment, changed"))}),
             (T0 + 500, {"experiments/x-confirm.yaml": x_file("x-confirm")}),
             (T0 + 550, {"experiments/x.yaml": x_file(pilots="x-confirm2", one=("a < 1", "a comment, changed")),
                         "experiments/x-confirm2.yaml": x_file("x-confirm2")}),
             (T0 + 700, {R.format("x-confirm"): summary(T0 + 580), **runs("x-confirm2", T0 + 590, 1)}),
             (T0 + 800, {"experiments/x.yaml": x_file(pilots="x-confirm2", one=("a < 1", "a comment, changed"),
                                                      two="P: two, reworded")}),
             (T0 + 900, {"experiments/x.yaml": x_file(pilots="x-confirm2", one=("a < 1", "a comment, changed"),
                                                      two="P: two, reworded", three=False)}),
             (T0 + 1000, {RECORD: lambda c: record(X_RECORD(c))})]
    if packed:
        steps.append((T0 + 1100, {R.format("x-confirm"): None, **runs("x-confirm", T0 + 580)}))
    # y: its one claim run, reworded on the record, then withdrawn with the
    # file-level keys that defined it alone
    steps += [(T0 + 1200, {"experiments/y.yaml": Y_FILE.format("P: only")}),
              (T0 + 1300, runs("y", T0 + 1250)),
              (T0 + 1400, {"experiments/y.yaml": Y_FILE.format("P: only, reworded")}),
              (T0 + 1500, {"experiments/y.yaml": Y_PLAIN}),
              (T0 + 1600, {RECORD: lambda c: record(X_RECORD(c) + Y_RECORD(c))})]
    if window:
        steps.insert(2, (T0 + 250, {"experiments/x.yaml": x_file(looser=False)}))
        for _, files in steps[2:]:
            if "experiments/x.yaml" in files:
                files["experiments/x.yaml"] = files["experiments/x.yaml"].replace("P: one", "P: one, reworded")
    return steps


def build(root, steps):
    """the scratch repository of STEPS; its commits, oldest first"""
    def git(*args, t=None):
        env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1")
        if t is not None:
            env.update(GIT_AUTHOR_DATE=f"@{t} +0000", GIT_COMMITTER_DATE=f"@{t} +0000")
        subprocess.run(["git", *history.SAFE, "-C", root, *args], check=True, capture_output=True, env=env)
    git("init", "-q")
    commits = []
    for t, files in steps:
        for path, text in files.items():
            full = os.path.join(root, path)
            if text is None:
                os.remove(full)
                continue
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb" if isinstance(text, bytes) else "w") as f:
                f.write(text(commits) if callable(text) else text)
        git("add", "-A")
        git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", "step", t=t)
        commits.append(history.git(root, "rev-parse", "HEAD").strip())
    return commits


def plants(commits):
    """(what, what its finding says, path, the text put in the working
    tree) of each change the check must find"""
    x = "experiments/x.yaml"
    good = x_file(pilots="x-confirm2", one=("a < 1", "a comment, changed"), two="P: two, reworded", three=False)
    conf = x_file("x-confirm")
    rec = X_RECORD(commits) + Y_RECORD(commits[:-1])
    return [("an edited expect:", "claim one changed", x, good.replace("a < 1", "a < 2")),
            ("an edited cell", "claim two changed", x, good.replace("{k: 2}", "{k: 3}", 1)),
            ("a field added", "claim two changed", x,
             good.replace("expect: a > 1", "expect: a > 1\n    headline: true")),
            ("an edited paper:", "claim one changed", x, good.replace("P: one", "P: one, reworded")),
            ("a new claim edited after its first commit", "claim one-looser changed", x,
             good.replace("a < 3", "a < 4")),
            ("a confirmation's copy", "x-confirm.yaml: claim one changed", "experiments/x-confirm.yaml",
             conf.replace("a < 1", "a < 3")),
            ("an edited threshold_rule:", "its threshold_rule:", x, good.replace("fraction: 0.5", "fraction: 0.25")),
            ("an edited base:", "x.yaml: its base:", x, good.replace("base: ../c/x.yaml", "base: ../c/y.yaml")),
            ("an edited grid:", "its grid:", x, good.replace("k: [1, 2]", "k: [1, 2, 4]")),
            ("an edited plan:", "its plan:", x, good.replace("kind: first-confirmation", "kind: group-sequential")),
            ("a confirmation's base: edited", "x-confirm.yaml: its base:", "experiments/x-confirm.yaml",
             conf.replace("c/x-confirm", "c/y")),
            ("a claim with a look deleted", "claim two of x,", x, good.replace(TWO.format("P: two, reworded"), "")),
            ("a claim with a look renamed", "claim one of x,", x, good.replace("id: one\n", "id: one-renamed\n")),
            ("a confirmation's file deleted", "claim one of x-confirm,", "experiments/x-confirm.yaml", None),
            ("a look declared a pilot after its runs", "declared a pilot after", "experiments/x-confirm.yaml",
             conf.replace("first-confirmation", "first-confirmation, pilots: [x-confirm]")),
            ("a rewording on the record by a commit that made another", "reads otherwise than", RECORD,
             record([("x", "two", commits[3], "paper"), rec[1]])),
            ("a rewording recorded as another field's", "changed more than the expect", RECORD,
             record([("x", "two", commits[7], "expect"), rec[1]])),
            ("a withdrawal recorded at a commit that kept the claim", "claim three of x,", RECORD,
             record([rec[0], ("x", "three", commits[7], "withdrawn")])),
            ("a record line that excuses nothing", "excuses nothing", RECORD,
             record(rec + [("x", "one", commits[5], "withdrawn")])),
            ("file-level keys gone with a claim not withdrawn", "y.yaml: its threshold_rule:", RECORD,
             record(rec[:2] + rec[2:3])),
            ("a withdrawn claim reworded off the record", "claim only changed after its first run", RECORD,
             record(rec[:2] + rec[3:]))]


def self_test():
    """scratch repositories whose histories are known: the clean one passes
    (a claim changed before any run, a comment changed after, a new claim
    with an id of its own, a pilot declared before its runs, a rewording and
    a withdrawal on the record); each plant must be found: a claim or a
    file-level key changed after its first run, in the original and in a
    confirmation, a claim gone, a pilot declared after its runs, a record
    that does not say what the history did, and a paper: reworded after the
    runs started but before the commit that added them (no window). The
    same histories with runs committed packed (runs.sqlite) and a look's
    run directories packed later: the same answers"""
    import tempfile
    global FROM
    saved, failures = FROM, []
    try:
        for packed in (False, True):
            with tempfile.TemporaryDirectory() as root:
                said = " (runs committed packed)" if packed else ""
                commits = build(root, history_steps(packed=packed))
                FROM = commits[0]
                problems, checked = check(root)
                if problems or checked != 5:
                    failures.append(f"frozen.py self-test: the clean history{said} gave {problems}, {checked} "
                                    "claims checked (want none, 5)")
                for what, says, path, text in plants(commits):
                    full = os.path.join(root, path)
                    old = open(full).read()
                    if text is None:
                        os.remove(full)
                    else:
                        with open(full, "w") as f:
                            f.write(text)
                    if not any(says in p for p in check(root)[0]):
                        failures.append(f"frozen.py self-test: {what} after the first run{said} was not found "
                                        f"(no finding says '{says}')")
                    with open(full, "w") as f:
                        f.write(old)
        for packed in (False, True):
            with tempfile.TemporaryDirectory() as root:
                FROM = build(root, history_steps(window=True, packed=packed))[0]
                if not any("claim one changed" in p for p in check(root)[0] or []):
                    failures.append("frozen.py self-test: a paper: reworded after the runs started, before "
                                    "their commit%s, was not found" % (" (packed)" if packed else ""))
    finally:
        FROM = saved
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
    print(f"frozen.py: {checked} claims read as when their first run started, and the self-test's plants were found")
    return 0


if __name__ == "__main__":
    sys.exit(main())
