#!/usr/bin/python3
"""results/claims.md and its experiments' pages, results/claims/NAME.md
(issue 116), as GitHub shows a markdown file (test_claims_github,
issue 93): a researcher forwards the page's link, and its reader should see
each claim's verdict without scrolling a table sideways, and each
experiment's evidence a click away.

The page is converted here (no Markdown package is installed, and none is
needed: the constructs claims.md uses are GitHub's headings with their
anchors, paragraphs, lists two deep, pipe tables, <details> blocks,
links, code spans, bold and italics), styled with the basics of GitHub's
markdown-body CSS (16px -apple-system, "Segoe UI", Helvetica, Arial; a
table a block of at most the column's width that scrolls sideways, cells
padded 6px 13px with a border; code at 85%) in GitHub's 1012 px content
column, and loaded in headless Chromium (tests/report/cdp.py). Checked:

- in every table with a verdict column, the right edge of its rightmost
  such column (the header and every row) lies inside the 1012 px column;
- every experiment's page (joined, as a ### NAME section under
  ## Experiments, its links rebased to results/: claims_page.joined) has its
  evidence line with links to its sweep directory and its verdicts.csv,
  and every relative link of those lines names a file or directory that
  exists, every #anchor a heading of the page;
- and, first, that these checks fail on a copy with a claim's name too
  long to wrap planted in the first experiment's table and the evidence
  line of its section removed.

    tests/claims_page/github.py REPO [--html OUT.html]

Exit 0 passed, 1 failed, 77 skipped (no Chromium)."""
import html
import os
import re
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "report"))
import cdp  # noqa: E402
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "verdict_prose"))
import claims_page  # noqa: E402

SKIP = 77
COLUMN = 1012

CSS = """
body { margin: 0; background: #fff; }
.markdown-body { box-sizing: content-box; width: %dpx; margin: 0 16px; color: #1f2328;
  font-family: -apple-system, BlinkMacSystemFont, "Segoe UI", "Noto Sans", Helvetica, Arial, sans-serif,
  "Apple Color Emoji", "Segoe UI Emoji"; font-size: 16px; line-height: 1.5; word-wrap: break-word; }
.markdown-body h1, .markdown-body h2, .markdown-body h3 { margin-top: 24px; margin-bottom: 16px; font-weight: 600;
  line-height: 1.25; }
.markdown-body h1 { font-size: 2em; padding-bottom: .3em; border-bottom: 1px solid #d1d9e0b3; }
.markdown-body h2 { font-size: 1.5em; padding-bottom: .3em; border-bottom: 1px solid #d1d9e0b3; }
.markdown-body h3 { font-size: 1.25em; }
.markdown-body p, .markdown-body ul, .markdown-body table, .markdown-body details { margin-top: 0; margin-bottom: 16px; }
.markdown-body ul { padding-left: 2em; }
.markdown-body ul ul { margin-top: 0; margin-bottom: 0; }
.markdown-body li + li { margin-top: .25em; }
.markdown-body table { border-spacing: 0; border-collapse: collapse; display: block; width: max-content;
  max-width: 100%%; overflow: auto; font-variant: tabular-nums; }
.markdown-body table th { font-weight: 600; }
.markdown-body table th, .markdown-body table td { padding: 6px 13px; border: 1px solid #d1d9e0; }
.markdown-body table tr { background-color: #fff; border-top: 1px solid #d1d9e0b3; }
.markdown-body table tr:nth-child(2n) { background-color: #f6f8fa; }
.markdown-body code { padding: .2em .4em; margin: 0; font-size: 85%%; white-space: break-spaces;
  background-color: #818b981f; border-radius: 6px;
  font-family: ui-monospace, SFMono-Regular, "SF Mono", Menlo, Consolas, "Liberation Mono", monospace; }
.markdown-body a { color: #0969da; text-decoration: none; }
""" % COLUMN


def slug(text, seen):
    """GitHub's anchor of a heading: lower case, punctuation dropped but - and _,
    spaces to -, a repeat numbered"""
    s = re.sub(r"[^\w\- ]", "", re.sub(r"<[^>]+>", "", text).lower()).replace(" ", "-")
    n = seen.get(s, 0)
    seen[s] = n + 1
    return s if n == 0 else "%s-%d" % (s, n)


def inline(text):
    """a line's inline markdown: code spans, links, bold, italics; the rest escaped"""
    codes = []

    def code(m):
        codes.append("<code>%s</code>" % html.escape(m.group(2).strip() if m.group(2).strip() else m.group(2)))
        return "\0%d\0" % (len(codes) - 1)
    t = re.sub(r"(`+)(.+?)\1", code, text)
    t = html.escape(t, quote=False)
    t = re.sub(r"\[([^\]]+)\]\(([^)\s]+)\)", lambda m: '<a href="%s">%s</a>' % (m.group(2).replace('"', "%22"),
                                                                               m.group(1)), t)
    t = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", t)
    t = re.sub(r"(?<![\w*])\*(?![\s*])(.+?)(?<![\s*])\*(?![\w*])", r"<em>\1</em>", t)
    return re.sub(r"\0(\d+)\0", lambda m: codes[int(m.group(1))], t)


