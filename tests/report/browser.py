#!/usr/bin/python3
"""normlab report in a real browser (test_report_browser): makes the page
of a committed sweep, loads it in headless Chromium over the DevTools
protocol (cdp.py) and checks that it logs no console error, asks for
nothing outside the file, draws every figure (an SVG box with size and
marks), sorts the runs table by a clicked column and filters it by a
varied key's select; drives the curves' view through the protocol's
mouse (hover, a dragged zoom, a double-click) and its controls
(smoothing, log scale, the parallel coordinates' metric, a filter) and
checks that each changes what is drawn; drives the view as a viewer
(issue 93): the sweep's own metric first, a mean per key's value and
over seeds with its band said, runs switched off from the runs table and
the legend, a regular expression (a bad one said; the runs table shows
the rows it keeps, with a key's filter those both keep), a chart per
curve side by side, the scatter of a final metric against a key, and the
view's round trip through the URL's fragment (a key's filter, the zoom
as steps and values, a dragged range as the values it keeps: the page
opened with it at 1280 and at 390 px shows the same view); measures element boxes (no
column of a table past its box at 1280 px, the first number of each row
on the screen at 390 px, no config key or metric name broken mid-word
there); then screenshots it at a laptop's and a
phone's width. Last, a 500-run sweep made from copies of the sweep's
runs (many.py): its page stays within 2 MB, loads and sorts; and a copy
where three runs in four diverge to 1e22 (many.diverge): the chart's
default range fits the others.

    tests/report/browser.py NORMLAB SWEEP_DIR OUT_DIR [--shots WIDTHxHEIGHT[+TOP],...]
    tests/report/browser.py NORMLAB --sweeps (all | sample | fast N | only A,B) OUT_DIR

Any sweep: each check takes the columns, keys, metrics and claims the
sweep has (a sort by its first final metric that differs, a varied key
of numbers, each filter's values, the claims the filters should dim
worked out from the runs table) and says "skip:" where the sweep has
nothing to check (one key: no two filters at once). --sweeps runs the
page's checks (no screenshots, no 500-run copy) over the committed
sweeps: all, the sample that covers every claim kind, plot kind, metric
and size (sweeps.py's rule), or its first N.

Run from the repository root (the sweep's experiment file is found in
experiments/). Exit 0 passed, 1 failed, 77 skipped (no Chromium). The
screenshots go to OUT_DIR/report-WIDTH.png."""
import base64
import collections
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cdp  # noqa: E402

SKIP = 77
failures = []


def chromium_or_say_skipped():
    """Chromium's path, or None after saying the test is skipped without it"""
    chromium = cdp.find_chromium()
    if not chromium:
        print("skipped: no chromium on PATH (tests/deps.sh installs Debian's chromium)")
    return chromium


def page_test_args(doc):
    """a page test's command line (NORMLAB OUT_DIR) and Chromium's path;
    None when there is no Chromium (the test is skipped)"""
    if len(sys.argv) != 3:
        sys.exit(doc)
    chromium = chromium_or_say_skipped()
    return (sys.argv[1], sys.argv[2], chromium) if chromium else None


