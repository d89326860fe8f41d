#!/usr/bin/python3
"""normlab report in a real browser (test_report_browser): makes the page
of a committed sweep, loads it in headless Chromium over the DevTools
protocol (cdp.py) and checks that it logs no console error, asks for
nothing outside the file, draws every figure (an SVG box with size and
marks), sorts the runs table by a clicked column and filters it by a
varied key's select; drives the curves' view through the protocol's
mouse (hover, a dragged zoom, a double-click) and its controls
(smoothing, log scale, the parallel coordinates' metric, a filter) and
checks that each changes what is drawn; measures element boxes (no
column of a table past its box at 1280 px, the first number of each row
on the screen at 390 px, no config key or metric name broken mid-word
there); then screenshots it at a laptop's and a
phone's width. Last, a 500-run sweep made from copies of the sweep's
runs (many.py): its page stays within 2 MB, loads and sorts.

    tests/report/browser.py NORMLAB SWEEP_DIR OUT_DIR [--shots WIDTHxHEIGHT[+TOP],...]

Run from the repository root (the sweep's experiment file is found in
experiments/). Exit 0 passed, 1 failed, 77 skipped (no Chromium). The
screenshots go to OUT_DIR/report-WIDTH.png."""
import base64
import json
import os
import re
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

SKIP = 77
failures = []


