#!/usr/bin/python3
"""The curves' view's runs filter cannot freeze the page (issue 118 #5),
checked in headless Chromium on a committed sweep's page:

- the page's own matcher (core/report/assets/report.2-match.js, a
  Thompson automaton simulated a set of states at a time) agrees with the
  browser's RegExp (case-insensitive, matched anywhere) over the page's
  own texts (each run's name and key=value) and some made up, for a table
  of expressions (literals and escapes, classes, anchors, alternation,
  bounded and unbounded repeats, lazy ones, case), and refuses with its
  message what it does not match (back-references, lookaround, \\p{},
  an automaton of over 10,000 states);
- the nested repetitions that froze the page in V8 for minutes
  ((a{1,9}){1,9}$, (a{0,8}){0,8}!, ((a?){8}){8}$, ((.?){8}){8}!,
  (.*){9}!, (a+)+$) answer within milliseconds on texts of 2,000 a's,
  with what an equivalent safe expression gives;
- the same expressions from a link and typed into the box: the page
  answers at once (a trivial evaluation within a few seconds) and says
  "N of M runs match" with the count the browser's RegExp gives of the
  equivalent expression over the same texts; the refused ones say why,
  mark the box invalid and show every run; an expression too costly for
  the sweep's names stops after its budget of steps, saying so.

    tests/report/regex.py NORMLAB OUT_DIR

Run from the repository root. Exit 0 passed, 1 failed, 77 skipped (no
Chromium)."""
import json
import os
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402
import cdp  # noqa: E402
from browser import check  # noqa: E402

SWEEP = "results/wu-he-batch-mlp"
MATCHER = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                       "core", "report", "assets", "report.2-match.js")

# each nested expression (a backtracking engine tries every way to split
# a text between its repeats) and a safe one that matches the same texts
NESTED = [("(a{1,9}){1,9}$", "a$"), ("(a{0,8}){0,8}!", "!"), ("((a?){8}){8}$", "$"),
          ("((.?){8}){8}!", "!"), ("(.*){9}!", "!"), ("(a+)+$", "a$"), ("(.+)+!", ".!"),
          ("(a|a)*x", "x"), ("(\\w+\\s?)+$", "\\w$"), (".*.*.*.*.*!", "!"), (".?" * 30 + "!", "!"),
          ("((.?){8}){8}seed", "seed"), ("(a{0,8}){0,8}_seed-1$", "_seed-1$"),
          ("((.?){8}){8}type-none", "type-none"), ("(a{1,9}){1,9}yer", "ayer")]

# expressions the browser's RegExp runs safely, to agree with
AGREE = ["a", "A", "^type-none_", "seed-1$", "SEED-(1|2)$", "batch|layer", "lr-0\\.(1|3)_", "[ab]+c*",
         ".*batch.*seed-1$", "seed-(1|2)?$", "^$", ".", "^.{29}$", "^.{0,30}$", "x{2}", "e{2,}", "(?:ne){1,3}_",
         "[a-c]", "[^a-z_0-9-]", "[A-Z]+$", "\\d", "\\D+", "\\w+=\\d", "\\W", "\\s", "\\S+$", "[\\d_]", "[^\\W]",
         "[\\d-z]", "[-a]", "[]", "[^]", "\\bseed\\b", "\\Bize", "type\\b", "x{", "a{,2}", "}", "]", "\\x5f",
         "\\u0073eed", "\\cA", "\\q", "\\.", "\\-", "(a)(b)?", "()", "(|z)", "a||b", "(?<k>size)-\\d", "é", "K",
         "ſ", "[k]", "[S]", "x*?y", "a+?", "a??b", "e{1,2}?", "^(?:[a-z]|_|-|\\d)*$", "(^t|1$)", "(e$|^b)",
         "type-(none|batch|layer)_batch_size-(2|4|8)_", "size=1\\d*$", "[.]",
         "(?:)", "(?:a*)*b", "(a|aa)+$", "((a|b)+)?c", ".{3,5}", "TYPE-NONE", "Batch_Size-64", "\\$", "=$"]

# made-up texts beside the page's own
TEXTS = ["", "a", "aaaa", "AaA!", "ab\ncd", "x y\tz", "foo_bar-baz", "\u00c9", "\u00e9", "stra\u00dfe", "\u212a",
         "\u017f", "s", "\u00b5", "\u03bc", "{1}", "a{2", "]}", "-x-", "Ab12_", "\u00a0", "$", "tab\there",
         "a.b", "lr-0.1_", "lr-0.3_", "\u0001"]

