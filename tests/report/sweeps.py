#!/usr/bin/python3
"""normlab report over the committed sweeps (test_report_sweeps and, with
the label report-all, test_report_sweeps_all): every committed sweep is a
fixture, since what one sweep's page does not show is where the pages
failed (issue 83). For each sweep chosen its page is made and measured in
headless Chromium:

  - no console error, nothing asked outside the file;
  - at 1280 px every table within its box (the runs table, the claims);
  - no config key or metric name broken inside a part: a name whose
    characters fall on two line boxes breaks only after a '.' or '_'
    (at 1280 and at 390 px);
  - at 390 px the first number of each row on the screen, and the curve
    chart's labels at least 9 px tall;
  - the curve chart on a log scale: at least 3 labelled ticks, every tag;
  - no curve chart's default range blown up by one run: its span at most
    20 typical spans (the median of the runs' highest values less the
    median of their lowest), the view the page opens on (a big sweep's
    means over seeds) and a curve per run, and in the latter every run
    with a point outside it named on the page, with a button that shows
    the full range;
  - the parallel coordinates: no axis name past the figure's edge, and a
    colour legend;
  - every figure's caption says more than the plot's name.

Which sweeps: --all every committed one; --sample the cover, chosen by a
rule from the files: the smallest and the largest sweep (runs in
summary.csv), then, while some feature is uncovered, the sweep with the
most features not yet covered (fewer runs first, then the name), where a
sweep's features are its claim kinds (verdicts.csv's method, its numbers
and details cut), its plot kinds (its experiment file's plots), its
metrics (summary.csv's columns after status, metrics.csv's) and its size
(smallest, largest); --fast N the first N sweeps of that cover (which
holds the largest sweep: its time grows with the evidence); --seeded N
(test_report_sweeps, the default suite) the first N sweeps of the seeded
sample the default suite reads (tests/committed_sample.py: a fixed number,
none of more than its MAX_RUNS runs, issue 115); --only A,B the named sweeps.

    tests/report/sweeps.py NORMLAB OUT_DIR (--all | --sample | --fast N | --seeded N | --only A,B) [--pages DIR]

--pages DIR measures the pages already in DIR (NAME.html) instead of
making them (to measure an older build's pages). Run from the
repository root. Exit 0 passed, 1 failed, 77 skipped (no Chromium)."""
import csv
import io
import os
import re
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402
import cdp  # noqa: E402
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import committed_sample  # noqa: E402
import packs  # noqa: E402

RESULTS = "results"


def committed_sweeps():
    """every directory of results/ with a summary.csv that git tracks"""
    listed = subprocess.run(["git", "ls-files", "--", RESULTS + "/*/summary.csv"], capture_output=True, text=True)
    names = sorted({p.split("/")[1] for p in listed.stdout.split()} if listed.returncode == 0 else
                   {d for d in os.listdir(RESULTS) if os.path.isfile(os.path.join(RESULTS, d, "summary.csv"))})
    return [n for n in names if os.path.isfile(os.path.join(RESULTS, n, "summary.csv"))]


def claim_kind(method):
    """verdicts.csv's method without its counts and details: "count of 3"
    is a count, "t; exact sign-flip beside" a t interval"""
    return re.split(r"[\d:;(,]", method, 1)[0].strip()


def experiment_of(sweep):
    path = os.path.join(RESULTS, sweep, "verdicts.csv")
    if os.path.exists(path):
        with open(path, newline="") as f:
            for row in csv.DictReader(f):
                if row.get("experiment") and os.path.exists(row["experiment"]):
                    return row["experiment"]
    path = os.path.join("experiments", sweep + ".yaml")
    return path if os.path.exists(path) else None


def plot_kinds(experiment):
    """the kinds of the plots block of an experiment file"""
    if not experiment:
        return set()
    kinds, inside = set(), False
    with open(experiment) as f:
        for line in f:
            if re.match(r"^\S", line):
                inside = line.startswith("plots:")
            elif inside:
                kinds.update(re.findall(r"\bkind:\s*([A-Za-z_]+)", line))
    return kinds