def check(ok, what):
    print(("ok:     " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


def make_report(normlab, sweep, out_dir, name="report.html", extra=()):
    os.makedirs(out_dir, exist_ok=True)
    page = os.path.join(out_dir, name)
    started = time.monotonic()
    made = subprocess.run([normlab, "report", sweep, "--out", page, "--force"] + list(extra), capture_output=True,
                          text=True)
    print("normlab report: %.1f s, exit %d: %s%s" % (time.monotonic() - started, made.returncode,
                                                    made.stdout.strip(), made.stderr.strip()))
    if made.returncode != 0:
        sys.exit("normlab report failed")
    figures = int(made.stdout.split(" figure")[0].rsplit(" ", 1)[1])
    return os.path.abspath(page), figures


def load(b, url, width, height):
    b.send("Emulation.setDeviceMetricsOverride", {"width": width, "height": height, "deviceScaleFactor": 1,
                                                  "mobile": width < 600})
    b.events.clear()
    b.send("Page.navigate", {"url": url})
    b.wait_event("Page.loadEventFired")


def problems(b, url):
    """console errors and warnings, exceptions, and requests outside the file"""
    said, asked = [], []
    for e in b.events:
        m, p = e.get("method"), e.get("params", {})
        if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "warning", "assert"):
            said.append("console.%s: %s" % (p["type"], " ".join(str(a.get("value")) for a in p.get("args", []))))
        elif m == "Runtime.exceptionThrown":
            said.append("exception: %s" % p["exceptionDetails"].get("text"))
        elif m == "Log.entryAdded" and p["entry"]["level"] in ("error", "warning"):
            said.append("log: %s" % p["entry"]["text"])
        elif m == "Network.requestWillBeSent":
            request = p["request"]["url"]
            if request != url and not request.startswith("data:"):
                asked.append(request)
    return said, asked


# per figure: its size, its marks, the references (a point's <use href>, a
# clip path's url(#...)) that name no element of that figure, and the ids
# another part of the page holds too
FIGURES = """Array.from(document.querySelectorAll('figure .svgbox svg')).map(function (s) {
  var r = s.getBoundingClientRect();
  var dangling = 0, repeated = 0;
  s.querySelectorAll('use').forEach(function (u) {
    var h = u.getAttribute('href') || u.getAttributeNS('http://www.w3.org/1999/xlink', 'href') || '';
    var target = h[0] === '#' ? document.getElementById(h.slice(1)) : null;
    if (!target || !s.contains(target)) dangling++;
  });
  s.querySelectorAll('[clip-path], [fill^="url("], [stroke^="url("]').forEach(function (e) {
    ['clip-path', 'fill', 'stroke'].forEach(function (a) {
      var m = /url\\(#([^)]+)\\)/.exec(e.getAttribute(a) || '');
      if (m && !s.contains(document.getElementById(m[1]))) dangling++;
    });
  });
  /* gnuplot's multiplot repeats its group ids within one figure (nothing
   * refers to them); another figure's or the page's id is a collision */
  s.querySelectorAll('[id]').forEach(function (e) {
    document.querySelectorAll('[id="' + e.id + '"]').forEach(function (o) { if (!s.contains(o)) repeated++; });
  });
  return [r.width, r.height, s.querySelectorAll('path, text, use').length, dangling, repeated,
          s.querySelectorAll('use').length];
})"""

COLUMN = """(function (table, col) {
  return Array.from(document.getElementById(table).tBodies[0].rows).filter(function (r) { return !r.hidden; })
    .map(function (r) { var c = r.cells[col]; var v = c.getAttribute('data-v');
                        return v === null ? c.textContent.trim() : parseFloat(v); });
})"""


def header_index(b, table, prefix):
    return b.evaluate("Array.from(document.getElementById('%s').tHead.rows[0].cells).findIndex("
                      "function (th) { return th.textContent.trim().indexOf('%s') === 0; })" % (table, prefix))


def click_header(b, table, col):
    b.evaluate("document.getElementById('%s').tHead.rows[0].cells[%d].querySelector('button').click()"
               % (table, col))


def numbers_sorted(values, descending):
    finite = [v for v in values if isinstance(v, (int, float)) and v == v]
    tail = values[len(finite):]
    ordered = finite == sorted(finite, reverse=descending)
    return ordered and all(not (isinstance(v, (int, float)) and v == v) for v in tail)


def check_sorting(b):
    table = b.evaluate("document.querySelector('table[id$=\"-runtable\"]').id")
    col = header_index(b, table, "final_test_error")
    if col < 0:
        col = header_index(b, table, "final_test_loss")
    check(col >= 0, "the runs table %s has a final metric column" % table)
    click_header(b, table, col)
    up = b.evaluate(COLUMN + "('%s', %d)" % (table, col))
    check(numbers_sorted(up, False) and len(set(up)) > 1, "a click sorts the runs by the column, ascending "
          "(%s ... %s)" % (up[:3], up[-3:]))
    click_header(b, table, col)
    down = b.evaluate(COLUMN + "('%s', %d)" % (table, col))
    check(numbers_sorted(down, True), "a second click sorts it descending (%s ...)" % down[:3])
    # a column whose values span decades: sorted as text it would not be in order
    col = header_index(b, table, "samples_per_s")
    click_header(b, table, col)
    up = b.evaluate(COLUMN + "('%s', %d)" % (table, col))
    as_text = sorted(up, key=lambda v: ("%s" % v))
    check(numbers_sorted(up, False) and as_text != up, "samples_per_s sorts by value, not as text (%s ... %s)"
          % (up[:2], up[-2:]))
    # a varied key's column (text cells): numbers in it by value
    col = header_index(b, table, "train.batch_size")
    click_header(b, table, col)
    up = [float(v) for v in b.evaluate(COLUMN + "('%s', %d)" % (table, col))]
    check(up == sorted(up) and len(set(up)) > 2, "train.batch_size sorts by value (%s)" % sorted(set(up)))
    click_header(b, table, 0)
    names = b.evaluate(COLUMN + "('%s', 0)" % table)
    check(names == sorted(names, key=lambda s: [int(t) if t.isdigit() else t for t in _split_digits(s)]),
          "the run column sorts by name, numbers by value (%s ...)" % names[:2])


def _split_digits(s):
    return [t for t in re.split(r"(\d+)", s) if t]


SELECT = """(function (key, value) {
  var s = document.querySelector('.filters select[data-key="' + key + '"]');
  s.value = value; s.dispatchEvent(new Event('change'));
})"""

ROWS = """(function (table, key) {
  var t = document.getElementById(table);
  var col = Array.from(t.tHead.rows[0].cells).findIndex(function (th) { return th.getAttribute('data-key') === key; });
  if (col < 0) return null;
  return Array.from(t.tBodies[0].rows).map(function (r) { return [r.cells[col].getAttribute('data-k'), !r.hidden]; });
})"""


def filtered(b, tables, want):
    """every table's rows shown are exactly those with the wanted values"""
    bad = []
    for table in tables:
        shown, expected = None, None
        for key, value in want.items():
            rows = b.evaluate(ROWS + "(%r, %r)" % (table, key))
            if rows is None:
                continue
            keep = [k == value for k, _ in rows]
            expected = keep if expected is None else [x and y for x, y in zip(expected, keep)]
            shown = [v for _, v in rows]
        if expected is not None and shown != expected:
            bad.append("%s shows %d rows, %d have %s" % (table, sum(shown), sum(expected), want))
    return bad


def check_filtering(b):
    """each value of each varied key's select, then two keys at once: the
    rows shown are exactly those with the chosen values"""
    keys = b.evaluate("Array.from(document.querySelectorAll('.filters')[0].querySelectorAll('select')).map("
                      "function (s) { return [s.getAttribute('data-key'), Array.from(s.options).map("
                      "function (o) { return o.value; }).slice(1)]; })")
    tables = b.evaluate("Array.from(document.querySelectorAll('table[data-group]')).map(function (t) "
                        "{ return t.id; })")
    bad, tried = [], 0
    for key, values in keys:
        for value in values:
            b.evaluate(SELECT + "(%r, %r)" % (key, value))
            bad += filtered(b, tables, {key: value[1:]})
            tried += 1
        b.evaluate(SELECT + "(%r, '*')" % key)
    check(tried > 4 and not bad, "each of %d values of %d keys filters the tables %s to exactly its rows%s"
          % (tried, len(keys), tables, ": " + "; ".join(bad[:3]) if bad else ""))
    (k1, v1), (k2, v2) = keys[0], keys[1]
    b.evaluate(SELECT + "(%r, %r)" % (k1, v1[-1]))
    b.evaluate(SELECT + "(%r, %r)" % (k2, v2[0]))
    bad = filtered(b, tables, {k1: v1[-1][1:], k2: v2[0][1:]})
    twins = b.evaluate("Array.from(document.querySelectorAll(%s)).map(function (s) { return s.value; })"
                       % json.dumps('.filters select[data-key="%s"]' % k1))
    check(not bad and len(set(twins)) == 1, "%s=%s and %s=%s together keep the rows with both; the other "
          "filter box shows the same choice%s" % (k1, v1[-1][1:], k2, v2[0][1:], ": " + "; ".join(bad) if bad else ""))
    b.evaluate(SELECT + "(%r, '*')" % k1)
    b.evaluate(SELECT + "(%r, '*')" % k2)
    hidden = b.evaluate("document.querySelectorAll('table[data-group] tbody tr[hidden]').length")
    check(hidden == 0, "'all' shows every row again")


# per table of numbers: its width and its box's (it overflows when wider)
OVERFLOW = """Array.from(document.querySelectorAll('.scroll > table')).map(function (t) {
  var box = t.parentNode.getBoundingClientRect(), r = t.getBoundingClientRect();
  var ths = Array.from(t.tHead ? t.tHead.rows[0].cells : []);
  var out = ths.filter(function (th) { return th.getBoundingClientRect().right > box.right + 1; })
               .map(function (th) { return th.textContent.trim(); });
  return [t.id || t.className || 'table', Math.round(r.width), Math.round(box.width), out];
})"""

# per row of a table with numbers: where its first number is on the screen
FIRST_NUMBER = """Array.from(document.querySelectorAll('table')).map(function (t) {
  var rows = Array.from(t.tBodies.length ? t.tBodies[0].rows : []).filter(function (r) { return !r.hidden; });
  var out = rows.map(function (r) {
    var td = r.querySelector('td.num');
    if (!td) return null;
    td.scrollIntoView({block: 'center', inline: 'nearest'});
    var b = td.getBoundingClientRect();
    return b.left >= 0 && b.right <= innerWidth + 0.5 && b.width > 0 ? null : [r.rowIndex, Math.round(b.left),
                                                                              Math.round(b.right)];
  }).filter(Boolean);
  return [t.id || 'table', rows.filter(function (r) { return r.querySelector('td.num'); }).length, out.slice(0, 3)];
}).filter(function (x) { return x[1] > 0; })"""

# every element whose text holds a name of dotted or underscored parts (a
# config key, a metric): where its lines break, read from the boxes of its
# characters (a Range per character), with every <details> open; a break
# between two letters or digits splits a part mid-word (at 390 px
# "model.norm.stats_precisi|on" did). Returns [names measured, bad breaks].
NAME_BREAKS = r"""(function () {
  var folded = Array.from(document.querySelectorAll('details:not([open])'));
  folded.forEach(function (d) { d.open = true; });
  var name = /[A-Za-z0-9]+([._][A-Za-z0-9]+)+/, bad = [], seen = 0, parents = new Map();
  var walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (var n = walker.nextNode(); n; n = walker.nextNode()) {
    var e = n.parentElement;
    if (!e || e.closest('svg, script, style')) continue;
    if (!parents.has(e)) parents.set(e, []);
    parents.get(e).push(n);
  }
  var range = document.createRange();
  parents.forEach(function (nodes, e) {
    var text = nodes.map(function (n) { return n.textContent; }).join('');
    var box = e.getBoundingClientRect();
    if (!name.test(text) || (box.width === 0 && box.height === 0)) return;
    seen++;
    /* a text node on one line box breaks nowhere inside: its characters
     * are measured one by one only when it spans more (the 588-run page
     * holds some 100,000 names' characters) */
    var prev = '', top = null, before = '';
    nodes.forEach(function (n) {
      var t = n.textContent;
      range.selectNodeContents(n);
      var whole = range.getClientRects();
      if (whole.length <= 1) {
        if (!whole.length || !t.length) return;
        if (top !== null && whole[0].top > top + 2 && /[A-Za-z0-9]/.test(prev) && /[A-Za-z0-9]/.test(t[0]))
          bad.push(e.tagName.toLowerCase() + ' ' + before + '|' + text.slice(before.length));
        top = whole[0].top; prev = t[t.length - 1]; before += t;
        return;
      }
      for (var i = 0; i < t.length; i++) {
        range.setStart(n, i); range.setEnd(n, i + 1);
        var rects = range.getClientRects(), c = t[i];
        if (!rects.length) { before += c; continue; }
        if (top !== null && rects[0].top > top + 2 && /[A-Za-z0-9]/.test(prev) && /[A-Za-z0-9]/.test(c))
          bad.push(e.tagName.toLowerCase() + ' ' + before + '|' + text.slice(before.length));
        top = rects[0].top; prev = c; before += c;
      }
    });
  });
  folded.forEach(function (d) { d.open = false; });
  return [seen, bad];
})()"""


def check_layout(b, width):
    """at a laptop's width no column of a table is past its box's edge; at a
    phone's, the first number of every row is on the screen unscrolled"""
    if width >= 1000:
        over = [t for t in b.evaluate(OVERFLOW) if t[3]]
        check(not over, "at %d px no column of a table overflows its box%s" % (width, "".join(
            "; %s is %d px in %d (past the edge: %s)" % (t[0], t[1], t[2], ", ".join(t[3][:4])) for t in over)))
    else:
        tables = b.evaluate(FIRST_NUMBER)
        bad = [t for t in tables if t[2]]
        check(tables and not bad, "at %d px the first number of each of the %d rows of %d tables is in view%s" % (
            width, sum(t[1] for t in tables), len(tables), "".join("; %s rows %s" % (t[0], t[2]) for t in bad)))
        seen, split = b.evaluate(NAME_BREAKS)
        check(seen > 0 and not split, "at %d px none of the %d names (config keys, metrics) on the page breaks "
              "mid-word, only after a '.' or '_'%s" % (width, seen, "".join("; " + x for x in sorted(set(split))[:4])))
        b.evaluate("window.scrollTo(0, 0)")


# the explore box of the first section: what it draws
DRAWN = """(function () {
  var box = document.querySelector('.explore');
  var lines = box.querySelectorAll('svg.chart path.line');
  var tip = box.querySelector('.tip');
  return { lines: lines.length, first: lines.length ? lines[0].getAttribute('d') : '',
           xticks: Array.from(box.querySelectorAll('svg.chart .xtick')).map(function (t) { return t.textContent; }),
           yticks: Array.from(box.querySelectorAll('svg.chart .axes text:not(.xtick)')).map(function (t) {
             return t.textContent; }),
           tip: tip.hidden ? '' : tip.textContent,
           pc: Array.from(box.querySelectorAll('svg.pc polyline')).map(function (l) { return l.getAttribute('stroke'); }),
           count: box.querySelector('.count').textContent,
           outside: document.querySelectorAll('tr.outside').length,
           claims: document.querySelectorAll('table.verdicts tbody tr').length };
})()"""

# the chart's client point at viewBox (x, y), the chart scrolled into view
CHART_POINT = """(function (x, y) {
  var svg = document.querySelector('.explore svg.chart');
  svg.scrollIntoView({block: 'center'});
  var p = svg.createSVGPoint(); p.x = x; p.y = y;
  var q = p.matrixTransform(svg.getScreenCTM());
  return [q.x, q.y];
})"""

# a point on the middle of the first line, in client coordinates
LINE_POINT = """(function () {
  var svg = document.querySelector('.explore svg.chart'), path = svg.querySelector('path.line');
  svg.scrollIntoView({block: 'center'});
  var p = path.getPointAtLength(path.getTotalLength() / 2);
  var q = p.matrixTransform(svg.getScreenCTM());
  return [q.x, q.y];
})()"""


def mouse(b, kind, x, y, clicks=1):
    b.send("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left" if kind != "mouseMoved"
                                        else "none", "clickCount": clicks})


