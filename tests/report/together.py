#!/usr/bin/python3
"""normlab report A B explores both sweeps in one view (issue 102),
checked in headless Chromium on two small sweeps made here from committed
ones (tests/report/many.py's copies: runs of the same names in both):

- the page has one explorer over the runs of both, besides each sweep's
  own, each run keyed by its sweep (the key "sweep") and named by it, so
  that two runs of one name in the two sweeps stay apart;
- grouped by the sweep it draws a mean per sweep, the legend giving each
  its sweep's number of runs; coloured by the sweep, a colour per sweep;
  the expression sweep=NAME keeps that sweep's runs;
- the view is kept in the link, as one sweep's: the page opened with its
  fragment groups by the sweep again;
- a formula normalizer (model.norm.type expr) is named as the figures'
  labels name it (its model.norm.name) in the legend, never "expr".

    tests/report/together.py NORMLAB OUT_DIR

Run from the repository root. Exit 0 passed, 1 failed, 77 skipped (no
Chromium)."""
import json
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402
import cdp  # noqa: E402
import many  # noqa: E402
from browser import check  # noqa: E402

# two sweeps whose runs share names (type-layer_seed-1, ...): a CNN's and
# a language model's with a formula normalizer (dyt-erf, model.norm.type expr)
SWEEPS = (("alpha", "results/rms-layer-cnn", 4), ("beta", "results/dyt-erf-lm", 9))

# the combined explorer's data and what it shows now: its legend's
# entries, the mean lines drawn, the count of runs the expression keeps
VIEW = """(function () {
  var box = document.querySelector('.explore[data-group="c"]');
  if (!box) return null;
  box.drawPending();
  /* the runs it shows: joined in the page from each sweep's own explorer */
  var data = box.exploreData;
  return { keys: data.keys, names: data.runs.map(function (r) { return r.n; }),
           sweeps: data.runs.map(function (r) { return r.v[data.keys.indexOf('sweep')]; }),
           legend: Array.from(box.querySelectorAll('.legend button.item')).map(function (e) {
             return e.getAttribute('aria-label') || e.textContent; }),
           colours: Array.from(box.querySelectorAll('.legend button.item')).map(function (e) {
             var s = e.querySelector('line');
             return s ? s.getAttribute('stroke') : null; }),
           means: box.querySelectorAll('svg.chart path.line.mean').length,
           lines: box.querySelectorAll('svg.chart path.line').length,
           note: box.querySelector('.groupnote').textContent,
           resays: box.querySelector('.resays').textContent,
           group: box.querySelector('.group').value };
})()"""


def choose(b, cls, text):
    """the combined explorer's select .cls set to the option whose text is text"""
    return b.evaluate("""(function () { var s = document.querySelector('.explore[data-group="c"] .%s');
      var o = Array.from(s.options).find(function (o) { return o.text === %s; });
      if (!o) return false;
      s.value = o.value; s.dispatchEvent(new Event('change')); return true; })()""" % (cls, json.dumps(text)))


def type_regex(b, text):
    b.evaluate("""(function () { var e = document.querySelector('.explore[data-group="c"] .re'); e.value = %s;
                  e.dispatchEvent(new Event('input')); })()""" % json.dumps(text))


def main():
    args = browser.page_test_args(__doc__)
    if not args:
        return browser.SKIP
    normlab, out_dir, chromium = args
    os.makedirs(out_dir, exist_ok=True)
    dirs = [many.copy_sweep(source, os.path.join(out_dir, name), n) for name, source, n in SWEEPS]
    sizes = {name: n for name, _, n in SWEEPS}
    page = os.path.abspath(os.path.join(out_dir, "together.html"))
    made = subprocess.run([normlab, "report"] + dirs + ["--out", page, "--force"], capture_output=True, text=True)
    print("normlab report: exit %d: %s" % (made.returncode, made.stdout.strip()))
    if made.returncode != 0:
        sys.exit("normlab report failed: " + made.stderr)
    url = "file://" + page
    b = cdp.Browser(chromium, timeout=60)
    try:
        b.open_page()
        browser.load(b, url, 1280, 900)
        v = b.evaluate(VIEW)
        check(v is not None and b.evaluate("document.querySelectorAll('.explore').length") == 1 + len(SWEEPS),
              "one explorer over both sweeps (data-group c), besides each sweep's own")
        if v is None:
            return browser.exit_status()
        total = sum(sizes.values())
        check(len(v["names"]) == total and len(set(v["names"])) == total and
              all(n.startswith(s + "/") for n, s in zip(v["names"], v["sweeps"])),
              "its %d runs (of %d) each named by its sweep and its own name, no two alike (%s, %s)"
              % (len(v["names"]), total, v["names"][0], v["names"][-1]))
        check(v["keys"][0] == "sweep" and sorted(set(v["sweeps"])) == sorted(sizes),
              "each run keyed by its sweep: %s" % sorted(set(v["sweeps"])))

        check(choose(b, "group", "the runs sharing their sweep"), "the view can group by the sweep")
        g = b.evaluate(VIEW)
        want = sorted("sweep=%s (%d)" % (s, n) for s, n in sizes.items())
        check(g["means"] == 2 and sorted(g["legend"]) == want,
              "grouped by the sweep: %d means, the legend %s (want %s)" % (g["means"], g["legend"], want))
        check("Grouped by sweep" in g["note"], "the note says the curves are grouped by the sweep: %r" % g["note"])
        # the link keeps the view, as one sweep's does
        h = browser.wait_hash(b, ["c.mean=sweep"])
        check("c.mean=sweep" in h, "the fragment holds the grouping: %s" % h)
        browser.fresh(b, url.split("#")[0] + h)
        r = b.evaluate(VIEW)
        check(r["means"] == 2 and sorted(r["legend"]) == want,
              "opened with that fragment, grouped by the sweep again: %d means, %s" % (r["means"], r["legend"]))
        choose(b, "group", "no mean: a curve per run")

        check(choose(b, "by", "sweep"), "the view can colour by the sweep")
        c = b.evaluate(VIEW)
        check(sorted(c["legend"]) == want and len(set(c["colours"])) == 2,
              "coloured by the sweep: an entry and a colour each (%s, %s)" % (c["legend"], c["colours"]))
        type_regex(b, "^sweep=beta$")
        m = b.evaluate(VIEW)
        check(m["resays"].startswith("%d of %d runs match" % (sizes["beta"], total)),
              "the expression sweep=beta keeps beta's runs: %r" % m["resays"])
        type_regex(b, "")

        check(choose(b, "by", "model.norm.type"), "the view can colour by model.norm.type")
        n = b.evaluate(VIEW)
        check(any(e.startswith("model.norm.type=dyt-erf ") for e in n["legend"]) and
              not any("=expr " in e for e in n["legend"]),
              "the formula normalizer is named as the labels name it, not expr: %s" % n["legend"])
        said, asked = browser.problems(b, url)
        check(not said and not asked, "no console error (%s) and no request outside the file (%s)"
              % (said[:3], asked[:3]))
    finally:
        b.close()
    return browser.exit_status()


if __name__ == "__main__":
    started = time.monotonic()
    status = main()
    print("%.1f s" % (time.monotonic() - started))
    sys.exit(status)