def features(sweep):
    """(runs, the sweep's features)"""
    base = os.path.join(RESULTS, sweep)
    with open(os.path.join(base, "summary.csv"), newline="") as f:
        rows = list(csv.reader(f))
    header, runs = rows[0], len(rows) - 1
    out = set()
    if "status" in header:
        out.update("metric:" + m for m in header[header.index("status") + 1:])
    verdicts = os.path.join(base, "verdicts.csv")
    if os.path.exists(verdicts):
        with open(verdicts, newline="") as f:
            for row in csv.DictReader(f):
                out.add("claim:" + claim_kind(row.get("method", "")))
                if row.get("metric"):
                    out.add("metric:" + row["metric"])
    out.update("plot:" + k for k in plot_kinds(experiment_of(sweep)))
    for run in packs.run_names(base):  # its run directories or its pack
        metrics = packs.read_run_text(base, run, "metrics.csv")
        if metrics is not None:
            out.update("metric:" + c for c in io.StringIO(metrics).readline().strip().split(",")
                       if c not in ("step", "split"))
            break
    return runs, out


def cover(sweeps):
    """the sample: smallest, largest, then greedily the most new features"""
    info = {s: features(s) for s in sweeps}
    by_size = sorted(sweeps, key=lambda s: (info[s][0], s))
    chosen = [by_size[0]] + ([by_size[-1]] if by_size[-1] != by_size[0] else [])
    info[by_size[0]][1].add("size:smallest")
    info[by_size[-1]][1].add("size:largest")
    covered = set().union(*(info[s][1] for s in chosen))
    wanted = set().union(*(f for _, f in info.values()))
    while covered != wanted:
        best = max((s for s in sweeps if s not in chosen),
                   key=lambda s: (len(info[s][1] - covered), -info[s][0], [-ord(c) for c in s]))
        chosen.append(best)
        covered |= info[best][1]
    return chosen, info, wanted


# the curve charts' measures, per tag of each explore box: the range drawn
# (ticks, or data-y0/y1 where the page says it), the runs' lowest and
# highest values, the runs outside the range and whether the page names
# them; with the log box ticked, the labelled ticks
CHARTS = r"""(function () {
  return Array.from(document.querySelectorAll('.explore')).map(function (box) {
    var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
    var tag = box.querySelector('.tag'), log = box.querySelector('.log'), chart = box.querySelector('svg.chart');
    function set(e, v) { e.value = v; e.dispatchEvent(new Event('change')); }
    function yticks() {
      return Array.from(chart.querySelectorAll('.axes text:not(.xtick)')).map(function (t) { return t.textContent; })
        .filter(function (t) { return t !== 'step'; });
    }
    /* the range the page opens on (a big sweep's: the means over seeds),
     * then the runs' own view, where every run outside is to be named */
    var group = box.querySelector('select.group'), opening = {};
    function range() {
      var ticks = yticks().map(parseFloat).filter(isFinite);
      return [chart.hasAttribute('data-y0') ? +chart.getAttribute('data-y0') : Math.min.apply(null, ticks),
              chart.hasAttribute('data-y1') ? +chart.getAttribute('data-y1') : Math.max.apply(null, ticks)];
    }
    Array.from(tag.options).forEach(function (o) { set(tag, o.value); opening[o.value] = range(); });
    var grouped = group && group.value !== '' ? group.value : null;
    if (grouped !== null) set(group, '');
    var out = [];
    Array.from(tag.options).forEach(function (o) {
      set(tag, o.value);
      var t = +o.value, lows = [], highs = [], values = {};
      data.curves.forEach(function (c) {
        c[2].forEach(function (s) {
          if (s[0] !== t) return;
          var f = s[1].filter(function (y) { return y !== null && isFinite(y); });
          if (!f.length) return;
          lows.push(Math.min.apply(null, f)); highs.push(Math.max.apply(null, f));
          values[c[0]] = (values[c[0]] || []).concat(f);
        });
      });
      var y0 = range()[0], y1 = range()[1];
      var away = box.querySelector('.outliers'), said = away && !away.hidden ? away.textContent : '';
      var outside = Object.keys(values).filter(function (r) {
        var span = (y1 - y0) * 1e-6;
        return values[r].some(function (v) { return v < y0 - span || v > y1 + span; });
      }).map(function (r) { return data.runs[r].n; });
      var unnamed = outside.filter(function (n) { return said.indexOf(n) < 0; });
      var button = away && !away.hidden ? away.querySelector('button') : null, fullOk = null;
      if (outside.length && button) {
        button.click();
        var f0 = +chart.getAttribute('data-y0'), f1 = +chart.getAttribute('data-y1');
        fullOk = lows.every(function (v) { return v >= f0; }) && highs.every(function (v) { return v <= f1; });
        away.querySelector('button').click();
      }
      var linear = [o.textContent, y0, y1, lows, highs, outside.length, unnamed.slice(0, 3), !!button, fullOk];
      log.checked = true; log.dispatchEvent(new Event('change'));
      var drawn = chart.querySelectorAll('path.line').length;
      linear.push(drawn ? yticks().length : null);
      log.checked = false; log.dispatchEvent(new Event('change'));
      linear.push(grouped !== null ? opening[o.value] : null);
      out.push(linear);
    });
    if (grouped !== null) set(group, grouped);
    set(tag, tag.options[0].value);
    return out;
  });
})()"""