def control(b, cls, value):
    """sets the explore box's control (select or range) and tells its script"""
    b.evaluate("""(function () { var e = document.querySelector('.explore .%s'); e.value = %s;
                  e.dispatchEvent(new Event(e.tagName === 'SELECT' ? 'change' : 'input')); })()""" % (cls, json.dumps(value)))


# the parallel coordinates' first axis: its drag area's top and bottom,
# in client coordinates, scrolled into view
PC_AXIS = """(function () {
  var a = document.querySelector('.explore svg.pc .brusharea');
  a.scrollIntoView({block: 'center'});
  var r = a.getBoundingClientRect();
  return [r.left + r.width / 2, r.top + 8, r.bottom - 8];
})()"""


def check_brush(b):
    """a drag along a parallel-coordinates axis keeps the runs in the
    dragged range (the others dim, their curves leave the chart) and
    selects no text; a click on the axis lets them all back"""
    before = b.evaluate(DRAWN)
    x, top, bottom = b.evaluate(PC_AXIS)
    mouse(b, "mousePressed", x, top)
    mouse(b, "mouseMoved", x, (top + bottom) / 2)
    mouse(b, "mouseMoved", x, top + (bottom - top) * 0.45)
    mouse(b, "mouseReleased", x, top + (bottom - top) * 0.45)
    dimmed = b.evaluate("document.querySelectorAll('.explore svg.pc polyline.dim').length")
    brushed = b.evaluate(DRAWN)
    selected = b.evaluate("String(window.getSelection())")
    check(0 < dimmed < len(before["pc"]) and 0 < brushed["lines"] < before["lines"] and selected == "",
          "dragging along the first parallel axis keeps the runs in its range: %d of %d lines dim, %d of %d curves "
          "drawn, no text selected (%r)" % (dimmed, len(before["pc"]), brushed["lines"], before["lines"], selected))
    mouse(b, "mousePressed", x, top + 20)
    mouse(b, "mouseReleased", x, top + 20)
    after = b.evaluate(DRAWN)
    check(after["lines"] == before["lines"] and not b.evaluate("document.querySelectorAll('.explore svg.pc "
                                                                 "polyline.dim').length"),
          "a click on the axis clears its range (%d curves)" % after["lines"])