def check(ok, what):
    print(("ok:     " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


def exit_status():
    """the script's exit status from the failures its checks recorded"""
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


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


def skip(what):
    """a check this page cannot take (a sweep without what it needs), said"""
    print("skip:   " + what)


# the runs table's columns: [header text, data-key, distinct values, all numeric]
RUN_COLUMNS = """(function (table) {
  var t = document.getElementById(table), rows = Array.from(t.tBodies[0].rows);
  return Array.from(t.tHead.rows[0].cells).map(function (th, i) {
    var seen = {}, numeric = true;
    rows.forEach(function (r) {
      var c = r.cells[i], v = c.getAttribute('data-v'), k = c.getAttribute('data-k');
      var text = v !== null ? v : k !== null ? k : c.textContent.trim();
      seen[text] = true;
      numeric = numeric && text !== '' && isFinite(+text);
    });
    return [th.textContent.trim(), th.getAttribute('data-key'), Object.keys(seen).length, numeric];
  });
})"""

# the final metrics a sweep's runs table is sorted by, the first it has
SORT_METRICS = ("final_test_error", "final_test_loss", "final_test_accuracy", "final_train_loss")


def metric_column(columns):
    """the runs table's first final-metric column whose values differ, -1 none"""
    for name in SORT_METRICS:
        for i, (text, _, distinct, numeric) in enumerate(columns):
            if text.startswith(name) and distinct > 1 and numeric:
                return i
    return -1


def check_sorting(b):
    """a click sorts the runs table by a final metric, both ways; a column
    of numbers (samples_per_s, a varied numeric key) sorts by value; the run
    names by name, numbers in them by value. Each on the columns this
    sweep's table has."""
    table = b.evaluate("document.querySelector('table[id$=\"-runtable\"]').id")
    columns = b.evaluate(RUN_COLUMNS + "('%s')" % table)
    col = metric_column(columns)
    if col < 0:
        skip("no final metric of the runs differs: no sort by it")
    else:
        click_header(b, table, col)
        up = b.evaluate(COLUMN + "('%s', %d)" % (table, col))
        check(numbers_sorted(up, False), "a click sorts the runs by %s, ascending (%s ... %s)"
              % (columns[col][0], up[:3], up[-3:]))
        click_header(b, table, col)
        down = b.evaluate(COLUMN + "('%s', %d)" % (table, col))
        check(numbers_sorted(down, True), "a second click sorts it descending (%s ...)" % down[:3])
    # numbers sort by value, not as text (as text 10 would sort before 9):
    # samples_per_s, and a varied key of numbers (text cells)
    keyed = [i for i, (_, key, distinct, numeric) in enumerate(columns) if key and key != "status" and numeric
             and distinct > 2]
    for col, name in ((header_index(b, table, "samples_per_s"), "samples_per_s"),
                      (keyed[0] if keyed else -1, columns[keyed[0]][1] if keyed else "a varied key of numbers")):
        if col < 0:
            skip("the runs table has no column %s" % name)
            continue
        click_header(b, table, col)
        up = [float(v) for v in b.evaluate(COLUMN + "('%s', %d)" % (table, col))]
        check(numbers_sorted(up, False), "%s sorts by value, not as text (%s ... %s)" % (name, up[:2], up[-2:]))
    click_header(b, table, 0)
    names = b.evaluate(COLUMN + "('%s', 0)" % table)
    check(names_in_order(names), "the run column sorts by name, numbers by value (%s ...)" % names[:2])


def names_in_order(names):
    """each name after the one before: where two first differ in a number
    (seed-9, seed-10) by its value; where they differ in text, in the
    browser's own collation, which orders punctuation its own way"""
    for a, b in zip(names, names[1:]):
        ta, tb = _split_digits(a), _split_digits(b)
        for x, y in zip(ta, tb):
            if x != y:
                if x.isdigit() and y.isdigit() and int(x) > int(y):
                    return False
                break
    return True


def _split_digits(s):
    return [t for t in re.split(r"(\d+)", s) if t]


SELECT = """(function (key, value) {
  var s = document.querySelector('.filters select[data-key="' + key + '"]');
  s.value = value; s.dispatchEvent(new Event('change'));
})"""

# the values of the first section's filter of key (the option's value
# "=VALUE"), none without one
FILTER_OPTIONS = """(function (key) {
  var g = document.querySelector('.explore').getAttribute('data-group');
  var s = Array.from(document.querySelectorAll('.filters[data-for="' + g + '"] select')).find(function (s) {
    return s.getAttribute('data-key') === key; });
  return s ? Array.from(s.options).map(function (o) { return o.value; }).filter(function (v) { return v !== '*'; }) : [];
})"""

# the value chosen in the first section's filter of key ("*": every value)
FILTER_CHOSEN = """(function (key) {
  var g = document.querySelector('.explore').getAttribute('data-group');
  var s = Array.from(document.querySelectorAll('.filters[data-for="' + g + '"] select')).find(function (s) {
    return s.getAttribute('data-key') === key; });
  return s ? s.value : null;
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
    keys = b.evaluate("Array.from(document.querySelectorAll('.filters select')).filter(function (s) { return "
                      "s.closest('.filters') === document.querySelector('.filters'); }).map("
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
    if not keys:
        skip("no varied key with two values: nothing to filter by")
        return
    check(tried >= 2 and not bad, "each of %d values of %d keys filters the tables %s to exactly its rows%s"
          % (tried, len(keys), tables, ": " + "; ".join(bad[:3]) if bad else ""))
    if len(keys) < 2:
        skip("one varied key: no two filters at once")
        return
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
  /* every curve's path, hashed: a change to any is a change drawn */
  var all = 0;
  lines.forEach(function (l) {
    var d = l.getAttribute('d') || '';
    for (var i = 0; i < d.length; i++) all = (all * 31 + d.charCodeAt(i)) | 0;
  });
  return { lines: lines.length, first: all,
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

# the middle logged point of the first line, in client coordinates (a
# vertex of its path: the hover finds logged points, and the middle of a
# long segment, on a curve of a few evaluations, is far from any)
LINE_POINT = """(function () {
  // a drawn point inside the chart's box: a run that diverged at once draws
  // an empty path, and one past the robust y-range lies outside the box
  var svg = document.querySelector('.explore svg.chart');
  svg.scrollIntoView({block: 'center'});
  var box = svg.getBoundingClientRect(), lines = svg.querySelectorAll('path.line');
  for (var i = 0; i < lines.length; i++) {
    var xy = (lines[i].getAttribute('d') || '').match(/-?[\\d.]+(e-?\\d+)?/g) || [];
    for (var j = Math.floor(xy.length / 4) * 2; j + 1 < xy.length; j += 2) {
      var p = svg.createSVGPoint(); p.x = +xy[j]; p.y = +xy[j + 1];
      var q = p.matrixTransform(lines[i].getScreenCTM());
      if (q.x > box.left + 2 && q.x < box.right - 2 && q.y > box.top + 2 && q.y < box.bottom - 2)
        return [q.x, q.y];
    }
  }
  return [box.left + box.width / 2, box.top + box.height / 2];
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
  /* from its ends (the area reaches 6 units past the axis; a drag clamps
   * to it): a run at the very top is inside the range dragged */
  return [r.left + r.width / 2, r.top + 2, r.bottom - 2];
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


def check_pc(b, before):
    """another metric recolours the parallel coordinates, and a drag along
    an axis brushes them"""
    metrics = b.evaluate("Array.from(document.querySelectorAll('.explore .metric option')).map(function (o) "
                         "{ return o.value; })")
    shown = b.evaluate("document.querySelector('.explore .metric').value")
    others = [m for m in metrics if m != shown]
    if others:
        control(b, "metric", others[0])
        check(b.evaluate(DRAWN)["pc"] != before["pc"], "another metric recolours the parallel coordinates")
        # back to the sweep's own metric, which its runs have: another may
        # be one run's alone (drawn mid-axis, outside the range dragged)
        control(b, "metric", shown)
    else:
        skip("one metric: the parallel coordinates cannot be recoloured")
    check_brush(b)


# the claims the filters dim, against the runs table's rows shown: a claim
# is dimmed when none of its cells (data-cells, "key=value, ...", a value
# one of a|b (each maybe a list-valued key's own [64, 64]) or [a, b], or a
# range lo..hi)
# holds a run shown, a key the table does not show (one value in every
# run) matching any. Returns [claims, dimmed, the claims dimmed wrongly or not].
CLAIMS_DIMMED = """(function () {
  var runs = document.querySelector('table[id$="-runtable"]');
  var keys = Array.from(runs.tHead.rows[0].cells).map(function (th) { return th.getAttribute('data-key'); });
  var shown = Array.from(runs.tBodies[0].rows).filter(function (r) { return !r.hidden; });
  var rows = Array.from(document.querySelectorAll('table.verdicts tbody tr'));
  var wrong = rows.filter(function (tr) {
    var cells = (tr.getAttribute('data-cells') || '').split('\\t').filter(Boolean);
    var inside = !cells.length || cells.some(function (c) {
      return shown.some(function (r) {
        return c.split(/, (?=[A-Za-z_][\\w.-]*=)/).every(function (kv) {
          var at = kv.indexOf('='), col = keys.indexOf(kv.slice(0, at)), want = kv.slice(at + 1);
          if (col < 0) return true;
          var have = r.cells[col].getAttribute('data-k'), range = /^(.*)\\.\\.(.*)$/.exec(want);
          if (range && !/^\\[/.test(want))
            return (range[1] === '' || +have >= +range[1]) && (range[2] === '' || +have <= +range[2]);
          return want.split(/ *\\| *(?![^\\[]*\\])/).some(function (a) {
            return a === have || (a[0] === '[' && a.slice(1, -1).split(/ *, */).indexOf(have) >= 0);
          });
        });
      });
    });
    return inside === tr.classList.contains('outside');
  });
  return [rows.length, rows.filter(function (tr) { return tr.classList.contains('outside'); }).length,
          wrong.slice(0, 3).map(function (tr) { return tr.cells[0].textContent.trim(); })];
})()"""


def check_explore(b):
    """hover, smoothing, zoom, log scale, parallel coordinates and filters
    each change what the curves' view draws"""
    if not b.evaluate("document.querySelectorAll('.explore').length"):
        skip("no curves' view (no run has a metrics.csv)")
        return
    before = b.evaluate(DRAWN)
    runs = b.evaluate(VIEWER)["runs"]  # a big sweep's runs table makes its rows as they are read
    check(before["lines"] > 0 and len(before["pc"]) in (0, runs) and (len(before["pc"]) > 0 or runs < 2),
          "the curves' view draws %d curves and %d runs' parallel coordinates (of %d runs)"
          % (before["lines"], len(before["pc"]), runs))
    x, y = b.evaluate(LINE_POINT)
    mouse(b, "mouseMoved", x, y)
    tip = b.evaluate(DRAWN)["tip"]
    names = b.evaluate(VIEWER)["names"]  # a big sweep's runs table makes its rows as they are read
    check("step" in tip and any(n in tip for n in names), "hovering a curve names its run, step and value (%r)" % tip)
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
    # on a range under a factor of about 2.5 the log axis's labels are the
    # linear one's round values (logTicks): the curves move, the labels may not
    check(logged["first"] != before["first"], "the log scale redraws the curves (ticks %s)" % logged["yticks"][:4])
    b.evaluate("document.querySelector('.explore .log').click()")
    if len(before["pc"]) < 2:
        skip("parallel coordinates of %d run: nothing to recolour or brush" % len(before["pc"]))
    else:
        check_pc(b, before)
    key, values = b.evaluate("(function () { var s = document.querySelector('.filters select'); return s ? "
                             "[s.getAttribute('data-key'), Array.from(s.options).map(function (o) { return o.value; })]"
                             " : [null, []]; })()")
    if len(values) < 3:
        skip("no filter: the curves are not narrowed by one")
        return
    b.evaluate(SELECT + "(%r, %r)" % (key, values[1]))
    narrowed = b.evaluate(DRAWN)
    check(0 < narrowed["lines"] < before["lines"] and 0 < len(narrowed["pc"]) < len(before["pc"]) and
          narrowed["count"] != before["count"], "the filter %s=%s narrows the curves (%d of %d) and the parallel "
          "coordinates (%d of %d): %s" % (key, values[1][1:], narrowed["lines"], before["lines"], len(narrowed["pc"]),
                                          len(before["pc"]), narrowed["count"]))
    if before["claims"]:
        claims, dimmed, wrong = b.evaluate(CLAIMS_DIMMED)
        check(not wrong, "it dims exactly the claims none of whose cells holds a run shown (%d of %d dimmed%s)"
              % (dimmed, claims, "; wrongly: " + ", ".join(wrong) if wrong else ""))
    b.evaluate(SELECT + "(%r, '*')" % key)
    check(b.evaluate(DRAWN)["lines"] == before["lines"] and b.evaluate(DRAWN)["outside"] == 0,
          "'all' draws every curve again and dims no claim")


# ---- the curves' view as a viewer (issue 93): means with bands, runs
# switched off, a regular expression, a chart per curve, a scatter, the
# view in the URL's fragment, the sweep's own metric by default ----

# the first section's explore box: its state and what it draws
VIEWER = """(function () {
  var box = document.querySelector('.explore');
  if (box.drawPending) box.drawPending();  // the small charts are drawn a task after the large one
  var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
  function text(sel) { var e = box.querySelector(sel); return e ? e.textContent : null; }
  function chosen(sel) { var s = box.querySelector(sel); return s && s.selectedIndex >= 0 ? s.options[s.selectedIndex].text : null; }
  var cells = document.querySelector('table[id$="-cells"]');
  var leads = cells ? Array.from(cells.tHead.rows[0].cells).map(function (th) { return th.textContent.trim(); })
                        .filter(function (t) { return /^final_/.test(t); }) : [];
  return { lead: data.lead, runs: data.runs.length, tags: data.tags, varied: data.varied.map(function (k) { return data.keys[k]; }),
           seed: data.seed >= 0 ? data.keys[data.seed] : null, keys: data.keys,
           names: data.runs.map(function (r) { return r.n; }),
           values: data.runs.map(function (r) { return r.v; }),
           // the values as the view names them: a formula normalizer's by its name (r.l), as its axes and legend do
           shown: data.runs.map(function (r) {
             return r.v.map(function (x, k) { return r.l && r.l[k] !== undefined ? r.l[k] : x; }); }),
           metrics: data.metrics, finals: data.runs.map(function (r) { return r.m; }),
           tableLead: leads.length ? leads[0].split(' ')[0] : null,
           metric: chosen('.metric'), tag: chosen('.tag'), group: box.querySelector('.group').value,
           smooth: box.querySelector('.smooth').value, re: box.querySelector('.re').value,
           reInvalid: box.querySelector('.re').getAttribute('aria-invalid'), reSays: text('.resays'),
           note: text('.groupnote'), count: text('.count'),
           lines: box.querySelectorAll('svg.chart path.line').length,
           means: box.querySelectorAll('svg.chart path.line.mean').length,
           bands: box.querySelectorAll('svg.chart path.spread').length,
           y0: +box.querySelector('svg.chart').getAttribute('data-y0'),
           y1: +box.querySelector('svg.chart').getAttribute('data-y1'),
           legend: Array.from(box.querySelectorAll('.legend button.item')).map(function (b) {
             return [b.textContent, b.getAttribute('aria-pressed')]; }),
           smalls: Array.from(box.querySelectorAll('.multiples svg.minichart')).map(function (s) {
             var r = s.getBoundingClientRect();
             return [s.getAttribute('data-tag'), s.querySelectorAll('path.line').length, Math.round(r.left),
                     Math.round(r.top), Math.round(r.width)]; }),
           dots: Array.from(box.querySelectorAll('svg.scatter circle.dot')).map(function (c) {
             return [+c.getAttribute('data-run'), +c.getAttribute('cx'), +c.getAttribute('cy')]; }),
           sx: chosen('.sx'),
           sxTicks: Array.from(box.querySelectorAll('svg.scatter .xtick')).map(function (t) { return t.textContent; }),
           logged: data.tags.filter(function (t, i) {
             return data.curves.some(function (c) { return c[2].some(function (s) {
               return s[0] === i && s[1].some(function (y) { return y !== null; }); }); }); }),
           pcDim: box.querySelectorAll('svg.pc polyline.dim').length,
           drawBoxes: Array.from(document.querySelectorAll('table[id$="-runtable"] input.draw')).map(function (c) {
             return c.checked; }),
           offNames: Array.from(document.querySelectorAll('table[id$="-runtable"] input.draw')).filter(function (c) {
             return !c.checked; }).map(function (c) { return c.parentNode.textContent.trim(); }).sort(),
           hash: location.hash };
})()"""


# the box, in the runs table, of the first run drawn in the chart
DRAWN_ROW = """(function () {
  var box = document.querySelector('.explore'), g = box.getAttribute('data-group');
  var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
  var t = +box.querySelector('.tag').value;
  var rows = Array.from(document.getElementById(g + '-runtable').tBodies[0].rows);
  return rows.map(function (tr) {
    var a = tr.cells[0].querySelector('a'), run = +a.getAttribute('href').split('-run-')[1] - 1;
    return data.curves.some(function (c) { return c[0] === run && c[2].some(function (s) { return s[0] === t; }); })
           ? tr.querySelector('input.draw') : null;
  }).filter(Boolean)[0];
})()"""


def explore_select(b, cls, text):
    """chooses the option of the explore box's select .cls whose text is text"""
    return b.evaluate("""(function () { var s = document.querySelector('.explore .%s');
      var o = Array.from(s.options).find(function (o) { return o.text === %s; });
      if (!o) return false;
      s.value = o.value; s.dispatchEvent(new Event('change')); return true; })()""" % (cls, json.dumps(text)))


def type_regex(b, text):
    b.evaluate("""(function () { var e = document.querySelector('.explore .re'); e.value = %s;
                  e.dispatchEvent(new Event('input')); })()""" % json.dumps(text))


def check_default_metric(b, v):
    """the views start on the sweep's own metric, the one its tables lead
    with (a language model's loss, a classifier's error)"""
    if v["tableLead"]:
        check(v["lead"] == v["tableLead"], "the page's own metric %s is the one its over-seeds table leads with (%s)"
              % (v["lead"], v["tableLead"]))
    else:
        skip("no over-seeds table to lead with a metric")
    finals = [m for i, m in enumerate(v["metrics"]) if any(r[i] is not None for r in v["finals"])]
    if v["lead"] in finals:
        check(v["metric"] == v["lead"], "the parallel coordinates and the scatter start on %s (%s)"
              % (v["lead"], v["metric"]))
    name = v["lead"].replace("final_", "").replace("_", "/", 1)
    want = name if name in v["tags"] else name.replace("error", "accuracy") if name.replace(
        "error", "accuracy") in v["tags"] else "train/loss" if "train/loss" in v["tags"] else None
    if want:
        check(v["tag"] == want, "the chart starts on the curve of that metric, %s (%s)" % (want, v["tag"]))


def check_grouping(b, v):
    """a mean per value of a varied key, with a band, said on the screen;
    the seeds of each cell"""
    keys = [k for k in v["varied"] if k != v["seed"]]
    if not keys:
        skip("no varied key but the seed: nothing to group by")
        return
    key = keys[0]
    col = v["keys"].index(key)
    runs_drawn = v["lines"]
    values = {vals[col] for vals in v["values"]}
    explore_select(b, "group", "the runs sharing their " + key)
    g = b.evaluate(VIEWER)
    check(g["means"] == g["lines"] and 0 < g["lines"] <= len(values) and g["bands"] == g["lines"],
          "grouped by %s: %d means drawn (of %d values), each with a band (%d); %d curves before"
          % (key, g["lines"], len(values), g["bands"], runs_drawn))
    check(key in (g["note"] or "") and "min\u2013max" in g["note"] and "mean" in g["note"],
          "the page says which key groups the curves and what the band is: %r" % g["note"])
    check(len(g["legend"]) == g["lines"] and all(key + "=" in t for t, _ in g["legend"]),
          "the legend names the groups (%s)" % ", ".join(t for t, _ in g["legend"][:3]))
    if v["seed"] in v["varied"] and len(keys) >= 1:
        explore_select(b, "group", "the seeds of each cell (every key but %s)" % v["seed"])
        s = b.evaluate(VIEWER)
        cells = {tuple(vals[v["keys"].index(k)] for k in keys) for vals in v["values"]}
        # a band where a cell has two runs (a mean of one run has none)
        seeds = collections.Counter(tuple(vals[v["keys"].index(k)] for k in keys) for vals in v["values"])
        banded = sum(1 for n in seeds.values() if n > 1)
        check(0 < s["lines"] <= len(cells) and banded <= s["bands"] <= s["lines"] and "seeds" in s["note"],
              "the seeds of each cell: %d means of %d cells, %d bands (%d cells of 2 runs or more), %r"
              % (s["lines"], len(cells), s["bands"], banded, s["note"]))
    explore_select(b, "group", "no mean: a curve per run")
    check(b.evaluate(VIEWER)["lines"] == runs_drawn, "no mean: a curve per run again (%d)" % runs_drawn)


# the first section's runs table: the runs of its rows shown, its rows,
# and its count line
RUNS_SHOWN = """(function () {
  var box = document.querySelector('.explore'), g = box.getAttribute('data-group');
  var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
  var t = document.getElementById(g + '-runtable'), c = document.getElementById(g + '-runtable-count');
  if (!t) return null;
  return { shown: Array.from(t.tBodies[0].rows).filter(function (tr) { return !tr.hidden; }).map(function (tr) {
             var a = tr.cells[0].querySelector('a[href^="#' + g + '-run-"]');
             return a ? data.runs[+a.getAttribute('href').split('-run-')[1] - 1].n : null; }).sort(),
           rows: t.tBodies[0].rows.length, count: c ? c.textContent : null };
})()"""


def check_runs_table(b, want, what):
    """the runs table shows the rows of the runs named in want, and says so"""
    t = b.evaluate(RUNS_SHOWN)
    if t is None:
        return
    want = sorted(want)
    check(t["shown"] == want and (t["count"] is None or t["count"].startswith("%d of %d" % (len(want), t["rows"]))),
          "%s: the runs table shows %d of its %d rows, those runs' (%s; %r)"
          % (what, len(t["shown"]), t["rows"], ", ".join(t["shown"][:3]) + (" ..." if len(t["shown"]) > 3 else ""),
             t["count"]))


# a click on the first legend entry, the runs table's DOM watched: its
# mutations, its rows shown switched off (their cells in the muted ink)
# and whether every cell keeps opacity 1
LEGEND_TOUCHES = """(function () {
  var table = document.querySelector('table[id$="-runtable"]'), seen = 0;
  var watch = new MutationObserver(function (ms) { seen += ms.length; });
  watch.observe(table, { subtree: true, attributes: true, childList: true, characterData: true });
  document.querySelector('.explore .legend button.item').click();
  seen += watch.takeRecords().length;
  watch.disconnect();
  var rows = Array.from(table.tBodies[0].rows), ink = getComputedStyle(table.tBodies[0]).color;
  return { mutations: seen,
           dimmed: rows.filter(function (tr) { var c = tr.querySelector('input.draw');
             return c && !c.checked && getComputedStyle(tr.cells[1] || tr.cells[0]).color !== ink; }).length,
           opaque: rows.every(function (tr) { return getComputedStyle(tr.cells[0]).opacity === '1'; }) };
})()"""


def check_toggles(b, v):
    """a run's box in the runs table and a legend entry switch curves off
    and on; a regular expression on the names and keys narrows them and
    the runs table's rows, with a key's filter too; a bad one says so"""
    if not v["drawBoxes"]:
        skip("no runs table with boxes to switch runs")
        return
    before = v["lines"]
    b.evaluate(DRAWN_ROW + ".click()")
    one = b.evaluate(VIEWER)
    check(one["lines"] == before - 1 and "1 of them switched off" in one["count"] and sum(one["drawBoxes"]) ==
          len(one["drawBoxes"]) - 1,
          "a run's box in the runs table switches its curve off (%d of %d curves; %s)" % (one["lines"], before,
                                                                                         one["count"]))
    b.evaluate(DRAWN_ROW + ".click()")
    check(b.evaluate(VIEWER)["lines"] == before, "and on again")
    if v["legend"]:
        label, _ = v["legend"][0]
        n = int(re.search(r"\((\d+)\)$", label).group(1))
        touched = b.evaluate(LEGEND_TOUCHES)
        leg = b.evaluate(VIEWER)
        check(leg["lines"] <= before - 1 and leg["legend"][0][1] == "false" and
              sum(not c for c in leg["drawBoxes"]) == n,
              "a click on the legend's %s switches its %d runs off (%d curves; their boxes unticked)"
              % (label, n, leg["lines"]))
        # issue 118: a legend click re-laid the runs table (122-170 s at 4,000
        # runs): a class per row switched, its cells' opacity a layer each
        check(touched["mutations"] == 0 and touched["dimmed"] == n and touched["opaque"],
              "the legend click changes none of the runs table's nodes (%d mutations), its %d rows shown off by "
              "their unticked boxes (%d dimmed, cells' opacity 1: %s)"
              % (touched["mutations"], n, touched["dimmed"], touched["opaque"]))
        b.evaluate("document.querySelector('.explore .legend button.item').click()")
        check(b.evaluate(VIEWER)["lines"] == before, "a second click switches them on again")
    name = v["names"][0]
    type_regex(b, "^" + re.escape(name) + "$")
    r = b.evaluate(VIEWER)
    check(r["lines"] <= 1 and r["count"].startswith("1 of") and r["reSays"].startswith("1 of"),
          "the regular expression ^%s$ keeps that run alone (%d curve; %s; %r)" % (name, r["lines"], r["count"],
                                                                                   r["reSays"]))
    check_runs_table(b, [name], "the regular expression ^%s$" % name)
    keys = [k for k in v["varied"] if k != v["seed"]]
    if keys:
        col = v["keys"].index(keys[0])
        value = v["values"][0][col]
        want = sum(1 for vals in v["values"] if vals[col] == value)
        type_regex(b, "^" + re.escape(keys[0] + "=" + value) + "$")
        r = b.evaluate(VIEWER)
        check(r["count"].startswith("%d of" % want), "the regular expression on %s=%s keeps its %d runs (%s)"
              % (keys[0], value, want, r["count"]))
        check_runs_table(b, [n for n, vals in zip(v["names"], v["values"]) if vals[col] == value],
                         "the regular expression on %s=%s" % (keys[0], value))
        # with a key's filter: the rows both keep, and the filter's alone once the expression is gone
        other = next((k for k in keys[1:] + [v["seed"]] if k and "=" + v["values"][0][v["keys"].index(k)] in
                      b.evaluate(FILTER_OPTIONS + "(%s)" % json.dumps(k))), None)
        if other:
            ocol = v["keys"].index(other)
            ovalue = v["values"][0][ocol]
            b.evaluate(SELECT + "(%s, %s)" % (json.dumps(other), json.dumps("=" + ovalue)))
            check_runs_table(b, [n for n, vals in zip(v["names"], v["values"]) if vals[col] == value and
                                 vals[ocol] == ovalue], "that expression and the filter %s=%s" % (other, ovalue))
            type_regex(b, "")
            check_runs_table(b, [n for n, vals in zip(v["names"], v["values"]) if vals[ocol] == ovalue],
                             "the filter %s=%s alone" % (other, ovalue))
            b.evaluate(SELECT + "(%s, '*')" % json.dumps(other))
    type_regex(b, "([")
    bad = b.evaluate(VIEWER)
    check(bad["reInvalid"] == "true" and "not a regular expression" in bad["reSays"] and bad["lines"] == before,
          "a bad regular expression says so (%r) and draws every run" % bad["reSays"])
    check_runs_table(b, v["names"], "a bad regular expression")
    type_regex(b, "")
    check(b.evaluate(VIEWER)["lines"] == before, "an empty one draws every run again")
    check_runs_table(b, v["names"], "an empty regular expression")


def check_multiples(b, v):
    """a chart per curve, side by side at a laptop's width; a click on one's
    name draws it large"""
    smalls = v["smalls"]
    check([t for t, _, _, _, _ in smalls] == v["logged"] and all(n > 0 for _, n, _, _, _ in smalls),
          "a chart per curve logged (%d of %d tags), each drawing its runs (%s)"
          % (len(smalls), len(v["tags"]), [(t, n) for t, n, _, _, _ in smalls[:4]]))
    if len(smalls) >= 2:
        check(smalls[0][3] == smalls[1][3] and smalls[1][2] > smalls[0][2],
              "side by side: the first two on one row (tops %d, %d)" % (smalls[0][3], smalls[1][3]))
        other = smalls[1][0] if v["tag"] != smalls[1][0] else smalls[0][0]
        b.evaluate("Array.from(document.querySelectorAll('.explore .multiples button.pick')).find(function (x) "
                   "{ return x.closest('.mini').querySelector('svg').getAttribute('data-tag') === %s; }).click()"
                   % json.dumps(other))
        check(b.evaluate(VIEWER)["tag"] == other, "a click on %s's name draws it in the large chart" % other)
        explore_select(b, "tag", v["tag"])


def check_scatter(b, v):
    """a dot per run with the metric against the chosen key; another key
    moves them"""
    dots = v["dots"]
    if not v["varied"]:
        skip("no varied key: no scatter against one")
        return
    col = v["metrics"].index(v["metric"]) if v["metric"] in v["metrics"] else -1
    have = sum(1 for m in v["finals"] if col >= 0 and m[col] is not None)
    check(len(dots) == have and len(dots) > 0, "the scatter draws a dot per run with %s (%d of %d) against %s"
          % (v["metric"], len(dots), have, v["sx"]))
    others = [k for k in v["varied"] if k != v["sx"]]
    if others and dots:
        explore_select(b, "sx", others[0])
        moved = b.evaluate(VIEWER)
        check(moved["sx"] == others[0] and ([d[1] for d in moved["dots"]] != [d[1] for d in dots] or
                                            moved["sxTicks"] != v["sxTicks"]),
              "another key (%s) moves the dots along x or names their places anew (%s)" % (others[0],
                                                                                          moved["sxTicks"][:4]))
        explore_select(b, "sx", v["sx"])


def wait_hash(b, want_in, timeout=5.0):
    """location.hash once it holds every string of want_in (the page writes
    it a moment after a change)"""
    end = time.monotonic() + timeout
    while True:
        h = b.evaluate("location.hash")
        if all(w in h for w in want_in) or time.monotonic() > end:
            return h
        time.sleep(0.05)


# the chart's range drawn, in the data's units (steps, values)
CHART_RANGE = """(function () {
  var svg = document.querySelector('.explore svg.chart');
  return ['data-x0', 'data-x1', 'data-y0', 'data-y1'].map(function (a) { return +svg.getAttribute(a); });
})()"""


def close(a, b, rel=1e-5):
    return len(a) == len(b) and all(abs(x - y) <= rel * max(abs(x), abs(y), 1e-12) for x, y in zip(a, b))


def check_fragment(b, url, v):
    """the view changed is written to the URL's fragment, its filters, zoom
    and dragged ranges in the data's terms; the page opened with that
    fragment, at a laptop's width and at a phone's, shows the same view"""
    group = b.evaluate("document.querySelector('.explore').getAttribute('data-group')")
    keys = [k for k in v["varied"] if k != v["seed"]]
    want = []
    # a key's filter first (choosing one clears the zoom and the ranges): one
    # the first parallel axis (keys[0]'s) is not, so that a range on it keeps runs
    # the runs it keeps 3 or more, so that with one switched off below the chart still draws (a
    # sweep of seeds alone has one run a seed)
    fkey, fvalue = None, None
    for k in keys[1:] + [v["seed"]] + keys[:1]:
        for option in (b.evaluate(FILTER_OPTIONS + "(%s)" % json.dumps(k)) if k else []):
            col = v["keys"].index(k)
            if fkey is None and sum(1 for vals in v["values"] if vals[col] == option[1:]) >= 3:
                fkey, fvalue = k, option
    if fkey:
        b.evaluate(SELECT + "(%s, %s)" % (json.dumps(fkey), json.dumps(fvalue)))
        want.append("%s.filter.%s=%s" % (group, fkey, fvalue[1:]))
    else:
        skip("no key's filter that keeps 3 runs or more to keep in the fragment")
    control(b, "smooth", "0.6")
    b.evaluate("document.querySelector('.explore .log').click()")
    if keys:
        explore_select(b, "group", "the runs sharing their " + keys[0])
    type_regex(b, ".")
    if len(v["drawBoxes"]) >= 2:  # the only run off would leave nothing to zoom into
        b.evaluate("document.querySelector('table[id$=\"-runtable\"] input.draw').click()")
    others = [t for t in v["tags"] if t != v["tag"]]
    if others:
        explore_select(b, "tag", others[0])
    want += [group + ".smooth=0.6", group + ".log=1", group + ".re=.", group + ".zoom="]
    (x0, y0), (x1, y1) = b.evaluate(CHART_POINT + "(250, 80)"), b.evaluate(CHART_POINT + "(500, 220)")
    mouse(b, "mousePressed", x0, y0)
    mouse(b, "mouseMoved", x1, y1)
    mouse(b, "mouseReleased", x1, y1)
    # a range dragged on a parallel axis, after the zoom (it may leave no curve to zoom into)
    axis = None
    if b.evaluate("document.querySelectorAll('.explore svg.pc polyline').length") >= 2:
        x, top, bottom = b.evaluate(PC_AXIS)
        mouse(b, "mousePressed", x, top)
        mouse(b, "mouseMoved", x, top + (bottom - top) * 0.45)
        mouse(b, "mouseReleased", x, top + (bottom - top) * 0.45)
        axis = keys[0] if keys else b.evaluate("document.querySelector('.explore .metric').selectedOptions[0].text")
        want.append("%s.range.%s=" % (group, axis))
    h = wait_hash(b, [urllib.parse.quote_plus(w, safe="=") for w in want])
    params = urllib.parse.parse_qs(h[len("#view&"):], keep_blank_values=True)
    check(h.startswith("#view") and all(w in urllib.parse.unquote_plus(h) for w in want),
          "the view is kept in the URL's fragment (%s)" % urllib.parse.unquote_plus(h))
    saved = b.evaluate(VIEWER)
    saved_d = b.evaluate(DRAWN)
    saved_range = b.evaluate(CHART_RANGE)
    saved_rows = b.evaluate(RUNS_SHOWN)
    # the zoom as steps and values, the range as the key's values: the same at any width
    zoom = [float(z) for z in params.get(group + ".zoom", ["nan"])[0].split(",")]
    check(close(zoom, saved_range), "the zoom is kept as the data's range, steps and values (%s), not the screen's "
          "(the chart draws %s)" % (zoom, ["%.6g" % r for r in saved_range]))
    if axis and keys:
        kept = params.get("%s.range.%s" % (group, axis), [""])[0].split("|")
        values = {vals[v["keys"].index(axis)] or "(not set)" for vals in v["shown"]}
        check(kept != [""] and set(kept) <= values, "the range dragged on %s is kept as the values it keeps (%s of %s)"
              % (axis, "|".join(kept), "|".join(sorted(values))))
    for width in (1280, 390):
        fresh(b, url + h, width)
        back = b.evaluate(VIEWER)
        back_d = b.evaluate(DRAWN)
        back_range = b.evaluate(CHART_RANGE)
        back_rows = b.evaluate(RUNS_SHOWN)
        same = [k for k in ("tag", "group", "smooth", "re", "metric", "sx", "lines", "means", "offNames", "count",
                            "pcDim") if back[k] != saved[k]]
        if not close(back_range, saved_range):
            same.append("range %s != %s" % (back_range, saved_range))
        if back_rows != saved_rows:
            same.append("runs table rows")
        if fkey and b.evaluate(FILTER_CHOSEN + "(%s)" % json.dumps(fkey)) != fvalue:
            same.append("the filter %s" % fkey)
        # the paths themselves may move a tenth of a unit: the link's zoom has 6 digits
        if width == 1280 and (back_d["xticks"] != saved_d["xticks"] or back_d["yticks"] != saved_d["yticks"]):
            same.append("the axes' ticks %s %s != %s %s" % (back_d["xticks"][:3], back_d["yticks"][:3],
                                                           saved_d["xticks"][:3], saved_d["yticks"][:3]))
        check(not same, "opened at %d px with that fragment the page shows the same view (%s, tag %s, %s, smoothing "
              "%s, regex %r, %d curves, zoomed to steps %.6g to %.6g, values %.4g to %.4g, %d runs dimmed by a dragged "
              "range, %s rows of the runs table)%s" % (
                  width, "filter %s=%s" % (fkey, fvalue[1:]) if fkey else "no filter", back["tag"],
                  back["group"] or "no mean", back["smooth"], back["re"], back["lines"], back_range[0], back_range[1],
                  back_range[2], back_range[3], back["pcDim"], len(back_rows["shown"]) if back_rows else "no",
                  "; differs: " + ", ".join(k if " " in k else "%s %r != %r" % (k, back[k], saved[k]) for k in same)
                  if same else ""))
        said, asked = problems(b, url)
        check(not said and not asked, "no console error opening the fragment at %d px%s" % (width, "; ".join(said + asked)))
    fresh(b, url)


def fresh(b, url, width=1280):
    """the page loaded anew (its first view, or the one url's fragment
    holds): a navigation that changes the fragment alone loads nothing"""
    b.send("Page.navigate", {"url": "about:blank"})
    time.sleep(0.3)
    load(b, url, width, 900)


# the parallel coordinates' last axis (the metric's), as PC_AXIS
PC_METRIC_AXIS = PC_AXIS.replace("document.querySelector('.explore svg.pc .brusharea')",
                                 "Array.from(document.querySelectorAll('.explore svg.pc .brusharea')).pop()")


def check_metric_range(b, url, v):
    """a range dragged on the metric's axis is kept as the metric's values:
    opened with a key's filter beside it, which changes what that axis
    spans, the link keeps the runs whose value lies in the range"""
    group = b.evaluate("document.querySelector('.explore').getAttribute('data-group')")
    if b.evaluate("document.querySelectorAll('.explore svg.pc polyline').length") < 2:
        skip("parallel coordinates of fewer than 2 runs: no range to drag on the metric's axis")
        return
    x, top, bottom = b.evaluate(PC_METRIC_AXIS)
    mouse(b, "mousePressed", x, top + (bottom - top) * 0.2)
    mouse(b, "mouseMoved", x, top + (bottom - top) * 0.7)
    mouse(b, "mouseReleased", x, top + (bottom - top) * 0.7)
    name = "%s.range.%s" % (group, v["metric"])
    h = wait_hash(b, [urllib.parse.quote_plus(name)])
    got = urllib.parse.parse_qs(h[len("#view&"):]).get(name, [""])[0].split("..")
    check(len(got) == 2, "a range dragged on the %s axis is kept as its values (%s=%s)" % (v["metric"], name,
                                                                                            "..".join(got)))
    if len(got) != 2:
        return
    lo, hi = float(got[0]), float(got[1])
    col = v["metrics"].index(v["metric"])
    keys = [k for k in v["varied"] if k != v["seed"]]

    def expect(fkey, fvalue):
        """the runs a filter lists, and how many of them the range keeps at least and at most"""
        listed = [m[col] for vals, m in zip(v["values"], v["finals"])
                  if fkey is None or vals[v["keys"].index(fkey)] == fvalue]
        finite = [m for m in listed if m is not None]
        # half a pixel of the axis either way: runs on the range's ends may go either way
        eps = 0.5 / 250 * ((max(finite) - min(finite)) if len(finite) > 1 else 1)
        return (listed, sum(1 for m in finite if lo + eps <= m <= hi - eps),
                sum(1 for m in finite if lo - eps <= m <= hi + eps))
    # a filter that leaves runs both inside the range and outside it
    fkey, fvalue = None, None
    for k in keys + [v["seed"]]:
        for option in (b.evaluate(FILTER_OPTIONS + "(%s)" % json.dumps(k)) if k else []):
            listed, at_least, _ = expect(k, option[1:])
            if 0 < at_least < len(listed) and fkey is None:
                fkey, fvalue = k, option[1:]
    if fkey is None:
        skip("no key's filter leaves runs both inside and outside the range dragged on %s" % v["metric"])
    listed, at_least, at_most = expect(fkey, fvalue)
    link = url + h + ("&%s.filter.%s=%s" % (group, urllib.parse.quote_plus(fkey), urllib.parse.quote_plus(fvalue))
                      if fkey else "")
    fresh(b, link, 390)
    count = b.evaluate(VIEWER)["count"]
    m = re.match(r"(\d+) of \d+ runs drawn(; (\d+) of them within)?", count)
    kept = int(m.group(3) or m.group(1)) if m else -1
    check(m and int(m.group(1)) == len(listed) and at_least <= kept <= at_most,
          "opened at 390 px%s, that link keeps the %d runs with %s in %g..%g (%d to %d of its %d runs): %s"
          % (" with the filter %s=%s" % (fkey, fvalue) if fkey else "", kept, v["metric"], lo, hi, at_least, at_most,
             len(listed), count))
    fresh(b, url)


def check_viewer(b, url):
    """the curves' view as a viewer (issue 93), from the page's first view"""
    if not b.evaluate("document.querySelectorAll('.explore').length"):
        skip("no curves' view: no viewer to drive")
        return
    fresh(b, url)
    per_run_view(b)
    v = b.evaluate(VIEWER)
    check_default_metric(b, v)
    check_grouping(b, v)
    check_toggles(b, v)
    check_multiples(b, v)
    check_scatter(b, v)
    check_fragment(b, url, v)
    check_metric_range(b, url, v)


def check_diverged(b, normlab, sweep, out_dir):
    """a copy of the sweep where three runs in four diverge (their losses
    to 1e22, their status diverged, many.py): the chart's default range
    fits the runs that trained, not 0 to 1e22"""
    import many
    from many import packs
    n = len(packs.run_names(sweep))  # its run directories or its pack
    bad = many.diverge(many.copy_sweep(sweep, os.path.join(out_dir, "diverged"), n), 0.75)
    experiment = os.path.join("experiments", os.path.basename(os.path.normpath(sweep)) + ".yaml")
    extra = ["--experiment", experiment] if os.path.exists(experiment) else []
    page, _ = make_report(normlab, os.path.join(out_dir, "diverged"), out_dir, "diverged.html", extra)
    url = "file://" + page
    load(b, url, 1280, 900)
    v = b.evaluate(VIEWER)
    tag = next((t for t in ("train/loss", "test/loss") if t in v["tags"]), None)
    if not tag:
        skip("no loss curve to blow up")
        return
    explore_select(b, "tag", tag)
    v = b.evaluate(VIEWER)
    # the highest value of the tag's curves of the runs that did not diverge
    top = b.evaluate("""(function (tag) {
      var box = document.querySelector('.explore');
      var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
      var t = data.tags.indexOf(tag), top = -Infinity, last = null;
      data.curves.forEach(function (c) {
        if (typeof c[1] !== 'number') last = c[1];
        if (data.runs[c[0]].s === 'diverged') return;
        c[2].forEach(function (s) { if (s[0] === t) s[1].forEach(function (y) { if (y !== null) top = Math.max(top, y); }); });
      });
      return top;
    })(%s)""" % json.dumps(tag))
    check(len(bad) > n / 2 and v["y1"] <= top * 1.5 and v["y1"] > 0,
          "%d of %d runs diverged to 1e22: the %s chart's default range ends at %.3g, fitting the others' highest "
          "value %.3g" % (len(bad), n, tag, v["y1"], top))
    said, asked = problems(b, url)
    check(not said and not asked, "no console error on the diverged copy%s" % "; ".join(said + asked))


def screenshot(b, path, width, height, top=0):
    shot = b.send("Page.captureScreenshot", {"format": "png", "captureBeyondViewport": True,
                                             "clip": {"x": 0, "y": top, "width": width, "height": height,
                                                      "scale": 1}})
    with open(path, "wb") as f:
        f.write(base64.b64decode(shot["data"]))
    print("screenshot: %s" % path)


def per_run_view(b):
    """a big sweep's page opens on the means over seeds (test_report_big
    checks that): the checks of a curve per run start from that view"""
    if b.evaluate("(function () { var s = document.querySelector('.explore .group'); return !!s && s.value !== ''; })()"):
        explore_select(b, "group", "no mean: a curve per run")


def run(b, url, figures, out_dir, shots):
    b.open_page()
    load(b, url, 1280, 900)
    sizes = b.evaluate(FIGURES)
    check(len(sizes) == figures, "the page holds the %d figures normlab drew (%d)" % (figures, len(sizes)))
    for i, (w, h, marks, dangling, repeated, points) in enumerate(sizes):
        check(w > 300 and h > 150 and marks > 20, "figure %d is drawn: %.0f x %.0f px, %d marks" % (i + 1, w, h,
                                                                                                    marks))
        check(not dangling and not repeated, "figure %d: each of its references (%d points among them) names an "
              "element of its own (%d do not; %d ids also elsewhere on the page)" % (i + 1, points, dangling, repeated))
    check_sorting(b)
    check_filtering(b)
    per_run_view(b)
    check_explore(b)
    check_viewer(b, url)
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
    # the copy's directory names no experiment: the sweep's, where it has one
    experiment = os.path.join("experiments", os.path.basename(os.path.normpath(sweep)) + ".yaml")
    extra = ["--experiment", experiment] if os.path.exists(experiment) else []
    page, figures = make_report(normlab, big, out_dir, "many.html", extra)
    mb = os.path.getsize(page) / 1e6
    check(mb < MANY_LIMIT_MB, "a %d-run sweep's page is %.2f MB (at most %d)" % (MANY, mb, MANY_LIMIT_MB))
    url = "file://" + page
    started = time.monotonic()
    load(b, url, 1280, 900)
    loaded = time.monotonic() - started
    table = b.evaluate("document.querySelector('table[id$=\"-runtable\"]').id")
    rows = b.evaluate("document.getElementById('%s').tBodies[0].rows.length" % table)
    col = max(metric_column(b.evaluate(RUN_COLUMNS + "('%s')" % table)), 0)
    started = time.monotonic()
    click_header(b, table, col)
    values = b.evaluate(COLUMN + "('%s', %d)" % (table, col))
    sorted_in = time.monotonic() - started
    drawn = len(b.evaluate(FIGURES))
    said, asked = problems(b, url)
    check(rows == MANY and drawn == figures and numbers_sorted(values, False) and not said and not asked,
          "it loads in %.1f s with its %d runs and %d figures, sorts them in %.2f s, no console error, no "
          "request outside the file%s" % (loaded, rows, drawn, sorted_in, "; ".join(said + asked)))


def committed(choice):
    """the committed sweeps --sweeps names: all, the sample that covers
    every claim kind, plot kind, metric and size (sweeps.py's rule), its
    first N ("fast N"), or those named ("only A,B")"""
    import sweeps
    every = sweeps.committed_sweeps()
    if choice[0] == "all":
        return [os.path.join(sweeps.RESULTS, n) for n in every]
    if choice[0] == "only":  # the named ones, as a failure named them
        return [os.path.join(sweeps.RESULTS, n) for n in choice[1].split(",") if n in every]
    chosen = sweeps.cover(every)[0]
    return [os.path.join(sweeps.RESULTS, n) for n in (chosen if choice[0] == "sample" else chosen[:int(choice[1])])]


def run_sweeps(b, normlab, dirs, out_dir):
    """each sweep's page through the page's checks (no screenshots, no
    500-run copy); a page whose script fails is a failure, the others
    still run"""
    for sweep in dirs:
        name = os.path.basename(os.path.normpath(sweep))
        print("== %s" % name)
        page, figures = make_report(normlab, sweep, out_dir, name + ".html")
        try:
            run(b, "file://" + page, figures, out_dir, [])
        except (RuntimeError, TimeoutError) as e:
            check(False, "%s: the page's checks could not run: %s" % (name, str(e)[:300]))


def main():
    args = sys.argv[1:]
    if len(args) < 3:
        sys.exit(__doc__)
    normlab, out_dir = args[0], args[2]
    many_sweeps = args[1] == "--sweeps"
    if many_sweeps:
        choice = args[2:4] if args[2] in ("fast", "only") else args[2:3]
        out_dir = args[2 + len(choice)]
    shots = [(1280, 1600, 0), (390, 1500, 0)]
    if "--shots" in args:
        shots = [tuple(int(x) for x in re.split("[x+]", s + "+0")[:3])
                 for s in args[args.index("--shots") + 1].split(",")]
    chromium = chromium_or_say_skipped()
    if not chromium:
        return SKIP
    started = time.monotonic()
    b = cdp.Browser(chromium, timeout=120)
    try:
        if many_sweeps:
            run_sweeps(b, normlab, committed(choice), out_dir)
        else:
            page, figures = make_report(normlab, args[1], out_dir)
            run(b, "file://" + page, figures, out_dir, shots)
            check_many(b, normlab, args[1], out_dir)
            check_diverged(b, normlab, args[1], out_dir)
    finally:
        b.close()
    print("browser checks: %.1f s" % (time.monotonic() - started))
    return exit_status()


if __name__ == "__main__":
    sys.exit(main())
