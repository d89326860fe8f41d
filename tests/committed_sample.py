#!/usr/bin/python3
"""committed_sample.py - the committed sweeps the default suite reads (issue 115).

    tests/committed_sample.py ROOT      prints the sample, a name a line

The default suite reads a fixed, seeded sample of the committed sweeps, so
that its time does not grow with results/; the same tests over every one
carry the label long (NAME_all). The rule, the one tests/testutil.h states
(TU_SAMPLE_*; test_committed_sweeps compares the two): the committed
sweeps (results/NAME holding a summary.csv, not named "/results/NAME/" in
.gitignore) ordered by the FNV-1a 64-bit hash of SEED + "/" + NAME (then the
name), and of them the first COUNT whose summary.csv lists at most MAX_RUNS
runs. Derived from the directory listing each time: nothing to go stale."""
import os
import sys

SEED = "issue-115"
COUNT = 8
MAX_RUNS = 400


def fnv1a64(data):
    h = 14695981039346656037
    for byte in data:
        h = ((h ^ byte) * 1099511628211) & 0xFFFFFFFFFFFFFFFF
    return h


def committed(root):
    """every committed sweep's name, sorted"""
    try:
        with open(os.path.join(root, ".gitignore"), "rb") as f:
            ignored = set(f.read().split(b"\n"))
    except FileNotFoundError:
        ignored = set()
    results = os.path.join(root, "results")
    return sorted(n for n in os.listdir(results)
                  if not n.startswith(".") and os.path.exists(os.path.join(results, n, "summary.csv"))
                  and f"/results/{n}/".encode() not in ignored)


def runs(root, name):
    with open(os.path.join(root, "results", name, "summary.csv"), "rb") as f:
        text = f.read()
    return text.count(b"\n") + (not text.endswith(b"\n")) - 1


def sample(root, count=COUNT):
    """the sample's names, in its order (the hash's)"""
    names = sorted(committed(root), key=lambda n: (fnv1a64(f"{SEED}/{n}".encode()), n.encode()))
    out = []
    for n in names:
        if len(out) == count:
            break
        if runs(root, n) <= MAX_RUNS:
            out.append(n)
    return out


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__.split("\n\n")[1])
    print("\n".join(sample(sys.argv[1])))