def check_explore(b):
    """hover, smoothing, zoom, log scale, parallel coordinates and filters
    each change what the curves' view draws"""
    before = b.evaluate(DRAWN)
    check(before["lines"] > 10 and len(before["pc"]) > 10, "the curves' view draws %d curves and %d runs' parallel "
          "coordinates" % (before["lines"], len(before["pc"])))
    x, y = b.evaluate(LINE_POINT)
    mouse(b, "mouseMoved", x, y)
    tip = b.evaluate(DRAWN)["tip"]
    check("step" in tip and re.search(r"seed-\d", tip) is not None, "hovering a curve names its run, step and value "
          "(%r)" % tip)
    control(b, "smooth", "0.9")
    smoothed = b.evaluate(DRAWN)
    check(smoothed["first"] != before["first"], "smoothing 0.9 redraws the curves")
    control(b, "smooth", "0")
    check(b.evaluate(DRAWN)["first"] == before["first"], "smoothing 0 draws them as logged again")
    (x0, y0), (x1, y1) = b.evaluate(CHART_POINT + "(200, 60)"), b.evaluate(CHART_POINT + "(420, 200)")
    mouse(b, "mousePressed", x0, y0)
    mouse(b, "mouseMoved", (x0 + x1) / 2, (y0 + y1) / 2)
    mouse(b, "mouseMoved", x1, y1)
    mouse(b, "mouseReleased", x1, y1)
    zoomed = b.evaluate(DRAWN)
    check(zoomed["xticks"] != before["xticks"] and zoomed["yticks"] != before["yticks"],
          "dragging a box zooms to it (steps %s ... to %s ...)" % (before["xticks"][:2], zoomed["xticks"][:2]))
    mouse(b, "mousePressed", x0, y0, 1)
    mouse(b, "mouseReleased", x0, y0, 1)
    mouse(b, "mousePressed", x0, y0, 2)
    mouse(b, "mouseReleased", x0, y0, 2)
    check(b.evaluate(DRAWN)["xticks"] == before["xticks"], "a double-click zooms out")
    b.evaluate("document.querySelector('.explore .log').click()")
    logged = b.evaluate(DRAWN)
    check(logged["yticks"] != before["yticks"] and logged["first"] != before["first"], "the log scale redraws the "
          "curves on new ticks (%s)" % logged["yticks"][:4])
    b.evaluate("document.querySelector('.explore .log').click()")
    metrics = b.evaluate("Array.from(document.querySelectorAll('.explore .metric option')).map(function (o) "
                         "{ return o.value; })")
    control(b, "metric", metrics[0] if metrics[0] != b.evaluate("document.querySelector('.explore .metric').value")
            else metrics[1])
    check(b.evaluate(DRAWN)["pc"] != before["pc"], "another metric recolours the parallel coordinates")
    check_brush(b)
    key, values = b.evaluate("(function () { var s = document.querySelector('.filters select'); return "
                             "[s.getAttribute('data-key'), Array.from(s.options).map(function (o) { return o.value; })];"
                             " })()")
    b.evaluate(SELECT + "(%r, %r)" % (key, values[1]))
    narrowed = b.evaluate(DRAWN)
    check(0 < narrowed["lines"] < before["lines"] and 0 < len(narrowed["pc"]) < len(before["pc"]) and
          narrowed["count"] != before["count"], "the filter %s=%s narrows the curves (%d of %d) and the parallel "
          "coordinates (%d of %d): %s" % (key, values[1][1:], narrowed["lines"], before["lines"], len(narrowed["pc"]),
                                          len(before["pc"]), narrowed["count"]))
    if before["claims"]:
        check(0 < narrowed["outside"] < before["claims"], "it dims the claims whose cells hold none of its runs "
              "(%d of %d)" % (narrowed["outside"], before["claims"]))
    b.evaluate(SELECT + "(%r, '*')" % key)
    check(b.evaluate(DRAWN)["lines"] == before["lines"] and b.evaluate(DRAWN)["outside"] == 0,
          "'all' draws every curve again and dims no claim")