# refused: what the box says (besides "every run is shown")
REFUSED = [("(a)\\1", "a back-reference (\\1)"),
           ("(?<n>a)\\k<n>", "a named back-reference"),
           ("(?=type)", "a lookahead ((?=...))"), ("seed(?!-1)", "a lookahead ((?!...))"),
           ("(?<=_)seed", "a lookbehind ((?<=...))"), ("(?<!_)seed", "a lookbehind ((?<!...))"),
           ("\\p{L}", "a Unicode property"), ("\\01", "an octal escape"),
           ("a{20000}", "an expression compiled to over 10,000 states"), ("((a{1,100}){1,100}){1,100}", "an expression compiled to over 10,000 states"),
           ("a" * 200000, "an expression compiled to over 10,000 states"), ("(" * 5000 + ")" * 5000, "nesting groups over 200 deep"),
           ("([", "not a regular expression (a [ not closed)"), ("a**", "not a regular expression (nothing to repeat)"),
           ("a{3,2}", "not a regular expression (numbers out of order"), ("[z-a]", "not a regular expression (a range"),
           ("(a", "not a regular expression (a ( not closed)"), ("a)", "not a regular expression (a ) not opened)")]

# the matcher from the asset itself, checked against RegExp in the page
UNIT = """(function (src, agree, texts, nested, refused) {
  var compileFilter = new Function(src + '\\nreturn compileFilter;')();
  var box = document.querySelector('.explore');
  var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
  data.runs.forEach(function (r) {
    texts.push(r.n);
    data.keys.forEach(function (k, i) { texts.push(k + '=' + r.v[i]); if (r.k) texts.push(k + '=' + r.k[i]); });
  });
  var out = { checked: 0, wrong: [], nested: [], refused: [] };
  agree.forEach(function (p) {
    var m = compileFilter(p), rx = new RegExp(p, 'i');
    if (!m.test) { out.wrong.push(p + ': refused, ' + JSON.stringify(m)); return; }
    texts.forEach(function (t) {
      out.checked++;
      var a = m.test(t), b = rx.test(t);
      if (a !== b) out.wrong.push(JSON.stringify(p) + ' on ' + JSON.stringify(t) + ': ' + a + ', RegExp ' + b);
    });
  });
  var hostile = ['a'.repeat(2000) + 'b', 'a'.repeat(2000), 'A'.repeat(999) + '!', 'type-none_batch_size-2_seed-1'];
  nested.forEach(function (pair) {
    var m = compileFilter(pair[0]), rx = new RegExp(pair[1], 'i'), t0 = performance.now(), agreeing = true;
    hostile.forEach(function (t) { if (m.test(t) !== rx.test(t)) agreeing = false; });
    out.nested.push([pair[0], performance.now() - t0, agreeing, m.states]);
  });
  refused.forEach(function (p) {
    var m = compileFilter(p[0]);
    out.refused.push([p[0].slice(0, 40), m.error ? 'not a regular expression (' + m.error + ')' : m.unsupported || '']);
  });
  return out;
})"""

# the runs whose name or a key=value the browser's RegExp matches (an
# expression that is safe for it), and the box as it stands
COUNT = """(function (re) {
  var box = document.querySelector('.explore');
  var data = JSON.parse(document.getElementById(box.getAttribute('data-source')).textContent);
  var rx = new RegExp(re, 'i');
  return data.runs.filter(function (r) {
    return rx.test(r.n) || data.keys.some(function (k, i) {
      return rx.test(k + '=' + r.v[i]) || (r.k && rx.test(k + '=' + r.k[i]));
    });
  }).length;
})"""
BOX = """(function () {
  var box = document.querySelector('.explore');
  return { says: box.querySelector('.resays').textContent, invalid: box.querySelector('.re').getAttribute('aria-invalid'),
           lines: box.querySelectorAll('svg.chart path.line').length, runs: JSON.parse(document.getElementById(
             box.getAttribute('data-source')).textContent).runs.length };
})()"""


def answers(b):
    """seconds the page takes to evaluate a trivial expression (it is not
    busy)"""
    started = time.monotonic()
    check(b.evaluate("1 + 1") == 2, "the page evaluates 1 + 1")
    return time.monotonic() - started


def check_unit(b):
    with open(MATCHER) as f:
        src = f.read()
    got = b.evaluate("%s(%s, %s, %s, %s, %s)" % (UNIT, json.dumps(src), json.dumps(AGREE), json.dumps(TEXTS),
                                                  json.dumps(NESTED), json.dumps(REFUSED)))
    check(not got["wrong"] and got["checked"] > 5000,
          "the matcher agrees with RegExp on %d expressions over %d tests%s"
          % (len(AGREE), got["checked"], ": " + "; ".join(got["wrong"][:8]) if got["wrong"] else ""))
    for p, ms, agreeing, states in got["nested"]:
        check(ms < 1000 and agreeing, "%s (%d states) over 2,000 a's: %.1f ms, %s an equivalent expression"
              % (p, states, ms, "as" if agreeing else "NOT as"))
    for (p, want), (_, said) in zip(REFUSED, got["refused"]):
        check(want.replace("not a regular expression (", "") in said, "%s refused: %r" % (p[:40], said))


