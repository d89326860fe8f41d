#!/usr/bin/python3
"""The curves' view aggregates honestly (issue 102), checked in headless
Chromium on the committed sweeps the issue names:

- a grouped mean is over the runs that have a value at each x: hovered
  where fewest of its group's runs are present, its tip says that many
  and shows their mean; a run that ends sooner is marked where it leaves
  the mean (lr-tolerance's lr 0.1 without normalization, 14 seeds of
  which some diverge; wu-he-batch-cnn by normalizer, batch sizes 2 to 64
  over different steps);
- a mean is of the runs that logged a value at its x unless "between"
  is chosen (s1.points=between), and its tip says how many runs lie
  between two logged points there, the nearest logged steps, and whether
  they are left out or read on the line between them (issue 118);
- the default range holds every run that did not diverge (lr-tolerance
  at lr 0.3: 14 batch-norm runs near 80 % beside 25 near chance);
- an interaction answers with the large chart, the small charts redrawn
  in a task of their own after it;
- a link is data: the page opened with each hostile or malformed fragment
  (a bare "%", an expression ending in "%", nested quantifiers that take
  a backtracking engine exponential time, bounded ones nested as
  (a{1,9}){1,9}$ or ((.?){8}){8}!, 200,000 characters of expression, a
  back-reference) loads, logs no error, applies the nested ones (the
  page's matcher is linear) or says why an expression was not applied,
  draws its curves, opens a run's details from a link and every run's
  details for printing.

    tests/report/honest.py NORMLAB OUT_DIR

Run from the repository root. Exit 0 passed, 1 failed, 77 skipped (no
Chromium)."""
import json
import math
import os
import re
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402
import cdp  # noqa: E402
from browser import check, failures  # noqa: E402

# per mean line drawn: for each of its group's x, the runs that logged
# that x and their mean, and the runs present there (whose numbers span
# it, between two logged points or on one); the
# groups as the page's "mean of" select makes them (a key's value, or
# every varied key but the seed), over the runs the expression keeps
EXPECTED = """(function (re, by) {
  var box = document.querySelector('.explore');
  var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
  var t = +box.querySelector('.tag').value, rx = new RegExp(re, 'i');
  var keys = by === '~seed' ? data.varied.filter(function (k) { return k !== data.seed; }) : [data.keys.indexOf(by)];
  var groups = {};
  data.curves.forEach(function (c, i) {
    if (typeof c[1] === 'number') c[1] = data.curves[i - c[1]][1];
    var steps = c[1];
    var run = data.runs[c[0]];
    if (!rx.test(run.n)) return;
    var label = keys.map(function (k) { return data.keys[k] + '=' + (run.v[k] === '' ? '(not set)' : run.v[k]); }).join(', ');
    c[2].forEach(function (s) {
      if (s[0] !== t) return;
      var pts = {}, xs = [];
      steps.forEach(function (x, i) { var y = s[1][i]; if (y !== null) { pts[x] = y; xs.push(x); } });
      if (xs.length) (groups[label] = groups[label] || []).push({ run: c[0], pts: pts, first: Math.min.apply(null, xs),
                                                              last: Math.max.apply(null, xs) });
    });
  });
  var out = {};
  Object.keys(groups).forEach(function (label) {
    var rs = groups[label], at = {}, end = -Infinity;
    rs.forEach(function (r) { end = Math.max(end, r.last); Object.keys(r.pts).forEach(function (x) { at[x] = true; }); });
    out[label] = { size: rs.length, ends: rs.filter(function (r) { return r.last < end; }).length, at: {} };
    Object.keys(at).forEach(function (x) {
      var here = rs.filter(function (r) { return r.first <= +x && +x <= r.last; });
      var logged = here.filter(function (r) { return r.pts[x] !== undefined; });
      out[label].at[x] = [logged.length, logged.reduce(function (a, r) { return a + r.pts[x]; }, 0) / logged.length,
                          here.length];
    });
  });
  return out;
})"""

# the client point of each vertex of mean line i, with its x in steps
MEAN_POINTS = """(function (i) {
  var svg = document.querySelector('.explore svg.chart'), path = svg.querySelectorAll('path.line.mean')[i];
  svg.scrollIntoView({ block: 'center' });
  var vb = svg.viewBox.baseVal, x0 = +svg.getAttribute('data-x0'), x1 = +svg.getAttribute('data-x1');
  var ctm = path.getScreenCTM(), pts = [];
  (path.getAttribute('d').match(/[ML][^ML]+/g) || []).forEach(function (p) {
    var xy = p.slice(1).trim().split(/\\s+/).map(Number), q = svg.createSVGPoint();
    q.x = xy[0]; q.y = xy[1];
    var c = q.matrixTransform(ctm);
    pts.push([x0 + (xy[0] - 64) / (vb.width - 64 - 16) * (x1 - x0), c.x, c.y]);
  });
  return pts;
})"""

TIP = "document.querySelector('.explore .tip').textContent"


def page(normlab, sweep, out_dir):
    return "file://" + browser.make_report(normlab, sweep, out_dir, os.path.basename(sweep) + ".html")[0]