def screenshot(b, path, width, height, top=0):
    shot = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                             "clip": {"x": 0, "y": top, "width": width, "height": height,
                                                      "scale": 1}})
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print("screenshot: %s" % path)


def run(b, url, figures, out_dir, shots):
    b.open_page()
    load(b, url, 1280, 900)
    sizes = b.evaluate(FIGURES)
    check(len(sizes) == figures and figures > 0, "the page holds the %d figures normlab drew (%d)"
          % (figures, len(sizes)))
    for i, (w, h, marks, dangling, repeated, points) in enumerate(sizes):
        check(w > 300 and h > 150 and marks > 20, "figure %d is drawn: %.0f x %.0f px, %d marks" % (i + 1, w, h,
                                                                                                    marks))
        check(not dangling and not repeated, "figure %d: each of its references (%d points among them) names an "
              "element of its own (%d do not; %d ids also elsewhere on the page)" % (i + 1, points, dangling, repeated))
    check_sorting(b)
    check_filtering(b)
    check_explore(b)
    check_layout(b, 1280)
    said, asked = problems(b, url)
    check(not said, "no console error or warning%s" % (": " + "; ".join(said) if said else ""))
    check(not asked, "no request outside the file%s" % (": " + ", ".join(asked) if asked else ""))
    for width, height, top in shots:
        load(b, url, width, 900)
        wide = b.evaluate("document.documentElement.scrollWidth")
        check(wide <= width, "at %d px the page is no wider than the screen (%d px; wide tables scroll in "
              "their boxes)" % (width, wide))
        if width < 600:
            wide = b.evaluate("document.querySelectorAll('.scroll.wide, .figscroll.wide').length")
            check(wide > 0, "at %d px the %d boxes wider than the screen say they scroll sideways" % (width, wide))
            check_layout(b, width)
        screenshot(b, os.path.join(out_dir, "report-%d%s.png" % (width, "-%d" % top if top else "")), width, height,
                   top)
        said, asked = problems(b, url)
        check(not said and not asked, "at %d px: no console error, no request outside the file" % width)


