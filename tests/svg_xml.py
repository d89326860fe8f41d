#!/usr/bin/env python3
"""Every SVG normlab writes is XML (issue 118).

usage: svg_xml.py NORMLAB OUT_DIR     (run from the repository root)

A tiny sweep (synthetic data, 12 steps) carries hostile text wherever the
config lets a user put text that reaches a figure. The config refuses
most of it (a sweep's, a run's or a formula's name, a trace target, and
any control byte in a string, are checked), so what remains is paths: the
grid sweeps init.from over two run directories named with & < > " ' and
a multibyte character, into a sweep directory named so too; compare is
given a run directory whose name holds control bytes (SOH, ESC), a byte
that is not UTF-8 and '<', and the legend names the directories. Then
`plot --format svg` (its default kinds and `final` over init.from),
`compare --format svg` and `report` (its inlined <svg> elements, cut out
of the HTML page) are parsed with xml.etree, and so is `plot --format
svg` of a copy of the committed results/wu-he-batch-mlp. Exit 77 (skipped)
without gnuplot.
"""
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

HOSTILE = "<&\"'é"  # é: a two-byte UTF-8 character

PRE = """data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}
model: {arch: mlp, widths: [8], norm: {type: none}}
train: {batch_size: 32, steps: 6, eval_every: 6, log_every: 3}
"""

EXPERIMENT = """name: hostile
base:
  data: {dataset: synthetic, shape: [8], classes: 3, train_size: 128, test_size: 32}
  model: {arch: mlp, widths: [8], norm: {type: none}}
  train: {batch_size: 32, steps: 12, eval_every: 6, log_every: 3, optimizer: {lr: 0.1}}
threads: 1
formulas:
  amp-1: {expr: "x / sqrt(var(x, [channels]) + eps)"}
grid:
  model.norm.type: [none, amp-1]
  init.from: ["pre<&\\"'é", "b&<>"]
  seed: [1]
plots:
  - {kind: curves}
  - {kind: final, x: init.from, color: model.norm.type}
"""


def run(normlab, *args, cwd):
    p = subprocess.run([normlab, *args], cwd=cwd, capture_output=True, timeout=120)
    if p.returncode != 0:
        sys.exit(f"FAIL: normlab {' '.join(map(os.fsdecode, args))}: exit {p.returncode}\n"
                 f"{p.stdout.decode(errors='replace')}{p.stderr.decode(errors='replace')}")


def parse_files(paths, failures):
    for path in paths:
        try:
            ET.parse(path)
        except ET.ParseError as e:
            failures.append(f"{os.fsdecode(path)}: {e}")


def inlined_problems(page, least, where):
    """the report page's figures, inlined as <svg> elements: how many, and
    the problems (fewer than least, one that is not XML; page: str or bytes)"""
    pattern = r"<svg\b.*?</svg>" if isinstance(page, str) else rb"<svg\b.*?</svg>"
    inlined = re.findall(pattern, page, re.S)
    problems = [] if len(inlined) >= least else [f"{where}: {len(inlined)} inlined <svg> elements, expected {least} or more"]
    for i, svg in enumerate(inlined):
        try:
            ET.fromstring(svg)
        except ET.ParseError as e:
            problems.append(f"{where}: inlined <svg> #{i + 1}: {e}")
    return len(inlined), problems


def svgs_under(directory):
    found = []
    for root, _, files in os.walk(directory):
        found += [os.path.join(root, f) for f in files if f.endswith(b".svg")]
    return sorted(found)


def main():
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    normlab = os.path.abspath(sys.argv[1])
    if not shutil.which("gnuplot"):
        print("SKIP: no gnuplot on PATH (normlab plot writes scripts only)")
        return 77
    out = os.fsencode(os.path.abspath(sys.argv[2]))
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    with open(os.path.join(out, b"pre.yaml"), "w") as f:
        f.write(PRE)
    with open(os.path.join(out, b"e.yaml"), "w") as f:
        f.write(EXPERIMENT)

    pre = os.fsencode("pre" + HOSTILE)
    run(normlab, "run", "pre.yaml", "--out", pre, "--quiet", "--threads", "1", cwd=out)
    shutil.copytree(os.path.join(out, pre), os.path.join(out, os.fsencode("b&<>")))
    raw = b"r\x01\x1b\xff<"  # control bytes, not UTF-8: only a path can hold them
    shutil.copytree(os.path.join(out, pre), os.path.join(out, raw))

    sweep = os.fsencode("sw" + HOSTILE)
    run(normlab, "sweep", "e.yaml", "--out", sweep, "-j", "2", cwd=out)
    run(normlab, "plot", sweep, "--format", "svg", cwd=out)
    run(normlab, "plot", sweep, "--format", "svg", "--kind", "final", "--x", "init.from",
        "--color", "model.norm.type", cwd=out)
    run(normlab, "compare", pre, raw, "--out", b"cmp", "--format", "svg", cwd=out)
    run(normlab, "compare", sweep, raw, "--out", b"cmp2", "--format", "svg", cwd=out)
    run(normlab, "report", sweep, raw, "--out", b"page.html", cwd=out)

    committed = os.path.join(out, b"wu-he-batch-mlp")
    shutil.copytree(b"results/wu-he-batch-mlp", committed)
    shutil.rmtree(os.path.join(committed, b"plots"), ignore_errors=True)
    run(normlab, "plot", committed, "--format", "svg", cwd=out)

    failures = []
    files = svgs_under(out)
    parse_files(files, failures)
    # each place must have given SVGs: the hostile text is in them
    for where, least in ((os.path.join(sweep, b"plots"), 2), (b"cmp", 1), (b"cmp2", 1),
                         (os.path.join(b"wu-he-batch-mlp", b"plots"), 1)):
        n = sum(1 for f in files if f.startswith(os.path.join(out, where) + b"/"))
        if n < least:
            failures.append(f"{os.fsdecode(where)}: {n} SVG files, expected {least} or more")
    text = b"".join(open(f, "rb").read() for f in files)
    for needle in (b"pre&lt;&amp;", b"from=b&amp;&lt;>", b"r?"):
        if needle not in text:
            failures.append(f"no SVG holds {needle!r}: the hostile text did not reach a figure")

    # the report's page is HTML with the figures inlined as <svg> elements:
    # each, cut out, must be XML too
    inlined, problems = inlined_problems(open(os.path.join(out, b"page.html"), "rb").read(), 2, "page.html")
    failures += problems

    if failures:
        print("FAIL: SVG that is not XML:\n  " + "\n  ".join(failures))
        return 1
    print(f"ok: {len(files)} SVG files and {inlined} inlined in the report parse as XML")
    return 0


if __name__ == "__main__":
    sys.exit(main())
