#!/usr/bin/python3
"""measure.py's checks fail on what they are for (test_house_planted): in a
copy of core/ and cmd/, measure.py --check passes as on the checkout, then
fails naming each planted breach and nothing planted beside it that keeps
within the rule.

    tests/house/planted.py

- A file of 901 lines fails; one of 900 does not, and no line of the
  allowed list excuses a long file.
- A function declared in a header of core/base/ and defined in core/log/
  fails, named with its definition; one defined in core/base/ does not, nor
  one whose only other definition is static. A 'declared' line of the
  allowed list excuses it with a reason, not without one, and a line for a
  function its folder defines is named as no longer needed.
- A layer that sets a storage type, inserts a layout conversion or sets a
  layout to a constant fails, named with its function; one reading the
  plan's decisions does not. A 'layout' line excuses one with a reason,
  not without."""
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


def expect_layout_rule(tmp, tree):
    """a layer that sets a storage type, inserts a layout conversion or
    sets a layout fails, named with its function; the reorder layer itself
    and a layer that reads the plan's decision do not"""
    plant(tree, "core/layers/planted_layout.c", "/* planted */\n"
          "void nl_planted_stores(nl_act *out)\n{\n    out->shape.value_store = 1;\n}\n\n"
          "nl_act *nl_planted_reorders(nl_builder *b, nl_act *in)\n{\n"
          "    return nl_reorder_to_nchw(b, \"x\", in);\n}\n\n"
          "void nl_planted_nchw(nl_shape *s)\n{\n    s->block = 0;\n}\n\n"
          "int nl_planted_reads(nl_builder *b, nl_shape *s)\n{\n"
          "    s->block = nl_builder_channel_block(b);\n    return s->value_store == 0;\n}\n")
    rc, out = measure(tree, ALLOWED)
    expect("a layer deciding a layout or storage type fails (exit 1)", rc == 1, out)
    for line, name, what in ((4, "nl_planted_stores", "sets a storage type"),
                             (9, "nl_planted_reorders", "inserts a layout conversion"),
                             (14, "nl_planted_nchw", "sets a layout")):
        expect("%s is named at line %d: %s" % (name, line, what),
               "core/layers/planted_layout.c:%d: %s %s" % (line, name, what) in out, out)
    expect("a layer reading the plan's block and storage is within the rule",
           "nl_planted_reads" not in out, out)
    excused = ["layout core/layers/planted_layout.c %s # planted: its reason" % name
               for name in ("nl_planted_stores", "nl_planted_reorders", "nl_planted_nchw")]
    rc, out = measure(tree, allowed_with(tmp, excused))
    expect("'layout' lines with their reasons excuse them (exit 0)", rc == 0, out)
    rc, out = measure(tree, allowed_with(tmp, ["layout core/layers/planted_layout.c nl_planted_nchw"]))
    expect("a 'layout' line without a reason is refused (exit 1)", rc == 1 and "reason" in out, out)
    os.remove(os.path.join(tree, "core/layers/planted_layout.c"))


def main():
    with tempfile.TemporaryDirectory() as tmp:
        tree = os.path.join(tmp, "tree")
        for top in ("core", "cmd"):
            shutil.copytree(os.path.join(ROOT, top), os.path.join(tree, top))
        rc, out = measure(tree, ALLOWED)
        expect("the copy of the checkout passes as the checkout does (exit 0)", rc == 0, out)
        expect_layout_rule(tmp, tree)

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

        plant(tree, "core/base/planted.h", "/* planted */\n"
              "int nl_planted_here(void);\n"
              "int nl_planted_elsewhere(int x,\n"
              "                         int y);\n"
              "int nl_planted_static_elsewhere(void);\n")
        plant(tree, "core/base/planted.c", "int nl_planted_here(void) { return 0; }\n")
        plant(tree, "core/log/planted_there.c", "/* planted */\n"
              "int nl_planted_elsewhere(int x, int y)\n{\n    return x + y;\n}\n\n"
              "static int nl_planted_static_elsewhere(void) { return 1; }\n")
        rc, out = measure(tree, ALLOWED)
        expect("the long file and the function defined in another folder fail together (exit 1)",
               rc == 1 and "planted_long.c (901 lines)" in out, out)
        expect("the function defined in another folder is named, at its declaration, with its definition",
               "core/base/planted.h:3: declares nl_planted_elsewhere, which core/log/planted_there.c defines"
               in out, out)
        expect("a function its header's folder defines is within the rule", "nl_planted_here" not in out, out)
        expect("another folder's static function of the same name is not its definition",
               "nl_planted_static_elsewhere" not in out, out)

        os.remove(os.path.join(tree, "core/base/planted_long.c"))
        excused = "declared core/base/planted.h nl_planted_elsewhere # planted: its reason"
        rc, out = measure(tree, allowed_with(tmp, [excused]))
        expect("a 'declared' line with its reason excuses the function (exit 0)",
               rc == 0 and "nl_planted_elsewhere" not in out, out)
        rc, out = measure(tree, allowed_with(tmp, ["declared core/base/planted.h nl_planted_elsewhere"]))
        expect("a 'declared' line without a reason is refused (exit 1)", rc == 1 and "reason" in out, out)
        rc, out = measure(tree, allowed_with(tmp, [excused, "declared core/base/planted.h nl_planted_here # x"]))
        expect("a 'declared' line for a function its folder defines is named, to be deleted",
               rc == 0 and "declared core/base/planted.h nl_planted_here: its folder defines it" in out, out)
    for f in failures:
        print("FAIL: " + f)
    print("%s: %d planted checks failed" % (os.path.basename(__file__), len(failures)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
