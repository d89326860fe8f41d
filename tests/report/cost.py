#!/usr/bin/python3
"""normlab report A B against the pages of A and B one by one (issue 118:
two 4,000-run sweeps' page took 5.3 times the CPU of their pages one by
one, from compare's comparison of every run's value with every run
before it, and was 1.76 times their bytes, its explorer over both
embedding every run a third time). On committed sweeps: the page of both
written with at most TIME_FACTOR times the CPU seconds (user and system,
normlab's and gnuplot's: the resource usage of the children) of the two
pages one by one, and at most SIZE_FACTOR times their bytes. The page of
both draws one more figure (the directories compared, through compare's
merge of every run), so its CPU bound is a factor; its explorer over
both is made in the page from the two sections' data, so its bytes are
the two's and the figure's less one copy of the script. The numbers are
printed for results/report.md.

    tests/report/cost.py NORMLAB OUT_DIR [--big]

Default: two small sweeps (about 1 s); --big: lr-tolerance-confirm2 and
bn-recalibration-confirm3, the two packed 4,000-run sweeps (about 25 s
of CPU). Run from the repository root. Exit 0 passed, 1 failed."""
import os
import resource
import shutil
import subprocess
import sys

SMALL = ("results/ba-ln-lstm", "results/ioffe-fig1")
BIG = ("results/lr-tolerance-confirm2", "results/bn-recalibration-confirm3")
# 71.3 s of CPU against 14.4 s one by one before compare's classes; 13.1
# s against 8.7 s (1.5 times) after, on the big pair
TIME_FACTOR = 2.0
SLACK_S = 0.5  # a process's start and gnuplot's, on pages of a tenth of a second
# 1.76 and 1.12 times before the explorer over both was made in the page;
# 1.002 and 0.95 after
SIZE_FACTOR = 1.05


def children_cpu():
    u = resource.getrusage(resource.RUSAGE_CHILDREN)
    return u.ru_utime + u.ru_stime


def report(normlab, dirs, out):
    """the CPU seconds and bytes of one page of dirs"""
    before = children_cpu()
    p = subprocess.run([normlab, "report", *dirs, "--out", out, "--force"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    cpu = children_cpu() - before
    if p.returncode != 0:
        print("FAIL: normlab report %s: exit %d\n%s" % (" ".join(dirs), p.returncode, p.stdout))
        sys.exit(1)
    return cpu, os.path.getsize(out)


def main():
    if len(sys.argv) not in (3, 4) or (len(sys.argv) == 4 and sys.argv[3] != "--big"):
        print(__doc__)
        return 2
    normlab, out = os.path.abspath(sys.argv[1]), sys.argv[2]
    pair = BIG if len(sys.argv) == 4 else SMALL
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    a = report(normlab, pair[:1], os.path.join(out, "a.html"))
    b = report(normlab, pair[1:], os.path.join(out, "b.html"))
    both = report(normlab, pair, os.path.join(out, "both.html"))
    print("%s: %.2f s CPU, %d bytes" % (pair[0], *a))
    print("%s: %.2f s CPU, %d bytes" % (pair[1], *b))
    print("both: %.2f s CPU (%.2f times the two), %d bytes (%.2f times)"
          % (both[0], both[0] / (a[0] + b[0]), both[1], both[1] / (a[1] + b[1])))
    failed = False
    if both[0] > TIME_FACTOR * (a[0] + b[0]) + SLACK_S:
        print("FAIL: the page of both took %.2f s of CPU, over %.1f times the two one by one (%.2f s) + %.1f s"
              % (both[0], TIME_FACTOR, a[0] + b[0], SLACK_S))
        failed = True
    if both[1] > SIZE_FACTOR * (a[1] + b[1]):
        print("FAIL: the page of both is %d bytes, over %.2f times the two (%d)"
              % (both[1], SIZE_FACTOR, a[1] + b[1]))
        failed = True
    if not failed:
        shutil.rmtree(out, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