# the parallel coordinates: the names past the figure's edge; a legend
PC = r"""Array.from(document.querySelectorAll('.explore svg.pc')).map(function (svg) {
  var vb = svg.viewBox.baseVal;
  var clipped = Array.from(svg.querySelectorAll('.pcname')).filter(function (t) {
    var b = t.getBBox(); return b.x < vb.x - 0.5 || b.x + b.width > vb.x + vb.width + 0.5;
  }).map(function (t) { return t.textContent; });
  var legend = svg.closest('.explore').querySelector('.pclegend');
  return [clipped, !!legend && legend.textContent.length > 10];
})"""

# the captions: the text beyond the plot's name
CAPTIONS = r"""Array.from(document.querySelectorAll('figure figcaption')).map(function (c) {
  var code = c.querySelector('code'), name = code ? code.textContent : '';
  return [name, c.textContent.replace(name, '').replace(/^[\s:]+/, '').trim()];
})"""

# at a phone's width: the height on the screen of the curve chart's labels
LABELS = r"""Array.from(document.querySelectorAll('.explore svg.chart .axes text')).map(function (t) {
  return t.getBoundingClientRect().height; })"""


class Tally:
    """per measure, the pages where it failed"""

    def __init__(self):
        self.pages = {}

    def check(self, sweep, ok, measure, detail=""):
        if not ok:
            self.pages.setdefault(measure, []).append(sweep)
            browser.check(False, "%s: %s%s" % (sweep, measure, ": " + detail if detail else ""))


def quantile(xs, q):
    xs = sorted(xs)
    at = (len(xs) - 1) * q
    i = int(at)
    return xs[i] + (xs[i + 1] - xs[i]) * (at - i) if i + 1 < len(xs) else xs[i]


def blown(y0, y1, lows, highs):
    """the range spans more than 20 typical spans of a run: the median
    run's, the spread of the runs' highest values below their median and
    of their lowest above it, or the span of nine runs in ten, whichever is
    wider (spreads that up to a tenth of the runs exploding do not move;
    the last where most runs stop after a point, as in a sweep where most
    diverge at once and the rest train)"""
    if len(lows) < 4:
        return False
    typical = max(quantile(highs, 0.5) - quantile(lows, 0.5), quantile(highs, 0.5) - quantile(highs, 0.25),
                  quantile(lows, 0.75) - quantile(lows, 0.5), quantile(highs, 0.9) - quantile(lows, 0.1))
    if not typical > 0:
        typical = abs(quantile(highs, 0.5)) * 0.1 or 1
    return (y1 - y0) > 20 * typical