MANY = 500
MANY_LIMIT_MB = 2


def check_many(b, normlab, sweep, out_dir):
    """a 500-run sweep (the committed sweep's runs copied as more seeds,
    many.py): a page of a few MB that loads and sorts its 500 rows"""
    import many
    big = many.copy_sweep(sweep, os.path.join(out_dir, "many"), MANY)
    experiment = os.path.join("experiments", os.path.basename(os.path.normpath(sweep)) + ".yaml")
    page, figures = make_report(normlab, big, out_dir, "many.html", ["--experiment", experiment])
    mb = os.path.getsize(page) / 1e6
    check(mb < MANY_LIMIT_MB, "a %d-run sweep's page is %.2f MB (at most %d)" % (MANY, mb, MANY_LIMIT_MB))
    url = "file://" + page
    started = time.monotonic()
    load(b, url, 1280, 900)
    loaded = time.monotonic() - started
    table = b.evaluate("document.querySelector('table[id$=\"-runtable\"]').id")
    rows = b.evaluate("document.getElementById('%s').tBodies[0].rows.length" % table)
    col = header_index(b, table, "final_test_loss")
    started = time.monotonic()
    click_header(b, table, col)
    values = b.evaluate(COLUMN + "('%s', %d)" % (table, col))
    sorted_in = time.monotonic() - started
    drawn = len(b.evaluate(FIGURES))
    said, asked = problems(b, url)
    check(rows == MANY and drawn == figures and numbers_sorted(values, False) and not said and not asked,
          "it loads in %.1f s with its %d runs and %d figures, sorts them in %.2f s, no console error, no "
          "request outside the file%s" % (loaded, rows, drawn, sorted_in, "; ".join(said + asked)))


def main():
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    normlab, sweep, out_dir = sys.argv[1:4]
    shots = [(1280, 1600, 0), (390, 1500, 0)]
    if "--shots" in sys.argv:
        shots = [tuple(int(x) for x in re.split("[x+]", s + "+0")[:3])
                 for s in sys.argv[sys.argv.index("--shots") + 1].split(",")]
    chromium = cdp.find_chromium()
    if not chromium:
        print("skipped: no chromium on PATH (tests/deps.sh installs Debian's chromium)")
        return SKIP
    page, figures = make_report(normlab, sweep, out_dir)
    url = "file://" + page
    started = time.monotonic()
    b = cdp.Browser(chromium)
    try:
        run(b, url, figures, out_dir, shots)
        check_many(b, normlab, sweep, out_dir)
    finally:
        b.close()
    print("browser checks: %.1f s" % (time.monotonic() - started))
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
