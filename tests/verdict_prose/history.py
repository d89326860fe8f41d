"""history.py - what the git history says of a claim beyond its
registration (issue 81, "Checks that can fail"), for the claims page:

  - a post hoc change: a claim's expect: (its threshold or direction)
    changed by a commit made after its sweep's first runs were committed:
    "changed after the runs in COMMIT: was 'X'", each change with its
    commit, found by comparing the claim at each commit of its experiment
    file after those runs (the runs' data exist from the first commit that
    held them: results/preregistration.md);
  - a confirmation re-run after a discarded first attempt: its experiment
    file changed after its first commit (its registration) and before the
    commit its runs record; discarded_runs.tsv says why (the attempt's runs
    were never committed, so no withdrawal lists them). A change there
    that discarded_runs.tsv does not name is shown too.

Every git here runs with the programs a cloned repository's .git/config can
name turned off (hooks, a signature program, external diffs and text
conversion, an fsmonitor, a pager); a checkout without history (a shallow
clone, a tarball) gives no findings and says nothing.
"""
import csv
import os
import re
import subprocess

SAFE = ["-c", "core.hooksPath=/dev/null", "-c", "gpg.program=false", "-c", "log.showSignature=false",
        "-c", "core.fsmonitor=false", "-c", "diff.external=", "-c", "core.pager=cat", "-c", "core.sshCommand=false",
        "-c", "protocol.allow=never"]
DISCARDED_FILE = os.path.join("tests", "verdict_prose", "discarded_runs.tsv")
ID_RE = re.compile(r"^  - (?:\{\s*)?id:\s*([^\s,#}]+)", re.M)
EXPECT_RE = re.compile(r"^\s+expect:\s*(.*?)\s*$", re.M)


def git_bytes(root, *args, stdin=None):
    """git's output as bytes (a blob as it is: a pack, runs.sqlite); None
    where it fails"""
    env = dict(os.environ, GIT_CONFIG_NOSYSTEM="1", GIT_TERMINAL_PROMPT="0", GIT_EXTERNAL_DIFF="",
               GIT_PAGER="cat")
    try:
        p = subprocess.run(["git", *SAFE, "-C", root, *args], input=stdin, capture_output=True, env=env,
                           timeout=120)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return p.stdout if p.returncode == 0 else None


def git(root, *args, stdin=None):
    out = git_bytes(root, *args, stdin=stdin)
    return out.decode("utf-8", "replace") if out is not None else None


# where a sweep's runs are committed: its run directories' summary.json, or
# the one file `normlab pack` puts them in (tests/packs.py), whichever came
# first (a sweep packed later keeps its runs' first commit)
RUN_FILES = ["results/*/runs/*/summary.json", "results/*/*/runs/*/summary.json",
             "results/*/runs.sqlite", "results/*/*/runs.sqlite"]
PACK_SUFFIX = "/runs.sqlite"


def sweep_of_run_file(path):
    """the sweep (NAME or GROUP/NAME under results/) of a path RUN_FILES
    names: results/NAME/runs/RUN/summary.json or results/NAME/runs.sqlite"""
    if "/runs/" in path:
        return path.split("/runs/", 1)[0][len("results/"):]
    return path[len("results/"):-len(PACK_SUFFIX)] if path.endswith(PACK_SUFFIX) else None


def claim_expects(text):
    """{id: expect} of an experiment file's claims (each claim's first
    expect: line; a claim without one is left out)"""
    out = {}
    if not text:
        return out
    starts = [(m.start(), m.group(1)) for m in ID_RE.finditer(text)]
    for i, (at, cid) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
        m = EXPECT_RE.search(text, at, end)
        if m:
            out[cid] = m.group(1).strip().strip("'\"")
    return out


class History:
    def __init__(self, root):
        self.root = root
        self.ok = git(root, "rev-parse", "--is-shallow-repository") == "false\n"
        self.first_runs = {}
        self._files = {}
        if not self.ok:
            return
        # the first commit that added each sweep's runs, as directories or
        # packed (one walk, oldest last)
        log = git(root, "log", "--diff-filter=A", "--format=@%H", "--name-only", "--", *RUN_FILES) or ""
        commit = None
        for line in log.split("\n"):
            if line.startswith("@"):
                commit = line[1:]
            elif line.strip() and commit:
                sweep = sweep_of_run_file(line)
                if sweep is not None:
                    self.first_runs[sweep] = commit  # later lines are older commits

    def file_versions(self, path):
        """[(commit, text)] of a tracked file, oldest first (text '' where
        the commit deletes it)"""
        if path in self._files:
            return self._files[path]
        out = []
        log = git(self.root, "log", "--reverse", "--format=%H", "--", path) or ""
        commits = log.split()
        if commits:
            batch = git(self.root, "cat-file", "--batch", stdin="".join(f"{c}:{path}\n" for c in commits).encode())
            out = list(zip(commits, split_batch(batch or "", len(commits))))
        self._files[path] = out
        return out

    def is_ancestor(self, a, b):
        env_ok = git(self.root, "merge-base", "--is-ancestor", a, b)
        return env_ok is not None

    def changes_after_runs(self, sweep, experiment):
        """{claim id: [(commit, was, now)]}: each change of a claim's expect:
        made by a commit after the sweep's first committed runs"""
        first = self.first_runs.get(sweep)
        if not self.ok or not first or not experiment:
            return {}
        versions = self.file_versions(experiment)
        out = {}
        before = None
        for commit, text in versions:
            now = claim_expects(text)
            if before is not None and commit != first and self.is_ancestor(first, commit):
                for cid, expect in now.items():
                    was = before.get(cid)
                    if was is not None and was != expect:
                        out.setdefault(cid, []).append((commit, was, expect))
            before = now
        return out

    def changed_before_runs(self, experiment, run_commits):
        """[commit]: commits that changed the experiment file after its first
        commit and up to the first of the commits its runs record (a change
        at that commit preceded the runs: they ran its tree)"""
        if not self.ok or not experiment or not run_commits:
            return []
        versions = self.file_versions(experiment)
        if len(versions) < 2:
            return []
        runs = run_commits[0]
        out = []
        for commit, _ in versions[1:]:
            if not (commit.startswith(runs) or self.is_ancestor(commit, runs)):
                continue
            out.append(commit)
        return out