def measure(b, sweep, url, tally):
    browser.load(b, url, 1280, 900)
    said, asked = browser.problems(b, url)
    tally.check(sweep, not said and not asked, "console error or request outside the file",
                "; ".join(said + asked)[:300])
    over = [t for t in b.evaluate(browser.OVERFLOW) if t[3] or t[1] > t[2] + 1]
    tally.check(sweep, not over, "a table wider than its box at 1280 px",
                "; ".join("%s %d px in %d" % (t[0], t[1], t[2]) for t in over))
    seen, split = b.evaluate(browser.NAME_BREAKS)
    tally.check(sweep, not split, "a name broken mid-word at 1280 px",
                "%d of %d names: %s" % (len(split), seen, "; ".join(sorted(set(split))[:3])))
    for box in b.evaluate(CHARTS):
        for tag, y0, y1, lows, highs, outside, unnamed, button, full_ok, log_ticks, opening in box:
            if opening is not None and None not in opening:  # the means the page opens on
                tally.check(sweep, not blown(opening[0], opening[1], lows, highs), "a blown-up curve axis",
                            "%s drawn over %.4g to %.4g, the means the page opens on" % (tag, opening[0], opening[1]))
            tally.check(sweep, log_ticks is None or log_ticks >= 3, "a log axis with fewer than 3 labelled ticks",
                        "%s: %s" % (tag, log_ticks))
            if y0 is None or y1 is None:  # nothing drawn: no range to judge
                continue
            tally.check(sweep, not blown(y0, y1, lows, highs), "a blown-up curve axis",
                        "%s drawn over %.4g to %.4g" % (tag, y0, y1))
            tally.check(sweep, not unnamed, "a run outside the curve chart's range not named",
                        "%s: %d outside, %s not named" % (tag, outside, unnamed))
            tally.check(sweep, not outside or (button and full_ok), "no full range of the runs outside", tag)
    for clipped, legend in b.evaluate(PC):
        tally.check(sweep, not clipped, "a parallel-coordinates axis name past the figure's edge", ", ".join(clipped))
        tally.check(sweep, legend, "parallel coordinates without a colour legend")
    bare = [name for name, rest in b.evaluate(CAPTIONS) if len(rest.split()) < 4]
    tally.check(sweep, not bare, "a figure's caption is its plot's name", ", ".join(bare[:4]))
    browser.load(b, url, 390, 900)
    tables = b.evaluate(browser.FIRST_NUMBER)
    tally.check(sweep, not [t for t in tables if t[2]], "at 390 px a row's first number out of view",
                "; ".join("%s rows %s" % (t[0], t[2]) for t in tables if t[2]))
    seen, split = b.evaluate(browser.NAME_BREAKS)
    tally.check(sweep, not split, "a name broken mid-word at 390 px",
                "%d of %d names: %s" % (len(split), seen, "; ".join(sorted(set(split))[:3])))
    heights = b.evaluate(LABELS)
    tally.check(sweep, not heights or min(heights) >= 9, "at 390 px the curve chart's labels under 9 px",
                "%.1f px" % min(heights or [0]))


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    normlab, out_dir = args[0], args[1]
    sweeps = committed_sweeps()
    if "--only" in args:  # to look at named pages again, as a failure named them
        pick = args[args.index("--only") + 1].split(",")
        unknown = [s for s in pick if s not in sweeps]
        if unknown:
            sys.exit("not committed sweeps: " + ", ".join(unknown))
    elif "--seeded" in args:
        pick = committed_sample.sample(".")[:int(args[args.index("--seeded") + 1])]
        print("%d committed sweeps; measuring %d of their seeded sample (tests/committed_sample.py): %s" % (
            len(sweeps), len(pick), ", ".join(pick)))
    else:
        chosen, info, wanted = cover(sweeps)
        if "--all" in args:
            pick = sweeps
        elif "--sample" in args:
            pick = chosen
        else:
            pick = chosen[:int(args[args.index("--fast") + 1])]
        left = wanted - set().union(*(info[s][1] for s in pick))
        print("%d committed sweeps; the cover of their %d features is %d: %s; measuring %d%s" % (
            len(sweeps), len(wanted), len(chosen), ", ".join(chosen), len(pick),
            " (not covered: %d features)" % len(left) if left else ""))
    if not pick:
        print("no committed sweep chosen")
        return 1
    chromium = browser.chromium_or_say_skipped()
    if not chromium:
        return browser.SKIP
    pages = args[args.index("--pages") + 1] if "--pages" in args else None
    tally = Tally()
    started = time.monotonic()
    b = cdp.Browser(chromium, timeout=120)
    try:
        b.open_page()
        for sweep in pick:
            if pages:
                page = os.path.abspath(os.path.join(pages, sweep + ".html"))
            else:
                page, _ = browser.make_report(normlab, os.path.join(RESULTS, sweep), out_dir, sweep + ".html")
            try:
                measure(b, sweep, "file://" + page, tally)
            except (RuntimeError, TimeoutError) as e:  # the page's script failed: the others still measured
                tally.check(sweep, False, "the page could not be measured", str(e)[:300])
    finally:
        b.close()
    print("%d pages in %.1f s" % (len(pick), time.monotonic() - started))
    for what, where in sorted(tally.pages.items()):
        print("%-58s %2d of %d pages: %s" % (what, len(set(where)), len(pick), ", ".join(sorted(set(where))[:6])))
    if browser.failures:
        print("%d check(s) failed" % len(browser.failures))
        return 1
    print("ok: every measure holds on the %d pages" % len(pick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
