#!/usr/bin/python3
"""measure.py's checks fail on what they are for (test_house_planted): in a
copy of core/ and cmd/, measure.py --check passes as on the checkout, then
fails naming each planted breach and nothing planted beside it that keeps
within the rule.

    tests/house/planted.py

- A file of 901 lines fails; one of 900 does not, and no line of the
  allowed list excuses a long file."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
MEASURE = os.path.join(HERE, "measure.py")
ALLOWED = os.path.join(HERE, "allowed.txt")

failures = []


def measure(tree, allowed):
    r = subprocess.run([sys.executable, MEASURE, "--root", tree, "--check", allowed],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, universal_newlines=True)
    return r.returncode, r.stdout


def expect(what, ok, out):
    if not ok:
        failures.append("%s\n--- measure.py said:\n%s" % (what, out))


def plant(tree, rel, text):
    path = os.path.join(tree, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as f:
        f.write(text)


def allowed_with(tmp, lines):
    path = os.path.join(tmp, "allowed.txt")
    with open(ALLOWED) as f, open(path, "w") as out:
        out.write(f.read() + "".join(line + "\n" for line in lines))
    return path


def lines_of(n):
    """a C file of n lines that breaks no other rule: comments"""
    return "".join("/* line %d */\n" % (i + 1) for i in range(n))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "tree")
        for top in ("core", "cmd"):
            shutil.copytree(os.path.join(ROOT, top), os.path.join(tree, top))
        rc, out = measure(tree, ALLOWED)
        expect("the copy of the checkout passes as the checkout does (exit 0)", rc == 0, out)

        plant(tree, "core/base/planted_long.c", lines_of(901))
        plant(tree, "core/base/planted_fits.h", lines_of(900))
        rc, out = measure(tree, ALLOWED)
        expect("a 901-line file fails (exit 1)", rc == 1, out)
        expect("the 901-line file is named with its length",
               "core/base/planted_long.c (901 lines)" in out, out)
        expect("a 900-line file is within the rule", "planted_fits" not in out, out)

        rc, out = measure(tree, allowed_with(tmp, ["file core/base/planted_long.c"]))
        expect("no line of the allowed list excuses a long file (refused, exit 1)",
               rc == 1 and "expected" in out, out)
    for f in failures:
        print("FAIL: " + f)
    print("%s: %d planted checks failed" % (os.path.basename(__file__), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
