"""rounds.py - the schedule's rounds (issue 116), read by schedule.py.

A budget bounds a round, not a print: experiments/schedule/rounds.tsv
records each round, one event a line (ROUND<tab>EVENT<tab>REF<tab>WHAT):

  start   REF: the commit after which the round's looks are registered
  look    REF: a look registered in the round (an experiment's name)
  change  REF: a commit in the round that changed the rule or code its print
          depends on (RULE_CODE), by hash, or "this": the commit that adds
          the line
  end     REF: the round's last commit, by hash or "this"

The print (schedule.py) spends the rule's budget_cpu_hours once per round:
what the round's looks cost, summed from their runs' summary.json (wall_s
x threads x ranks; a look not yet run at its price), is taken from it, and
only what is left schedules new looks. A round is over when it registered
a look, every look of it has run, and nothing more fits in what is left:
the print says so, and --check wants its end recorded; the next round
starts from it with the whole budget. --check holds the record to the
history: each round's looks are exactly the registrations committed in it,
and each commit in it that changes RULE_CODE is listed as a change (a
change takes effect for the looks registered after it: each registration
is compared with the print at its parent commit).
"""
import os
import subprocess

ROUNDS_FILE = os.path.join("experiments", "schedule", "rounds.tsv")
# the rule and the code its print depends on: the rule, the schedule and
# its rounds, prices (schedule.py), power (the verdict's seeds)
RULE_CODE = ["experiments/schedule/rule.yaml", "tests/verdict_prose/schedule.py", "tests/verdict_prose/rounds.py",
             "core/verdict/decide.c", "core/stats/stats.c"]
EVENTS = ("start", "look", "change", "end")


class RoundsError(Exception):
    pass


def read_rounds(root):
    """[{"round", "start", "looks", "changes": [(ref, line)], "end": (ref,
    line) or None}] of ROUNDS_FILE in order; None where there is no file
    (a commit before rounds were recorded). Refuses a round out of order, a
    round not opened by its start, an event after its end, an unknown
    event, and an earlier round left open"""
    try:
        with open(os.path.join(root, ROUNDS_FILE)) as f:
            lines = f.read().split("\n")
    except FileNotFoundError:
        return None
    out = []
    for number, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        cols = line.split("\t")
        if len(cols) != 4 or not cols[0].isdigit() or cols[1] not in EVENTS or not cols[2].strip():
            raise RoundsError(f"{ROUNDS_FILE}:{number}: not ROUND<tab>{'|'.join(EVENTS)}<tab>REF<tab>WHAT")
        n, event, ref = int(cols[0]), cols[1], cols[2].strip()
        if event == "start":
            if n != len(out) + 1 or (out and out[-1]["end"] is None):
                raise RoundsError(f"{ROUNDS_FILE}:{number}: round {n} starts, but the last round is "
                                  f"{out[-1]['round'] if out else 'none'}" + (" and it has not ended"
                                                                             if out and out[-1]["end"] is None else ""))
            out.append({"round": n, "start": ref, "looks": [], "changes": [], "end": None, "line": number})
            continue
        if not out or out[-1]["round"] != n or out[-1]["end"] is not None:
            raise RoundsError(f"{ROUNDS_FILE}:{number}: a {event} of round {n}, which is not the open round")
        if event == "look":
            out[-1]["looks"].append(ref)
        elif event == "change":
            out[-1]["changes"].append((ref, number))
        else:
            out[-1]["end"] = (ref, number)
    if not out:
        raise RoundsError(f"{ROUNDS_FILE}: no round")
    if out[-1]["end"] is not None:
        raise RoundsError(f"{ROUNDS_FILE}: round {out[-1]['round']} has ended and round {out[-1]['round'] + 1} "
                          "has not started")
    return out


def spent(current, sweep):
    """(CPU seconds of the current round's looks that have runs, the names
    of those that have none yet)"""
    total, unrun = 0.0, []
    for look in current["looks"]:
        cpu = sweep(look).cpu
        if cpu:
            total += sum(cpu.values())
        else:
            unrun.append(look)
    return total, unrun


# ---- --check: the record against the history ----

def git(root, *args):
    p = subprocess.run(["git", "-C", root, *args], capture_output=True,
                       env=dict(os.environ, GIT_CONFIG_NOSYSTEM="1"))
    return p.stdout.decode("utf-8", "replace") if p.returncode == 0 else None


def line_commits(root):
    """{line number: the commit that wrote it} of ROUNDS_FILE at HEAD"""
    text = git(root, "blame", "--porcelain", "HEAD", "--", ROUNDS_FILE) or ""
    out = {}
    for line in text.split("\n"):
        parts = line.split(" ")
        if len(parts) >= 3 and len(parts[0]) == 40 and parts[2].isdigit():
            out[int(parts[2])] = parts[0]
    return out


def resolve(root, ref, number, by_line):
    """a REF's commit: "this" is the commit that wrote its line"""
    if ref == "this":
        return by_line.get(number)
    full = git(root, "rev-parse", "--verify", "--quiet", ref + "^{commit}")
    return full.strip() if full else None


def history_failures(root, registered, over):
    """REGISTERED: {path: the commit that added it} (schedule.py's
    registered_files); OVER: the print at HEAD says the open round is
    over. The failures: a round's looks not the registrations committed in
    it, a RULE_CODE commit in a round not listed as its change, a
    reference that names no commit, an open round over by the rule without
    its end recorded"""
    try:
        rounds = read_rounds(root)
    except RoundsError as e:
        return [str(e)]
    if rounds is None:
        return []
    by_line = line_commits(root)
    failures = []
    for r in rounds:
        start = resolve(root, r["start"], r["line"], by_line)
        end = resolve(root, *r["end"], by_line) if r["end"] else "HEAD"
        if start is None or end is None:
            failures.append(f"{ROUNDS_FILE}: round {r['round']}: {r['start'] if start is None else r['end'][0]} "
                            "names no commit")
            continue
        inside = set((git(root, "rev-list", f"{start}..{end}") or "").split())
        looks = {os.path.basename(p)[:-5] for p, c in registered.items() if c in inside}
        if looks != set(r["looks"]):
            failures.append(f"{ROUNDS_FILE}: round {r['round']} lists looks {', '.join(sorted(r['looks'])) or 'none'}; "
                            f"the registrations committed in it are {', '.join(sorted(looks)) or 'none'}")
        listed = {resolve(root, ref, number, by_line) for ref, number in r["changes"]}
        changed = (git(root, "rev-list", "--no-merges", f"{start}..{end}", "--", *RULE_CODE) or "").split()
        unlisted = [c[:9] for c in changed if c not in listed]
        if unlisted:
            failures.append(f"{ROUNDS_FILE}: round {r['round']}: {', '.join(unlisted)} changed the rule or the code "
                            f"its print depends on ({', '.join(RULE_CODE)}) and is not listed as a change")
    if over:
        failures.append(f"{ROUNDS_FILE}: round {rounds[-1]['round']} is over by the rule (its looks have run and "
                        "nothing more fits its budget): record its end and start the next")
    return failures