def cells(row):
    """a table row's cells, split at the pipes no backslash escapes (as GFM
    does, inside code spans too)"""
    row = row.strip()
    row = row[1:] if row.startswith("|") else row
    row = row[:-1] if row.endswith("|") and not row.endswith("\\|") else row
    return [c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", row)]


def convert(md):
    """the HTML of markdown md, for the constructs claims.md uses"""
    lines = md.split("\n")
    out, seen, i = [], {}, 0
    para = []

    def flush():
        if para:
            out.append("<p>%s</p>" % inline(" ".join(para)))
            del para[:]
    while i < len(lines):
        line = lines[i]
        if not line.strip():
            flush()
            i += 1
            continue
        m = re.match(r"^(#{1,6}) (.*)$", line)
        if m:
            flush()
            level, text = len(m.group(1)), m.group(2).strip()
            out.append('<h%d id="%s">%s</h%d>' % (level, slug(text, seen), inline(text), level))
            i += 1
            continue
        if re.match(r"^\s*<", line):
            # an HTML block (a comment, <details>, </details>): as it is, to a blank line
            flush()
            while i < len(lines) and lines[i].strip():
                out.append(lines[i])
                i += 1
            continue
        if line.startswith("|") and i + 1 < len(lines) and re.match(r"^\|?\s*:?-+:?\s*(\|\s*:?-+:?\s*)*\|?\s*$",
                                                                      lines[i + 1]):
            flush()
            head = cells(line)
            out.append("<table><thead><tr>%s</tr></thead><tbody>" % "".join("<th>%s</th>" % inline(c) for c in head))
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                row = cells(lines[i])[:len(head)]
                row += [""] * (len(head) - len(row))
                out.append("<tr>%s</tr>" % "".join("<td>%s</td>" % inline(c) for c in row))
                i += 1
            out.append("</tbody></table>")
            continue
        if re.match(r"^\s*- ", line):
            flush()
            depth = -1
            while i < len(lines) and lines[i].strip() and (re.match(r"^\s*- ", lines[i]) or lines[i].startswith("  ")):
                item = re.match(r"^(\s*)- (.*)$", lines[i])
                if not item:  # a continuation of the item above
                    out[-1] = out[-1][:-5] + " " + inline(lines[i].strip()) + "</li>"
                    i += 1
                    continue
                d = len(item.group(1)) // 2
                while depth < d:
                    if depth >= 0 and out[-1].endswith("</li>"):
                        out[-1] = out[-1][:-5]  # the nested list goes inside its item
                    out.append("<ul>")
                    depth += 1
                while depth > d:
                    out.append("</ul></li>")
                    depth -= 1
                out.append("<li>%s</li>" % inline(item.group(2)))
                i += 1
            while depth > 0:
                out.append("</ul></li>")
                depth -= 1
            out.append("</ul>")
            continue
        para.append(line.strip())
        i += 1
    flush()
    return "\n".join(out)


def page(md):
    return ('<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>claims.md</title>'
            '<style>%s</style></head><body><article class="markdown-body">\n%s\n</article></body></html>\n'
            % (CSS, convert(md)))


# per table with a verdict column: its header, the rightmost verdict
# column's name and the right edge of its widest cell, and the column's
# right edge (the article's content box)
TABLES = """(function () {
  var body = document.querySelector('.markdown-body').getBoundingClientRect();
  return Array.from(document.querySelectorAll('.markdown-body table')).map(function (t, n) {
    var heads = Array.from(t.tHead.rows[0].cells), col = -1;
    heads.forEach(function (th, i) { if (/verdict/i.test(th.textContent)) col = i; });
    if (col < 0) return null;
    var right = Math.max.apply(null, Array.from(t.rows).map(function (r) {
      return r.cells[col] ? r.cells[col].getBoundingClientRect().right : -Infinity; }));
    var h = t.previousElementSibling;
    while (h && !/^H[1-6]$/.test(h.tagName)) h = h.previousElementSibling;
    return { n: n, section: h ? h.textContent : '', column: heads[col].textContent, right: right - body.left,
             width: t.scrollWidth, rows: t.rows.length - 1 };
  }).filter(Boolean);
})()"""

# per experiment's section (an h3 after the h2 "Experiments"): its name and
# the links of its evidence line
SECTIONS = """(function () {
  var h2 = Array.from(document.querySelectorAll('.markdown-body h2')).find(function (h) {
    return h.textContent.trim() === 'Experiments'; });
  var out = [], e = h2 ? h2.nextElementSibling : null, cur = null;
  for (; e && e.tagName !== 'H2'; e = e.nextElementSibling) {
    if (e.tagName === 'H3') { cur = { name: e.textContent.trim(), evidence: null }; out.push(cur); continue; }
    if (cur && cur.evidence === null && e.tagName === 'P' && /^Evidence:/.test(e.textContent.trim()))
      cur.evidence = Array.from(e.querySelectorAll('a')).map(function (a) { return a.getAttribute('href'); });
  }
  return { found: !!h2, sections: out, ids: Array.from(document.querySelectorAll('[id]')).map(function (x) { return x.id; }) };
})()"""


def planted(md):
    """md with the first experiment's table given a row whose claim is one
    unbreakable name of 1,200 px, and that section's evidence line gone;
    returns it and the section's name"""
    lines = md.split("\n")
    at = lines.index("## Experiments")
    head = next(i for i in range(at, len(lines)) if lines[i].startswith("### "))
    ev = next(i for i in range(head, len(lines)) if lines[i].startswith("Evidence:"))
    rule = next(i for i in range(head, len(lines)) if lines[i].startswith("|---"))
    lines.insert(rule + 1, "| `%s` | +1 [0, 2], t | holds |" % ("x" * 130))
    del lines[ev]
    return "\n".join(lines), lines[head][4:].strip()


def measure(b, md, path):
    """the tables and sections of md's page, written to path, in Chromium"""
    with open(path, "w", encoding="utf-8") as f:
        f.write(page(md))
    b.send("Page.navigate", {"url": "file://" + os.path.abspath(path)})
    b.wait_event("Page.loadEventFired")
    return b.evaluate(TABLES), b.evaluate(SECTIONS)


def lacking(sections):
    """the sections without their evidence line's sweep and verdicts.csv"""
    return [s["name"] for s in sections if not any(l.rstrip("/") == s["name"] for l in s["evidence"] or []) or
            (s["name"] + "/verdicts.csv") not in (s["evidence"] or [])]


def main():
    args = sys.argv[1:]
    keep = None
    if "--html" in args:
        keep = args[args.index("--html") + 1]
        del args[args.index("--html"):args.index("--html") + 2]
    if len(args) != 1:
        sys.exit(__doc__)
    repo = args[0]
    results = os.path.join(repo, "results")
    # the summary and every experiment's page (issue 116), joined as the one
    # page they replace: each table is measured as GitHub shows its page,
    # each evidence link rebased to results/ from its own page
    md = claims_page.joined(repo)
    chromium = cdp.find_chromium()
    if not chromium:
        print("skip: no Chromium (tests/deps.sh installs it)")
        return SKIP
    out = keep or os.path.join(tempfile.mkdtemp(prefix="normlab-claims."), "claims.html")
    failures = []

    def check(ok, what):
        print(("ok:     " if ok else "FAILED: ") + what)
        if not ok:
            failures.append(what)
    started = time.monotonic()
    b = cdp.Browser(chromium)
    try:
        b.open_page()
        b.send("Emulation.setDeviceMetricsOverride", {"width": COLUMN + 268, "height": 900, "deviceScaleFactor": 1,
                                                      "mobile": False})
        bad_md, bad_name = planted(md)
        bad_tables, bad_found = measure(b, bad_md, out + ".planted.html")
        tables, found = measure(b, md, out)
    finally:
        b.close()
    bad_wide = [t for t in bad_tables if t["right"] > COLUMN + 0.5]
    check([t["section"] for t in bad_wide] == [bad_name] and lacking(bad_found["sections"]) == [bad_name],
          "planted in %s: a claim's name too long to wrap pushes its verdict past %d px (found: %s), its evidence "
          "line removed (found: %s)" % (bad_name, COLUMN, ", ".join("%s at %.0f px" % (t["section"], t["right"])
                                                                    for t in bad_wide),
                                        ", ".join(lacking(bad_found["sections"]))))
    check(len(tables) > 0, "%d tables with a verdict column" % len(tables))
    wide = [t for t in tables if t["right"] > COLUMN + 0.5]
    check(not wide, "in every one the verdict column ends inside GitHub's %d px column%s" % (
        COLUMN, "; past it: " + "; ".join("table %d (%s, %d rows) %s ends at %.0f px, the table %d px wide"
                                          % (t["n"] + 1, t["section"], t["rows"], t["column"], t["right"], t["width"])
                                          for t in wide[:8]) + (" ..." if len(wide) > 8 else "")
        if wide else " (the rightmost ends at %.0f px)" % max(t["right"] for t in tables) if tables else ""))
    sections = found["sections"]
    check(found["found"] and len(sections) > 0, "%d experiments' sections under Experiments" % len(sections))
    ids = set(found["ids"])
    broken = []
    for s in sections:
        links = s["evidence"] or []
        name = s["name"]
        for l in links:
            if l.startswith("#"):
                if l[1:] not in ids:
                    broken.append("%s: %s" % (name, l))
            elif not re.match(r"^[a-z]+:", l):
                path = l.split("#")[0]
                if path and not os.path.exists(os.path.normpath(os.path.join(results, path))):
                    broken.append("%s: %s" % (name, l))
    without = lacking(sections)
    check(not without, "every section has its evidence line with its sweep and its verdicts.csv%s"
          % ("; lacking: " + ", ".join(without[:10]) if without else ""))
    check(not broken, "every evidence link names a file or a heading that exists (%d links)%s"
          % (sum(len(s["evidence"] or []) for s in sections), "; not: " + ", ".join(broken[:10]) if broken else ""))
    print("claims.md at %d px: %.1f s" % (COLUMN, time.monotonic() - started))
    if failures:
        print("%d check(s) failed" % len(failures))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