def check_applied(b, how, text, want):
    says = b.evaluate(BOX)
    took = answers(b)
    expected = "%d of %d runs match" % (want, says["runs"])
    check(says["says"] == expected and says["invalid"] is None and took < 2,
          "%s %s: %r (want %r), the page answering in %.2f s" % (how, text, says["says"], expected, took))


def check_link(b, url, text, equivalent):
    frag = "#view&s1.re=" + urllib.parse.quote(text, safe="")
    started = time.monotonic()
    try:
        open_link(b, url + frag)
    except TimeoutError as e:
        check(False, "from a link %s: the page loads (%s)" % (text, e))
        return False
    took = time.monotonic() - started
    want = b.evaluate("%s(%s)" % (COUNT, json.dumps(equivalent)))
    print("        loaded in %.2f s" % took)
    check_applied(b, "from a link", text, want)
    return True


def open_link(b, link, timeout=20):
    b.send("Page.navigate", {"url": "about:blank"})
    time.sleep(0.2)
    b.send("Page.navigate", {"url": link})
    end = time.monotonic() + timeout
    while b.evaluate("location.href === %s && document.readyState === 'complete'" % json.dumps(link)) is not True:
        if time.monotonic() > end:
            raise TimeoutError("not loaded in %d s" % timeout)
        time.sleep(0.1)


def check_typed(b, text, want):
    started = time.monotonic()
    browser.type_regex(b, text)
    took = time.monotonic() - started
    check(took < 2, "typed %s: the input handler returned in %.2f s" % (text[:40], took))
    check_applied(b, "typed", text, want)


def main():
    args = browser.page_test_args(__doc__)
    if not args:
        return browser.SKIP
    normlab, out_dir, chromium = args
    url = "file://" + browser.make_report(normlab, SWEEP, out_dir, "regex.html")[0]
    b = cdp.Browser(chromium, timeout=30)
    try:
        b.open_page()
        browser.load(b, url, 1280, 900)
        check_unit(b)
        # nested repetitions from a link, then typed, beside safe ones
        for text, equivalent in NESTED:
            if not check_link(b, url, text, equivalent):
                b.close()
                b = cdp.Browser(chromium, timeout=30)
                b.open_page()
        open_link(b, url)
        for text, equivalent in NESTED:
            check_typed(b, text, b.evaluate("%s(%s)" % (COUNT, json.dumps(equivalent))))
        for text in AGREE:
            check_typed(b, text, b.evaluate("%s(%s)" % (COUNT, json.dumps(text))))
        # refused: said, the box marked, every run drawn
        browser.type_regex(b, "")
        every = b.evaluate(BOX)["lines"]
        for text, want in REFUSED:
            started = time.monotonic()
            browser.type_regex(b, text)
            got = b.evaluate(BOX)
            took = time.monotonic() - started
            said = want if want.startswith("not a regular expression") else "not applied, " + want
            if not want.startswith("not a regular expression") and "is not supported here" not in got["says"]:
                said = "is not supported here"
            check(said in got["says"] and got["says"].endswith(": every run is shown") and got["invalid"] == "true"
                  and got["lines"] == every and took < 2,
                  "typed %s: %r, the box invalid (%s), %d curves of %d, in %.2f s"
                  % (text[:40], got["says"][:160], got["invalid"], got["lines"], every, took))
        # an expression within the states' bound that the runs' texts would
        # make too costly: stopped inside a match by its budget of steps
        started = time.monotonic()
        browser.type_regex(b, "(.?){4900}!")
        got = b.evaluate(BOX)
        took = time.monotonic() - started
        check("steps over the runs" in got["says"] and got["invalid"] == "true" and got["lines"] == every
              and took < 3, "typed (.?){4900}!: %r in %.2f s" % (got["says"][:160], took))
        # the box still works after them
        check_typed(b, "seed-1$", b.evaluate("%s('seed-1$')" % COUNT))
        said, asked = browser.problems(b, url)
        check(not said and not asked, "no console error, no request outside the file%s"
              % (": " + "; ".join(said + asked)[:300] if said or asked else ""))
    finally:
        b.close()
    return browser.exit_status()


if __name__ == "__main__":
    sys.exit(main())