def split_batch(text, n):
    """the blobs of a cat-file --batch answer, in order ('' where missing)"""
    out, at = [], 0
    data = text.encode("utf-8")
    for _ in range(n):
        nl = data.find(b"\n", at)
        if nl < 0:
            out.append("")
            continue
        head = data[at:nl].decode().split()
        if len(head) == 3:
            size = int(head[2])
            out.append(data[nl + 1:nl + 1 + size].decode("utf-8", "replace"))
            at = nl + 1 + size + 1
        else:
            out.append("")
            at = nl + 1
    return out


def read_discarded(root):
    """{sweep: (commit, what)} from discarded_runs.tsv"""
    out = {}
    try:
        with open(os.path.join(root, DISCARDED_FILE), newline="") as f:
            for r in csv.DictReader((line for line in f if not line.startswith("#")), delimiter="\t"):
                out[r["sweep"]] = (r["commit"], r["what"])
    except (OSError, KeyError):
        pass
    return out


def self_test():
    """a scratch repository whose history is known: a claim loosened after
    its runs, a confirmation fixed between its registration and its runs, a
    claim changed before any run (not a finding), and a .git/config that
    names a signature program (it must not run): the checks can fail"""
    import tempfile
    failures = []
    with tempfile.TemporaryDirectory() as root:
        spy = os.path.join(root, "..", os.path.basename(root) + "-gpg-ran")
        def run(*args):
            subprocess.run(["git", *SAFE, "-C", root, *args], check=True, capture_output=True,
                           env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1"))
        def commit(path, text, message):
            full = os.path.join(root, path)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "w") as f:
                f.write(text)
            run("add", path)
            run("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "-m", message)
            return git(root, "rev-parse", "HEAD").strip()
        claim = "claims:\n  - id: sooner\n    metric: m\n    expect: {}\n  - id: early\n    expect: {}\n"
        run("init", "-q")
        commit("experiments/x.yaml", claim.format("a > b by 0.3", "a > b by 2"), "claims")
        commit("experiments/x.yaml", claim.format("a > b by 0.3", "a > b by 1"), "before any run")
        commit("results/x/runs/r1/summary.json", "{}", "runs")
        loosened = commit("experiments/x.yaml", claim.format("a > b", "a > b by 1"), "loosened")
        commit("experiments/x-confirm.yaml", claim.format("a > b", "a > b by 1"), "registered")
        fixed = commit("experiments/x-confirm.yaml", "set: {x: 1}\n" + claim.format("a > b", "a > b by 1"), "fix")
        runs = commit("results/x-confirm/runs/r1/summary.json", "{}", "confirm runs")
        first_x = History(root).first_runs.get("x")
        # x packed later (runs.sqlite added, its run directories removed):
        # its runs' first commit stays; y committed packed: its pack's
        run("rm", "-q", "results/x/runs/r1/summary.json")
        commit("results/x/runs.sqlite", "a pack", "x packed")
        commit("experiments/y.yaml", claim.format("a > b by 0.3", "a > b by 1"), "y's claims")
        y_runs = commit("results/y/runs.sqlite", "a pack", "y's runs, packed")
        y_loosened = commit("experiments/y.yaml", claim.format("a > b", "a > b by 1"), "y loosened")
        with open(os.path.join(root, ".git", "config"), "a") as f:
            f.write(f"[log]\n\tshowSignature = true\n[gpg]\n\tprogram = sh -c 'touch {spy}'\n"
                    f"[core]\n\thooksPath = {root}/hooks\n")
        h = History(root)
        got = h.changes_after_runs("x", "experiments/x.yaml")
        if got != {"sooner": [(loosened, "a > b by 0.3", "a > b")]}:
            failures.append(f"history.py self-test: changes_after_runs gave {got}, want sooner's at {loosened}")
        got = h.changed_before_runs("experiments/x-confirm.yaml", [runs[:12]])
        if got != [fixed]:
            failures.append(f"history.py self-test: changed_before_runs gave {got}, want [{fixed}]")
        if h.changed_before_runs("experiments/x-confirm.yaml", [fixed[:12]]) != [fixed]:
            failures.append("history.py self-test: a change at the runs' own commit was missed")
        if not first_x or h.first_runs.get("x") != first_x or h.first_runs.get("y") != y_runs:
            failures.append(f"history.py self-test: first_runs {h.first_runs}: x's must stay {first_x} when packed "
                            f"later, y's (committed packed) {y_runs}")
        got = h.changes_after_runs("y", "experiments/y.yaml")
        if got != {"sooner": [(y_loosened, "a > b by 0.3", "a > b")]}:
            failures.append(f"history.py self-test: changes_after_runs of a sweep committed packed gave {got}")
        if os.path.exists(spy):
            os.remove(spy)
            failures.append("history.py self-test: the repository's gpg.program ran")
    return failures
