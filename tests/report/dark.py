#!/usr/bin/python3
"""The report follows the reader's colour scheme (issue 102), checked in
headless Chromium with prefers-color-scheme emulated, on a committed
sweep's page:

- dark: the page's ground is dark and its ink light; the tables' header,
  striped and hovered rows and the curves' charts (ground, axis labels,
  grid) are too, each text at least 4.5:1 against what it is drawn on
  (WCAG AA), body text 7:1, the legend's line-style swatches in its ink;
  gnuplot's figures, which paint their own
  white ground, are inverted;
- light: the same page as before, white, the figures as drawn;
- print keeps paper's colours under a dark setting.

    tests/report/dark.py NORMLAB OUT_DIR

Run from the repository root. Exit 0 passed, 1 failed, 77 skipped (no
Chromium)."""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402
import cdp  # noqa: E402
from browser import check  # noqa: E402

# the computed colours that matter, as [r, g, b] (a transparent background
# is the nearest painted ancestor's)
COLOURS = """(function () {
  function rgb(s) { var m = s.match(/[\\d.]+/g) || []; return m.slice(0, 3).map(Number).concat([m.length > 3 ? +m[3] : 1]); }
  function ground(e) {
    for (; e && e.nodeType === 1; e = e.parentElement) {
      var c = rgb(getComputedStyle(e).backgroundColor);
      if (c[3] > 0.5) return c.slice(0, 3);
    }
    return [255, 255, 255];
  }
  function css(e, p) { return rgb(getComputedStyle(e)[p]).slice(0, 3); }
  var out = { body: { ink: css(document.body, 'color'), ground: ground(document.body) } };
  var th = document.querySelector('th');
  if (th) out.th = { ink: css(th, 'color'), ground: ground(th) };
  var td = document.querySelector('tbody tr:nth-child(even) td');
  if (td) out.stripe = { ink: css(td, 'color'), ground: ground(td) };
  var chart = document.querySelector('.explore svg.chart');
  if (chart) {
    var label = chart.querySelector('.axes text'), grid = chart.querySelector('.grid');
    out.chart = { ground: ground(chart), label: label ? css(label, 'fill') : null,
                  grid: grid ? css(grid, 'stroke') : null };
  }
  var dash = document.querySelector('.explore .legend .dashkey line, .explore table.legendgrid th line');
  if (dash) out.dash = { stroke: css(dash, 'stroke'), ink: css(dash.closest('.dashkey, th'), 'color'),
                         ground: ground(dash.closest('.dashkey, th')) };
  out.figures = [].map.call(document.querySelectorAll('.svgbox > svg'),
                            function (s) { return getComputedStyle(s).filter; });
  return out;
})()"""


def luminance(c):
    def lin(v):
        v /= 255.0
        return v / 12.92 if v <= 0.03928 else ((v + 0.055) / 1.055) ** 2.4
    r, g, b = (lin(v) for v in c)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(a, b):
    la, lb = sorted((luminance(a), luminance(b)), reverse=True)
    return (la + 0.05) / (lb + 0.05)


def colours(b, url, scheme, media=""):
    b.send("Emulation.setEmulatedMedia", {"media": media, "features": [{"name": "prefers-color-scheme",
                                                                          "value": scheme}]})
    browser.load(b, url, 1280, 900)
    return b.evaluate(COLOURS)