def check_means(b, url, re_text, by, what):
    """each mean hovered where fewest of its runs are present: the tip says
    how many and their mean; the runs that end sooner are marked (over
    steps: the runs' steps differ where their batch sizes do)"""
    frag = "#view&s1.re=%s&s1.mean=%s&s1.x=step" % (urllib.parse.quote(re_text, safe=""), urllib.parse.quote(by, safe=""))
    open_link(b, url + frag)
    want = b.evaluate(EXPECTED + "(%s, %s)" % (json.dumps(re_text), json.dumps(by)))
    means = b.evaluate("document.querySelectorAll('.explore svg.chart path.line.mean').length")
    check(means == len(want), "%s: a mean per group (%d drawn, %d groups)" % (what, means, len(want)))
    fewer = 0
    for i in range(means):
        pts = b.evaluate(MEAN_POINTS + "(%d)" % i)
        # its group, as the tip over its middle point names it
        browser.mouse(b, "mouseMoved", pts[len(pts) // 2][1], pts[len(pts) // 2][2])
        g = want.get(b.evaluate(TIP).split(" step ")[0])
        # the vertex where the fewest runs are present (ties: the latest)
        best = None
        for x, cx, cy in pts if g else []:
            e = g["at"].get("%.10g" % round(x))
            if e and (best is None or e[0] <= best[2][0]):
                best = (cx, cy, e)
        if best is None:
            check(False, "%s: mean %d's points are at the group's steps" % (what, i))
            continue
        browser.mouse(b, "mouseMoved", best[0], best[1])
        tip = b.evaluate(TIP)
        m = re.search(r"^(.*?) step (\d+(?:\.\d+)?): \S+ mean (-?[\d.e+-]+)[^ ]* (?:%|nats|)\s*of (\d+)", tip)
        if not m:
            check(False, "%s: the tip over mean %d says its mean and count (%r)" % (what, i, tip))
            continue
        label, x, mean, n = m.group(1), m.group(2), float(m.group(3)), int(m.group(4))
        e = want.get(label, {}).get("at", {}).get(x)
        if not e:
            check(False, "%s: the tip names a group and step the runs have (%r)" % (what, tip))
            continue
        fewer += e[0] < want[label]["size"]
        ok = n == e[0] and abs(mean - e[1]) <= 1e-3 * max(1, abs(e[1]))
        check(ok, "%s: at step %s %s's mean is of the %d of its %d runs that logged a value there (mean %.4g; tip %r)"
              % (what, x, label, e[0], want[label]["size"], e[1], tip))
    ends = sum(g["ends"] for g in want.values())
    rings = b.evaluate("Array.from(document.querySelectorAll('.explore svg.chart .ends')).reduce(function (a, c) "
                       "{ return a + +c.getAttribute('data-runs'); }, 0)")
    check(rings == ends, "%s: each of the %d runs that end sooner is marked where it leaves its mean (%d rings' runs)"
          % (what, ends, rings))
    return fewer


def check_between(b, url, what):
    """a mean's point where some of its runs lie between two of their
    logged points (test curves logged every few hundred steps, at steps
    that differ with the batch size): by default the mean is of the runs
    that logged it and the tip says how many more lie between logged
    points, the nearest logged steps and that they are left out; chosen
    "between" (s1.points=between), the mean is of every run present and
    the tip says which values were read on the line between two logged
    points (issue 118: such values were tipped as logged)"""
    by = "model.norm.type"
    for points, frag in (("logged", ""), ("between", "&s1.points=between")):
        open_link(b, url + "#view&s1.mean=%s&s1.x=step%s" % (by, frag))
        want = b.evaluate(EXPECTED + "(%s, %s)" % (json.dumps(""), json.dumps(by)))
        pts = b.evaluate(MEAN_POINTS + "(0)")
        browser.mouse(b, "mouseMoved", pts[len(pts) // 2][1], pts[len(pts) // 2][2])
        g = want.get(b.evaluate(TIP).split(" step ")[0])
        hit = None
        for x, cx, cy in pts if g else []:
            e = g["at"].get("%.10g" % round(x))
            if e and e[2] > e[0]:
                hit = (cx, cy, e)
                break
        if hit is None:
            check(False, "%s (%s): a mean's point where some runs lie between logged points" % (what, points))
            continue
        browser.mouse(b, "mouseMoved", hit[0], hit[1])
        tip = b.evaluate(TIP)
        m = re.search(r" step (\d+): \S+ mean (-?[\d.e+-]+)[^ ]* (?:%|nats|)\s*of (\d+)", tip)
        near = re.search(r"(\d+) runs? between logged points \(the nearest at step (\d+) and (\d+)\), (left out|read on "
                         r"the line between them)", tip)
        x = int(m.group(1)) if m else -1
        n = int(m.group(3)) if m else -1
        e = hit[2]
        if points == "logged":
            ok = n == e[0] and near and int(near.group(1)) == e[2] - e[0] and near.group(4) == "left out"
        else:
            ok = n == e[2] and near and int(near.group(1)) == e[2] - e[0] and near.group(4).startswith("read on")
        ok = bool(ok) and int(near.group(2)) < x < int(near.group(3))
        check(ok, "%s (%s): at step %d, %d of the %d runs present logged a value; the tip says the %d others lie "
              "between logged points, the nearest logged steps around it, and %s (%r)"
              % (what, points, x, e[0], e[2], e[2] - e[0], "the mean is of the %d" % (e[0] if points == "logged" else e[2]),
                 tip[:300]))
    check(b.evaluate("document.querySelector('.explore select.points').value") == "between",
          "%s: the link's s1.points=between chooses the interpolated mean" % what)


def check_range(b, url):
    """lr-tolerance at lr 0.3: the default range holds every run that did
    not diverge, and names none of them outside it"""
    open_link(b, url + "#view&s1.filter.train.optimizer.lr=0.3")
    got = b.evaluate("""(function () {
      var box = document.querySelector('.explore'), svg = box.querySelector('svg.chart');
      var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
      var t = +box.querySelector('.tag').value, lo = Infinity, hi = -Infinity, n = 0, lr = data.keys.indexOf('train.optimizer.lr');
      data.curves.forEach(function (c) {
        var r = data.runs[c[0]];
        if (r.s === 'diverged' || r.v[lr] !== '0.3') return;
        c[2].forEach(function (s) { if (s[0] !== t) return; n++;
          s[1].forEach(function (y) { if (y !== null) { lo = Math.min(lo, y); hi = Math.max(hi, y); } }); });
      });
      var away = box.querySelector('.outliers');
      return [n, lo, hi, +svg.getAttribute('data-y0'), +svg.getAttribute('data-y1'), away.hidden ? '' : away.textContent,
              data.tags[t]];
    })()""")
    n, lo, hi, y0, y1, away, tag = got
    check(n > 0 and y0 <= lo and y1 >= hi, "lr-tolerance at lr 0.3: the default %s range %.3g to %.3g holds the %d runs "
          "that did not diverge (%.3g to %.3g)" % (tag, y0, y1, n, lo, hi))
    check("batch" not in away, "and names none of them outside it (%r)" % away[:160])


def check_no_band_of_one(b, url, what):
    """a mean of one run has no band (issue 118: a zero-width one was drawn
    and tipped): one seed's runs by normalizer over steps, where only the
    smallest batch's run reaches the last steps"""
    open_link(b, url + "#view&s1.re=_seed-1%24&s1.mean=model.norm.type&s1.x=step&s1.band=ci")
    pts = b.evaluate(MEAN_POINTS + "(0)")
    browser.mouse(b, "mouseMoved", pts[-1][1], pts[-1][2])
    tip = b.evaluate(TIP)
    check(" of 1 of " in tip and "no band" in tip and " band " not in tip.replace("no band", ""),
          "%s: the last point of a mean of one run says it has no band (%r)" % (what, tip[:200]))


def check_outside_true(b, url, what):
    """every run the note says lies outside the range drawn has a value
    outside it (issue 118: on a percentage chart it named 91 of 91 runs
    that the range held)"""
    open_link(b, url + "#view")
    got = b.evaluate("""(function () {
      var box = document.querySelector('.explore'), svg = box.querySelector('svg.chart');
      var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
      var t = +box.querySelector('.tag').value, y0 = +svg.getAttribute('data-y0'), y1 = +svg.getAttribute('data-y1');
      var away = box.querySelector('.outliers'), said = away.hidden ? '' : away.textContent, wrong = [], named = 0;
      data.curves.forEach(function (c) {
        var name = data.runs[c[0]].n;
        if (said.indexOf(name + ' (') < 0) return;
        named++;
        c[2].forEach(function (s) {
          if (s[0] === t && !s[1].some(function (y) { return y !== null && (y < y0 || y > y1); })) wrong.push(name);
        });
      });
      return [named, wrong.slice(0, 3), data.tags[t]];
    })()""")
    check(not got[1], "%s: the %d runs named outside the %s range drawn each lie outside it (not: %s)"
          % (what, got[0], got[2], got[1]))


def check_epochs(b, url, what):
    """a sweep of batch sizes opens in epochs: each batch size's mean over
    the same epochs; the x chosen is kept in the link"""
    open_link(b, url + "#view&s1.mean=train.batch_size")
    x = b.evaluate("(document.querySelector('.explore .xaxis') || {}).value")
    spans = []
    for i in range(b.evaluate("document.querySelectorAll('.explore svg.chart path.line.mean').length")):
        pts = b.evaluate(MEAN_POINTS + "(%d)" % i)
        spans.append((round(pts[0][0], 2), round(pts[-1][0], 2)))
    check(x == "epoch" and len(spans) > 1 and len(set(spans)) == 1,
          "%s opens in epochs (%s): each of its %d batch sizes' means spans the same epochs (%s)"
          % (what, x, len(spans), sorted(set(spans))))
    # a mean pooling batch sizes, in epochs: runs that end together end
    # together, exactly (issue 118: 4 decimals times the step put them at
    # 2.9999999985 and 3.0000000015, and rang 'ended sooner' on 15 of 18)
    open_link(b, url + "#view&s1.mean=model.norm.type&s1.x=epoch")
    ends = b.evaluate("[Array.from(document.querySelectorAll('.explore svg.chart .ends')).reduce(function (a, c) "
                      "{ return a + +c.getAttribute('data-runs'); }, 0), "
                      "document.querySelectorAll('.explore svg.chart path.line.mean').length]")
    check(ends[1] > 1 and ends[0] == 0, "%s in epochs by normalizer: no run of its %d means ends sooner (%d rings' runs)"
          % (what, ends[1], ends[0]))
    browser.explore_select(b, "xaxis", "samples seen")
    h = browser.wait_hash(b, ["s1.x=samples"])
    open_link(b, url + h)
    back = b.evaluate("[document.querySelector('.explore .xaxis').value, "
                      "document.querySelector('.explore svg.chart .xname').textContent]")
    check("s1.x=samples" in h and back == ["samples", "samples seen"],
          "samples seen chosen is kept in the link (%s) and opened again (%s)" % (h, back))


# the values at step x of the runs of the group the tip names (every
# varied key but the seed), from the page's JSON
VALUES_AT = """(function (label, x) {
  var box = document.querySelector('.explore');
  var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
  var t = +box.querySelector('.tag').value, keys = data.varied.filter(function (k) { return k !== data.seed; });
  var out = [];
  data.curves.forEach(function (c, i) {
    if (typeof c[1] === 'number') c[1] = data.curves[i - c[1]][1];
    var run = data.runs[c[0]];
    if (keys.map(function (k) { return data.keys[k] + '=' + (run.v[k] === '' ? '(not set)' : run.v[k]); }).join(', ') !==
        label) return;
    c[2].forEach(function (s) {
      var j = c[1].indexOf(x);
      if (s[0] === t && j >= 0 && s[1][j] !== null) out.push(s[1][j]);
    });
  });
  return [out, data.t975, (data.tag_units || [])[t] || ''];
})"""


def band_tip(b):
    """the first mean's last point hovered: its group, step, band"""
    pts = b.evaluate(MEAN_POINTS + "(0)")
    browser.mouse(b, "mouseMoved", pts[-1][1], pts[-1][2])
    tip = b.evaluate(TIP)
    m = re.search(r"^(.*?) step (\d+): .* band (-?[\d.e+-]+) to (-?[\d.e+-]+)", tip)
    return (m.group(1), int(m.group(2)), float(m.group(3)), float(m.group(4))) if m else None, tip


def check_band(b, url, what):
    """grouped over seeds the band is the 95 % t-interval of the mean, the
    tables' interval, said in the note; min-max chosen, the extremes"""
    open_link(b, url + "#view&s1.mean=~seed&s1.x=step")
    kind, note = b.evaluate("[(document.querySelector('.explore .bandkind') || {}).value, "
                            "document.querySelector('.explore .groupnote').textContent]")
    got, tip = band_tip(b)
    if not got:
        check(False, "%s: the tip over a mean says its band (%r)" % (what, tip))
        return
    label, x, lo, hi = got
    values, t975, unit = b.evaluate(VALUES_AT + "(%s, %d)" % (json.dumps(label), x))
    n = len(values)
    mean = sum(values) / n
    # the tables' interval (nl_stats_t_interval_within): a percentage's on
    # the logit scale, a loss's on the log scale, clipped where a value lies
    # on a bound (issue 118: the band was the plain one, labelled as theirs)
    top = 100.0 if unit == "%" else math.inf
    scale = "logit" if unit == "%" else "log" if unit in ("nats", "bits") else "linear"
    if scale != "linear" and any(v <= 0 or v >= top for v in values):
        scale = "clipped"
    to = {"logit": lambda v: math.log(v / 100) - math.log1p(-v / 100), "log": math.log}.get(scale, lambda v: v)
    back = {"logit": lambda v: 100 / (1 + math.exp(-v)), "log": math.exp}.get(scale, lambda v: v)
    vs = [to(v) for v in values]
    m = sum(vs) / n
    sd = (sum((v - m) ** 2 for v in vs) / (n - 1)) ** 0.5
    half = t975[n - 2] * sd / n ** 0.5
    want_lo, want_hi = back(m - half), back(m + half)
    if scale == "clipped":
        want_lo, want_hi = max(want_lo, 0.0), min(want_hi, top)

    def near(a, b_):
        return abs(a - b_) <= 1e-3 * max(1, abs(b_))
    # Student's t: 0.975 quantile at 97 degrees of freedom (tables: 1.9847)
    check(len(t975) < 97 or abs(t975[96] - 1.9847) < 1e-3, "the page's t quantiles are Student's (97 df: %s)"
          % (t975[96] if len(t975) > 96 else "-"))
    check(kind == "ci" and "95 % t-interval" in note and "tables" in note and near(lo, want_lo) and near(hi, want_hi),
          "%s grouped over seeds: the band is the 95 %% t-interval of the mean as the tables take it (%s scale) by "
          "default (%s), said in the note; at step %d %s: %.4g to %.4g over %d seeds, wanted %.4g to %.4g (mean %.4g)"
          % (what, scale, kind, x, label, lo, hi, n, want_lo, want_hi, mean))
    browser.explore_select(b, "bandkind", "min\u2013max")
    got, tip = band_tip(b)
    check(got and near(got[2], min(values)) and near(got[3], max(values)) and "min\u2013max" in
          b.evaluate("document.querySelector('.explore .groupnote').textContent") and "s1.band=minmax" in
          browser.wait_hash(b, ["s1.band=minmax"]),
          "min-max chosen: the band spans the extremes %.4g to %.4g (%r), kept in the link"
          % (min(values), max(values), tip))


# the means drawn: how many, their distinct colours, their distinct
# (colour, style) pairs; the legend's height in px
LOOKS = """(function () {
  var p = Array.from(document.querySelectorAll('.explore svg.chart path.line.mean'));
  var colours = {}, pairs = {};
  p.forEach(function (e) { colours[e.getAttribute('stroke')] = 1;
                           pairs[e.getAttribute('stroke') + '|' + (e.getAttribute('stroke-dasharray') || '')] = 1; });
  return [p.length, Object.keys(colours).length, Object.keys(pairs).length,
          document.querySelector('.explore .legend').getBoundingClientRect().height];
})()"""


def check_groups(b, url, what):
    """36 means told apart: each its own colour and line style, a compact
    legend; colouring by another key works while grouped"""
    open_link(b, url + "#view&s1.mean=~seed")
    n, colours, pairs, tall = b.evaluate(LOOKS)
    check(n > 10 and pairs == n and tall <= 150, "%s over seeds: each of the %d means has its own colour and line "
          "style (%d distinct), the legend %.0f px tall (at most 150)" % (what, n, pairs, tall))
    browser.explore_select(b, "by", "train.optimizer.lr")
    n2, colours2, pairs2, _ = b.evaluate(LOOKS)
    lrs = b.evaluate("""(function () { var box = document.querySelector('.explore');
      var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
      var k = data.keys.indexOf('train.optimizer.lr'), seen = {};
      data.runs.forEach(function (r) { seen[r.v[k]] = 1; });
      return Object.keys(seen).length; })()""")
    check(n2 == n and colours2 == lrs and pairs2 == n, "coloured by train.optimizer.lr while grouped: %d colours, one a "
          "learning rate (%d), each mean still its own colour and style (%d)" % (colours2, lrs, pairs2))


# the downloads a click starts, caught: [name, href, the SVG's text]
CATCH = """(function () {
  window.caught = [];
  var blobs = {}, made = URL.createObjectURL;
  URL.createObjectURL = function (b) { var u = made.call(URL, b); blobs[u] = b; return u; };
  HTMLAnchorElement.prototype.click = function () {
    var a = this, b = blobs[a.href];
    (b ? b.text() : Promise.resolve(null)).then(function (t) { window.caught.push([a.download, a.href.slice(0, 40), t]); });
  };
})()"""


def caught(b, n, timeout=10):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        got = b.evaluate("window.caught")
        if len(got) >= n:
            return got
        time.sleep(0.1)
    return b.evaluate("window.caught")


def check_export(b, url, out_dir, what):
    """the chart downloaded as SVG opens in Chromium as a figure whose axis
    titles and legend are text; as PNG, an image"""
    open_link(b, url + "#view&s1.mean=~seed")
    want = b.evaluate("""[Array.from(document.querySelectorAll('.explore .legend button.item')).map(function (e) {
      return e.getAttribute('aria-label') || e.textContent; }),
      document.querySelector('.explore svg.chart .xname').textContent,
      document.querySelector('.explore svg.chart .yname').textContent,
      document.querySelectorAll('.explore svg.chart path.line').length]""")
    b.evaluate(CATCH)
    b.evaluate("document.querySelector('.explore button.export[data-as=svg]').click()")
    b.evaluate("document.querySelector('.explore button.export[data-as=png]').click()")
    got = caught(b, 2)
    svg = next((g for g in got if g[0].endswith(".svg")), None)
    png = next((g for g in got if g[0].endswith(".png")), None)
    if not svg or not svg[2]:
        check(False, "%s: the SVG button downloads the chart (%s)" % (what, [g[:2] for g in got]))
        return
    path = os.path.join(out_dir, svg[0])
    with open(path, "w") as f:
        f.write(svg[2])
    open_link(b, "file://" + os.path.abspath(path))
    texts, lines, root = b.evaluate("""[Array.from(document.querySelectorAll('text')).map(function (t) { return t.textContent; }),
      document.querySelectorAll('path[stroke-dasharray], path[stroke]').length, document.documentElement.tagName]""")
    labels = [w.strip() for w in want[0]]
    missing = [label for label in labels if not any(t.startswith(label) for t in texts)]
    check(root == "svg" and want[1] in texts and want[2] in texts and not missing and lines >= want[3],
          "%s: %s opens in Chromium as SVG with its axis titles (%r, %r) and the %d legend entries as text%s, its %d "
          "lines drawn" % (what, svg[0], want[1], want[2], len(labels), "; missing " + ", ".join(missing[:3]) if missing
                           else "", lines))
    check(png is not None and png[1].startswith("data:image/png"), "%s: the PNG button downloads an image (%s)"
          % (what, png[:2] if png else None))


def check_not_set(b, url, what):
    """a run that does not set a varied key is labelled key=(not set), as
    the filters name it, never a bare key="""
    open_link(b, url + "#view&s1.mean=~seed")
    labels = b.evaluate("""Array.from(document.querySelectorAll('.explore .legend button.item')).map(function (e) {
      return e.getAttribute('aria-label') || e.textContent; })""")
    bare = [t for t in labels if re.search(r"=(,|\s|$)", t)]
    check(labels and not bare and any("=(not set)" in t for t in labels),
          "%s: the legend names a key a run does not set key=(not set) (%d entries%s)"
          % (what, len(labels), "; bare: " + ", ".join(bare[:2]) if bare else ""))


def check_over_cells(b, url, what):
    """a claim over cells (its rows ID[...] each a cell) is dimmed by a
    filter that keeps none of its cells' runs, as its rows are"""
    open_link(b, url + "#view&s1.filter.model.norm.type=rms")
    # each row's claim id: its first cell's own text, before the paper's words
    rows = b.evaluate("""Array.from(document.querySelectorAll('table.verdicts tbody tr')).map(function (tr) {
      return [tr.cells[0].firstChild.textContent.trim(), tr.classList.contains('outside')]; })""")
    dimmed_of = dict(rows)
    parents = {}
    for name, dimmed in rows:
        m = re.match(r"^(.+?)\[", name)
        if m:
            parents.setdefault(m.group(1), []).append(dimmed)
    judged = [(p, all(kids), dimmed_of[p]) for p, kids in parents.items() if p in dimmed_of]
    wrong = [p for p, want, got in judged if got != want]
    check(judged and not wrong and any(want for _, want, _ in judged),
          "%s with the filter model.norm.type=rms: each claim over cells is dimmed exactly when all its cells' rows are "
          "(%d claims, %d dimmed%s)" % (what, len(judged), sum(1 for _, w, _ in judged if w),
                                       "; wrong: " + ", ".join(wrong) if wrong else ""))


# the tick labels of the small charts past their edges
CLIPPED = """(function () {
  var bad = [];
  document.querySelectorAll('.explore').forEach(function (b) { if (b.drawPending) b.drawPending(); });
  document.querySelectorAll('.explore svg.minichart').forEach(function (svg) {
    var vb = svg.viewBox.baseVal;
    svg.querySelectorAll('.axes text').forEach(function (t) {
      var r = t.getBBox();
      if (r.x < -0.5 || r.x + r.width > vb.width + 0.5) bad.push(svg.getAttribute('data-tag') + ' ' + t.textContent);
    });
  });
  return bad;
})()"""


def check_small_labels(b, url, what):
    """the small charts' tick labels within their edges, at the full range
    (losses to 4e+35) linear and on a log scale"""
    for frag in ("#view&s1.full=1", "#view&s1.full=1&s1.log=1"):
        open_link(b, url + frag)
        bad = b.evaluate(CLIPPED)
        check(not bad, "%s %s: every small chart's tick labels inside it%s" % (what, frag, "; clipped: " +
                                                                             ", ".join(bad[:4]) if bad else ""))


def check_controls(b, url, what):
    """at a phone's width every control of the curves' view ends inside
    its box, and each select shows its choice whole (the "mean of" select
    cut "the seeds of each cell (every key but seed)" short)"""
    browser.load(b, "about:blank", 390, 900)
    b.send("Emulation.setDeviceMetricsOverride", {"width": 390, "height": 900, "deviceScaleFactor": 1, "mobile": True})
    open_link(b, url + "#view&s1.mean=~seed")
    past = b.evaluate("""(function () {
      var box = document.querySelector('.explore'), right = box.getBoundingClientRect().right;
      return Array.from(box.querySelectorAll('.controls select, .controls button, .controls input')).filter(function (e) {
        return !e.closest('[hidden]') && e.getBoundingClientRect().right > right + 0.5; }).map(function (e) {
        return e.className + ' ' + Math.round(e.getBoundingClientRect().right) + ' > ' + Math.round(right); });
    })()""")
    cut = b.evaluate("""(function () {
      var ctx = document.createElement('canvas').getContext('2d');
      return Array.from(document.querySelectorAll('.explore .controls select')).filter(function (s) {
        if (s.closest('[hidden]') || s.selectedIndex < 0) return false;
        ctx.font = getComputedStyle(s).font;
        return ctx.measureText(s.options[s.selectedIndex].text).width + 20 > s.getBoundingClientRect().width;
      }).map(function (s) { return s.options[s.selectedIndex].text; });
    })()""")
    b.send("Emulation.setDeviceMetricsOverride", {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False})
    check(not cut, "%s at 390 px: each select of the curves' view shows its choice whole%s"
          % (what, "; cut: " + ", ".join(cut) if cut else ""))
    check(not past, "%s at 390 px: every control of the curves' view inside its box%s" % (what, "; past it: " +
                                                                                          ", ".join(past) if past else ""))


def check_paths(b, normlab, out_dir):
    """a sweep given as dir/../dir: the page names it and its experiment
    file read lexically, without "/../" """
    url = "file://" + browser.make_report(normlab, "results/group-count-confirm/../group-count-confirm", out_dir,
                                          "dotdot.html")[0]
    open_link(b, url)
    shown = b.evaluate("""[document.querySelector('section p.path').textContent,
      (Array.from(document.querySelectorAll('p.small')).find(function (p) {
        return /^Experiment file:/.test(p.textContent); }) || {}).textContent]""")
    check(shown[0] == "results/group-count-confirm" and shown[1] and "/../" not in shown[1],
          "a sweep given as results/group-count-confirm/../group-count-confirm is named %r, its experiment file %r"
          % (shown[0], (shown[1] or "")[:80]))


HOSTILE = [
    ("#%", None),
    ("#view&s1.re=100%", None),
    # nested repetitions that take a backtracking engine exponential time
    # (issue 118: (a{1,9}){1,9}$ froze the page past 60 s in V8, and
    # ((.?){8}){8}! on ordinary run names): the page's own matcher takes
    # linear time, so they are applied (tests/report/regex.py has more)
    ("#view&s1.re=(a%2B)%2B%24", "runs match"),
    ("#view&s1.re=(.%2B)%2B!", "runs match"),
    ("#view&s1.re=" + urllib.parse.quote("(a{1,9}){1,9}$", safe=""), "runs match"),
    ("#view&s1.re=" + urllib.parse.quote("((a?){8}){8}$", safe=""), "runs match"),
    ("#view&s1.re=" + urllib.parse.quote("((.?){8}){8}!", safe=""), "runs match"),
    # an automaton of over 10,000 states, and a back-reference: refused
    ("#view&s1.re=" + "a" * 200000, "not applied"),
    ("#view&s1.re=" + urllib.parse.quote("(a)\\1", safe=""), "not applied"),
]


def open_link(b, link, timeout=20):
    """the page loaded anew at link: its load finished, at that address
    (a hung page raises TimeoutError)"""
    b.send("Page.navigate", {"url": "about:blank"})
    time.sleep(0.3)
    b.events.clear()
    b.send("Page.navigate", {"url": link})
    end = time.monotonic() + timeout
    while b.evaluate("location.href === %s && document.readyState === 'complete'" % json.dumps(link)) is not True:
        if time.monotonic() > end:
            raise TimeoutError("not loaded in %d s" % timeout)
        time.sleep(0.1)


def check_fragments(b, url, chromium):
    """each hostile fragment: the page loads, logs no error, says why an
    expression was not applied, draws, and its handlers work"""
    for frag, says in HOSTILE:
        name = frag if len(frag) < 40 else frag[:30] + "... (%d characters)" % len(frag)
        try:
            open_link(b, url + frag)
        except (TimeoutError, RuntimeError) as e:
            check(False, "%s: the page loads (%s)" % (name, str(e)[:100]))
            b.close()
            b = cdp.Browser(chromium, timeout=30)
            b.open_page()
            continue
        said, asked = browser.problems(b, url)
        check(not said, "%s: no error loading it%s" % (name, ": " + "; ".join(said)[:200] if said else ""))
        got = b.evaluate("""(function () {
          var box = document.querySelector('.explore');
          var lines = box.querySelectorAll('svg.chart path.line').length;
          var says = box.querySelector('.resays').textContent;
          var d = Array.from(document.querySelectorAll('details[id]')).filter(function (e) { return /-run-/.test(e.id); });
          d.forEach(function (e) { e.open = false; });
          location.hash = '#' + d[0].id;
          return [lines, says, d[0].id];
        })()""")
        time.sleep(0.3)
        opened = b.evaluate("document.getElementById(%s).open" % json.dumps(got[2]))
        printed = b.evaluate("""(function () {
          window.dispatchEvent(new Event('beforeprint'));
          return Array.from(document.querySelectorAll('details')).every(function (d) { return d.open; });
        })()""")
        check((got[0] > 0 or "0 of" in got[1]) and (says is None or says in got[1]) and opened and printed,
              "%s: the curves are drawn (%d), %s a link opens a run's details (%s) and printing opens them all (%s)"
              % (name, got[0], "the expression is said %s (%r)," % (says, got[1][:160]) if says else got[1] + ",",
                 opened, printed))
    check_typed(b, url)
    return b


# typed into the box: refused with a reason, or applied
TYPED = [("(a+)+$", True), ("(a|a)*x", True), ("(.*)*!", True), ("(\\w+\\s?)+$", True), ("(a)\\1", False),
         (".*.*.*.*.*!", True), ("^type-none_lr-0\\.1_", True), ("batch|layer", True), ("lr-0\\.(1|3)_", True),
         ("[ab]+c*", True), (".*batch.*seed-1$", True), ("seed-(1|2)$", True),
         # issue 118: a group holding a repetition, repeated a bounded number
         # of times, and choices that multiply: linear in the page's matcher
         ("(a{1,9}){1,9}$", True), ("(a{0,8}){0,8}!", True), ("((a?){8}){8}$", True),
         ("((.?){8}){8}!", True), ("(.*){9}!", True), (".?" * 30 + "!", True),
         ("(a|a)" * 30 + "!", True), ("seed-(1|2)?$", True), ("(?=a)", False), ("a{20000}", False)]


def check_typed(b, url):
    """expressions typed: those a backtracking engine takes exponential
    time over applied at once, as the usual ones, the page answering; those
    the page's matcher does not match refused, saying why"""
    open_link(b, url)
    for text, applied in TYPED:
        started = time.monotonic()
        browser.type_regex(b, text)
        says = b.evaluate("document.querySelector('.explore .resays').textContent")
        took = time.monotonic() - started
        ok = ("runs match" in says) if applied else ("not applied" in says or "not a regular expression" in says)
        check(ok and took < 5, "typed %s: %s (%r)" % (text, "applied" if applied else "refused", says[:120]))


# the large chart and the first small one, as drawn now, after a smoothing
# step's handler has returned, and after what is due has been drawn
SMOOTHED = """(function () {
  var box = document.querySelector('.explore'), s = box.querySelector('.smooth');
  function now() { return [box.querySelector('svg.chart path.line').getAttribute('d'),
                           box.querySelector('svg.minichart path.line').getAttribute('d')]; }
  var before = now();
  s.value = 0.9;
  s.dispatchEvent(new Event('input'));
  var answered = now();
  return { before: before, answered: answered };
})()"""


def check_small_charts_later(b, url, what):
    """an interaction answers with the large chart, and the small charts
    follow in a task of their own, without being asked (issue 102: they
    were half a keystroke's time and most of a smoothing step's at 1,000
    runs)"""
    open_link(b, url)
    got = b.evaluate(SMOOTHED)
    before, answered = got["before"], got["answered"]
    check(answered[0] != before[0] and answered[1] == before[1],
          "%s: a smoothing step's handler redraws the large chart and leaves the small ones for later" % what)
    time.sleep(0.5)
    later = b.evaluate("document.querySelector('.explore svg.minichart path.line').getAttribute('d')")
    check(later != before[1], "%s: the small charts are redrawn a task later, unasked" % what)


def guarded(what, f, *args):
    """f(*args); a page that cannot answer it (its script failed, an
    element missing) fails that check alone"""
    try:
        return f(*args)
    except (RuntimeError, TimeoutError, KeyError, TypeError, IndexError) as e:
        check(False, "%s: the page could not be checked: %s" % (what, str(e)[:200]))
        return None


def main():
    args = browser.page_test_args(__doc__)
    if not args:
        return browser.SKIP
    normlab, out_dir, chromium = args
    b = cdp.Browser(chromium, timeout=30)
    try:
        b.open_page()
        lr = page(normlab, "results/lr-tolerance", out_dir)
        fewer = guarded("means", check_means, b, lr, r"^type-none_lr-0\.1_", "~seed",
                        "lr-tolerance, lr 0.1 without normalization")
        check(fewer, "there, a mean is of fewer runs than its group's somewhere (%s means)" % fewer)
        guarded("range", check_range, b, lr)
        guarded("groups", check_groups, b, lr, "lr-tolerance")
        guarded("export", check_export, b, lr, out_dir, "lr-tolerance")
        guarded("labels", check_small_labels, b, lr, "lr-tolerance")
        guarded("controls", check_controls, b, lr, "lr-tolerance")
        guarded("small charts", check_small_charts_later, b, lr, "lr-tolerance")
        cnn = page(normlab, "results/wu-he-batch-cnn", out_dir)
        fewer = guarded("means", check_means, b, cnn, "", "model.norm.type", "wu-he-batch-cnn by normalizer")
        check(fewer, "there, a mean is of fewer runs than its group's somewhere (%s means)" % fewer)
        guarded("epochs", check_epochs, b, cnn, "wu-he-batch-cnn")
        guarded("between", check_between, b, cnn, "wu-he-batch-cnn")
        guarded("no band of one", check_no_band_of_one, b, cnn, "wu-he-batch-cnn")
        guarded("band", check_band, b, page(normlab, "results/wu-he-batch-mlp-confirm2", out_dir),
                "wu-he-batch-mlp-confirm2")
        guarded("not set", check_not_set, b, page(normlab, "results/group-count-confirm", out_dir),
                "group-count-confirm")
        guarded("outside", check_outside_true, b, page(normlab, "results/lr-tolerance-cnn-confirm3", out_dir),
                "lr-tolerance-cnn-confirm3")
        guarded("paths", check_paths, b, normlab, out_dir)
        guarded("over cells", check_over_cells, b, page(normlab, "results/ba-ln-lstm-kjv", out_dir), "ba-ln-lstm-kjv")
        b = check_fragments(b, lr, chromium)
    finally:
        b.close()
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