def check_dark(c):
    body = c["body"]
    check(luminance(body["ground"]) < 0.05 and contrast(body["ink"], body["ground"]) >= 7,
          "dark: the page's ground is dark and its ink 7:1 on it (ground %s, ink %s, %.1f:1)"
          % (body["ground"], body["ink"], contrast(body["ink"], body["ground"])))
    for part in ("th", "stripe"):
        if part in c:
            x = c[part]
            check(luminance(x["ground"]) < 0.05 and contrast(x["ink"], x["ground"]) >= 4.5,
                  "dark: a table's %s is dark, its text 4.5:1 on it (%s on %s, %.1f:1)"
                  % ({"th": "header", "stripe": "striped row"}[part], x["ink"], x["ground"],
                     contrast(x["ink"], x["ground"])))
    chart = c.get("chart")
    check(chart is not None, "the page has a curves chart")
    if chart:
        check(luminance(chart["ground"]) < 0.05 and chart["label"] and contrast(chart["label"], chart["ground"]) >= 4.5,
              "dark: a chart's ground is dark, its axis labels 4.5:1 on it (%s on %s)" % (chart["label"],
                                                                                         chart["ground"]))
        check(chart["grid"] and contrast(chart["grid"], chart["ground"]) < contrast(chart["label"], chart["ground"]),
              "dark: a chart's grid is fainter than its labels (%s)" % chart["grid"])
    dash = c.get("dash")
    check(dash is not None and dash["stroke"] == dash["ink"] and contrast(dash["stroke"], dash["ground"]) >= 4.5,
          "dark: the legend's line-style swatches are drawn in its ink (%s; ink %s on %s)"
          % (dash and dash["stroke"], dash and dash["ink"], dash and dash["ground"]))
    check(c["figures"] and all("invert" in f for f in c["figures"]),
          "dark: each of gnuplot's %d figures is inverted (%s)" % (len(c["figures"]), sorted(set(c["figures"]))))


# the chart's SVG export caught as its download would be: the file's text
EXPORT = """(new Promise(function (done) {
  var made = URL.createObjectURL, blobs = {};
  URL.createObjectURL = function (b) { var u = made.call(URL, b); blobs[u] = b; return u; };
  HTMLAnchorElement.prototype.click = function () { var b = blobs[this.href]; if (b) b.text().then(done); };
  document.querySelector('.explore button.export[data-as=svg]').click();
  setTimeout(function () { done(null); }, 5000);
}))"""


def check_export_ink(b):
    """a chart exported from a dark page takes the light scheme's ink for the
    file's white ground (issue 118: its axis labels came out light on white,
    its grid dark)"""
    svg = b.evaluate(EXPORT)
    check(bool(svg), "dark: the chart's SVG export is caught")
    if not svg:
        return
    fills = [tuple(int(v) for v in m) for m in
             re.findall(r'<text[^>]*style="[^"]*fill: ?rgb\((\d+), ?(\d+), ?(\d+)\)', svg)]
    faint = [f for f in fills if contrast(f, (255, 255, 255)) < 4.5]
    check(fills and not faint, "dark: the exported chart's %d styled labels are 4.5:1 on its white ground (faint: %s)"
          % (len(fills), sorted(set(faint))[:3]))


def check_light(c, what):
    body = c["body"]
    check(luminance(body["ground"]) > 0.95 and contrast(body["ink"], body["ground"]) >= 7,
          "%s: the page is white, its ink 7:1 on it (ground %s, ink %s)" % (what, body["ground"], body["ink"]))
    chart = c.get("chart")
    check(chart is not None and luminance(chart["ground"]) > 0.95,
          "%s: a chart's ground is white (%s)" % (what, chart and chart["ground"]))
    check(c["figures"] and all("invert" not in f for f in c["figures"]),
          "%s: gnuplot's %d figures as drawn (%s)" % (what, len(c["figures"]), sorted(set(c["figures"]))))


def main():
    args = browser.page_test_args(__doc__)
    if not args:
        return browser.SKIP
    normlab, out_dir, chromium = args
    page, _ = browser.make_report(normlab, "results/wu-he-batch-mlp", out_dir)
    url = "file://" + page
    b = cdp.Browser(chromium, timeout=60)
    try:
        b.open_page()
        dark = colours(b, url, "dark")
        print(json.dumps(dark))
        check_dark(dark)
        check_export_ink(b)
        said, asked = browser.problems(b, url)
        check(not said and not asked, "dark: no console error (%s) and no request outside the file (%s)"
              % (said[:3], asked[:3]))
        check_light(colours(b, url, "light"), "light")
        check_light(colours(b, url, "dark", "print"), "print under a dark setting")
    finally:
        b.close()
    return browser.exit_status()


if __name__ == "__main__":
    sys.exit(main())
