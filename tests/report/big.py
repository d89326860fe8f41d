#!/usr/bin/python3
"""A page for a big sweep (test_report_big, issue 115): a synthetic sweep of
5,000 runs (4 normalizers x 5 learning rates x 250 seeds, some diverged),
its files written directly (summary.csv, each run's summary.json,
config.yaml and metrics.csv; no training), reported, and the page loaded in
headless Chromium. Checked, by what does not depend on the machine's
speed:

- the page is at most 3 MB (it was 8.5 MB at 4,770 runs: the runs table's
  rows and each run's details as HTML);
- at load the page holds few elements (the runs table's rows and the
  runs' details are made when asked for, not at load) and the runs
  table none of its rows;
- it loads without a console error, draws its curves, the means over
  seeds, and has its table over seeds;
- the means' train/loss axis fits the runs that did not diverge, though
  every cell holds a run whose loss reached 1e30 before it diverged (the
  means were fenced by the means: lr-tolerance-confirm2's drawn to 1e33);
- scrolled to, the runs table makes its rows and lays out a page of them,
  its count says so, a click on a column's header sorts all 5,000 (the
  first row laid is the smallest), a key's filter keeps its runs (each
  row laid has the value, the count the filter's runs), "show all" lays
  out every row the filter keeps, the curves' expression hides the rows
  it leaves out, and a run's box switches its curves off;
- a link to a run's details (#s1-run-N) makes and opens them; "list
  every run's details" lists all 5,000.

Times (normlab report's, the load's) are printed, not checked.

    tests/report/big.py NORMLAB OUT_DIR

Run from the repository root. Exit 0 passed, 1 failed, 77 skipped (no
Chromium)."""
import csv
import json
import math
import os
import random
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402
import cdp  # noqa: E402
from browser import check  # noqa: E402

NORMS = ["none", "batch", "layer", "group"]
RATES = ["0.01", "0.03", "0.1", "0.3", "1"]
SEEDS = 250
MAX_BYTES = 3_000_000
# elements in the document at load: the page's frame, tables over seeds,
# figures, the curves' charts (the parallel coordinates and the scatter: 4
# per run) and the filters, 25,400 at 5,000 runs; not the runs table's
# rows and the runs' details (45 elements a run: 252,600 with all laid
# out), nor a curve per run in the large chart and the small ones (6 per
# run): there, the means over seeds
MAX_ELEMENTS = 35000
# the curves' chart on train/loss: its highest labelled tick
TRAIN_LOSS_TOP = r"""(function () {
  var box = document.querySelector('.explore'), tag = box.querySelector('.tag');
  var o = Array.from(tag.options).find(function (o) { return /^train\/loss/.test(o.text); });
  if (!o) return null;
  tag.value = o.value; tag.dispatchEvent(new Event('change'));
  var ticks = Array.from(box.querySelectorAll('svg.chart .axes text:not(.xtick)'))
    .map(function (t) { return parseFloat(t.textContent); }).filter(isFinite);
  return ticks.length ? Math.max.apply(null, ticks) : null;
})()"""
MAX_CHART = 1000

METRICS = ["final_test_loss", "final_test_accuracy", "final_test_error", "best_test_accuracy", "final_train_loss",
           "steps", "wall_s", "samples_per_s", "threads", "cpu_kernels"]


def make_sweep(out):
    """a sweep of len(NORMS) x len(RATES) x SEEDS runs at out (replaced); its path"""
    rng = random.Random(115)
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(os.path.join(out, "runs"))
    rows = []
    for norm in NORMS:
        for lr in RATES:
            for s in range(SEEDS):
                seed = 1000 + s
                name = "type-%s_lr-%s_seed-%d" % (norm, lr, seed)
                # and the first seed of every cell, as every cell of lr-tolerance-confirm2 holds one
                diverged = (norm == "none" and float(lr) >= 0.3 and rng.random() < 0.7) or s == 0
                base = 0.2 + 0.1 * abs(math.log10(float(lr)) + 1) + (0.05 if norm == "none" else 0)
                err = 0.9 if diverged else min(0.9, base + rng.gauss(0, 0.02))
                loss = 1e5 if diverged else 0.4 + 2 * err + rng.gauss(0, 0.03)
                steps = 312 if not diverged else rng.randrange(20, 300)
                run = os.path.join(out, "runs", name)
                os.makedirs(run)
                reason = ("training loss %.1f at step %d, the first step whose loss exceeded train.diverge_loss"
                          " = 1000" % (1000 + rng.random() * 5000, steps)) if diverged else ""
                summary = {"name": name, "status": "diverged" if diverged else "ok", "reason": reason,
                           "steps": steps, "epochs": 2, "final_train_loss": loss * 0.9, "final_test_loss": loss,
                           "final_test_accuracy": 1 - err, "best_test_accuracy": 1 - err + 0.01,
                           "wall_s": 0.8 + rng.random() * 0.2, "samples_per_s": 25000 + rng.random() * 5000,
                           "seed": seed, "threads": 1, "cpu_kernels": "x86-64-v3", "device": "cpu",
                           "git_commit": "0123456789ab", "host": "vm", "normlab_version": "0.1.0",
                           "started_at": "2026-11-28T07:57:49Z", "finished_at": "2026-11-28T07:57:50Z"}
                with open(os.path.join(run, "summary.json"), "w") as f:
                    json.dump(summary, f, indent=2)
                with open(os.path.join(run, "config.yaml"), "w") as f:
                    f.write('name: "%s"\nseed: %d\ndevice: cpu\nthreads: 1\ndata:\n  dataset: fashion-mnist\n'
                            '  train_size: 10000\n  test_size: 2000\nmodel:\n  arch: mlp\n  hidden: [512]\n'
                            '  norm:\n    type: %s\n    eps: 1e-05\ntrain:\n  epochs: 2\n  batch_size: 64\n'
                            '  diverge_loss: 1000\n  optimizer:\n    type: sgd\n    lr: %s\n    momentum: 0.9\n'
                            % (name, seed, norm, lr))
                with open(os.path.join(run, "metrics.csv"), "w") as f:
                    f.write("step,epoch,split,loss,accuracy,lr,elapsed_s\n")
                    f.write("0,0.0000,test,2.30,0.1,%s,0.05\n" % lr)
                    # a diverged run's loss before its end, as lr-tolerance-confirm2's reach 1e33
                    f.write("10,0.0640,train,%s,0.1,%s,0.06\n" % ("1e30" if diverged else "%.2f" % (loss * 0.9), lr))
                    for step in range(20, steps + 1, 20):
                        frac = step / 312
                        f.write("%d,%.4f,train,%.4f,%.4f,%s,%.3f\n" % (
                            step, step / 156, 2.3 - (2.3 - loss) * frac + rng.gauss(0, 0.05),
                            0.1 + (0.9 - err) * frac, lr, 0.05 + frac * 0.8))
                    f.write("%d,%.4f,test,%.6f,%.4f,%s,%.3f\n" % (steps, steps / 156, loss, 1 - err, lr, 0.9))
                rows.append([name, norm, lr, seed, summary["status"], loss, 1 - err, err, 1 - err + 0.01, loss * 0.9,
                             steps, summary["wall_s"], summary["samples_per_s"], 1, "x86-64-v3"])
    with open(os.path.join(out, "summary.csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["run", "model.norm.type", "train.optimizer.lr", "seed", "status"] + METRICS)
        w.writerows(rows)
    return out


def wait_for(b, expression, what, timeout=30):
    """waits until expression is true in the page; whether it came"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if b.evaluate(expression):
            return True
        time.sleep(0.1)
    check(False, "%s (waited %d s)" % (what, timeout))
    return False


COUNT = "document.getElementById('s1-runtable-count').textContent"
LAID = "Array.from(document.querySelectorAll('#s1-runtable tbody tr'))"


def check_runs_table(b):
    b.evaluate("document.getElementById('s1-runs').scrollIntoView()")
    if not wait_for(b, LAID + ".length > 0", "scrolled to, the runs table makes its rows"):
        return
    laid = b.evaluate(LAID + ".length")
    count = b.evaluate(COUNT)
    check(laid == 100 and count.startswith("100 of 5000 rows shown"),
          "the runs table lays out a page of its rows (%d laid; its count: %r)" % (laid, count))
    # sort by the lead metric's column (final_test_error): the first row laid is the smallest of all
    col = b.evaluate("""Array.from(document.querySelectorAll('#s1-runtable thead th')).findIndex(function (th) {
      return th.textContent.replace(/\\s/g, '').indexOf('final_test_error') === 0; })""")
    if col < 0:
        check(False, "the runs table has a final_test_error column")
        return
    b.evaluate("document.querySelectorAll('#s1-runtable thead th')[%d].querySelector('button').click()" % col)
    wait_for(b, "document.querySelectorAll('#s1-runtable thead th')[%d].getAttribute('aria-sort') === 'ascending'"
             % col, "a click on final_test_error's header sorts the table")
    first = b.evaluate("+document.querySelector('#s1-runtable tbody tr').cells[%d].getAttribute('data-v')" % col)
    with open(os.path.join(SWEEP, "summary.csv")) as f:
        smallest = min(float(r["final_test_error"]) for r in csv.DictReader(f))
    check(abs(first - smallest) < 1e-9, "sorted, the first row laid is the smallest of all 5000 (%g, %g)"
          % (first, smallest))
    # a key's filter: every row laid has its value, the count the filter's runs
    b.evaluate("""(function () { var s = document.querySelector('.filters select[data-key="model.norm.type"]');
      s.value = '=layer'; s.dispatchEvent(new Event('change')); })()""")
    keys = b.evaluate(LAID + ".map(function (tr) { return tr.querySelector('td[data-k]').getAttribute('data-k'); })")
    count = b.evaluate(COUNT)
    check(len(keys) == 100 and set(keys) == {"layer"} and "(1250 match" in count,
          "a key's filter keeps its runs in the table (%d laid, %s; its count: %r)" % (len(keys), sorted(set(keys)),
                                                                                    count))
    b.evaluate("document.querySelector('.more-rows button.all').click()")
    laid = b.evaluate(LAID + ".length")
    check(laid == 1250 and b.evaluate(COUNT) == "1250 of 5000 rows shown",
          "\"show all\" lays out every row the filter keeps (%d; %r)" % (laid, b.evaluate(COUNT)))
    # the curves' expression hides the rows it leaves out
    b.evaluate("""(function () { var re = document.querySelector('.explore .re');
      re.value = 'seed-100[0-4]$'; re.dispatchEvent(new Event('input')); })()""")
    names = b.evaluate(LAID + ".map(function (tr) { return tr.querySelector('td.name a').textContent; })")
    check(len(names) == 25 and all(n.startswith("type-layer_") for n in names),
          "the curves' expression and the filter keep 25 rows (%d: %s)" % (len(names), names[:3]))
    # a run's box switches its curves off
    off = b.evaluate("""(function () { var cb = document.querySelector('#s1-runtable tbody input.draw');
      if (!cb) return null; cb.click(); return cb.checked; })()""")
    check(off is False, "a run's box in the table switches its curves off (checked: %r)" % off)


def check_details(b, url):
    b.send("Page.navigate", {"url": "about:blank"})
    browser.load(b, url + "#s1-run-4321", 1280, 900)
    opened = wait_for(b, "(function () { var d = document.getElementById('s1-run-4321'); "
                         "return !!d && d.open && d.getBoundingClientRect().top < innerHeight; })()",
                      "a link to a run's details makes and opens them")
    if opened:
        text = b.evaluate("document.getElementById('s1-run-4321').textContent")
        with open(os.path.join(SWEEP, "summary.csv")) as f:
            name = list(csv.reader(f))[4321][0]
        check(name in text and "train.optimizer.lr" in text.replace("\u200b", ""),
              "run 4321's details name it (%s) and its keys" % name)
    b.evaluate("document.querySelector('.lazy-details button.all-details').click()")
    if wait_for(b, "document.querySelectorAll('#s1-details details.run').length === 5000",
                "\"list every run's details\" lists all 5000"):
        order = b.evaluate("Array.from(document.querySelectorAll('#s1-details details.run')).every(function (d, i) {"
                           " return d.id === 's1-run-' + (i + 1); })")
        check(order, "\"list every run's details\" lists all 5000, in the runs' order")


SWEEP = None


def main():
    global SWEEP
    args = browser.page_test_args(__doc__)
    if not args:
        return browser.SKIP
    normlab, out_dir, chromium = args
    started = time.monotonic()
    SWEEP = make_sweep(os.path.join(out_dir, "big-sweep"))
    print("a sweep of %d runs written in %.1f s" % (len(NORMS) * len(RATES) * SEEDS, time.monotonic() - started))
    page, _ = browser.make_report(normlab, SWEEP, out_dir, "big.html")
    size = os.path.getsize(page)
    check(size <= MAX_BYTES, "the page of 5000 runs is %.2f MB, at most %.1f MB" % (size / 1e6, MAX_BYTES / 1e6))
    url = "file://" + page
    b = cdp.Browser(chromium, timeout=120)
    try:
        b.open_page()
        started = time.monotonic()
        browser.load(b, url, 1280, 900)
        print("loaded in %.1f s (not checked)" % (time.monotonic() - started))
        said, asked = browser.problems(b, url)
        bad = said + asked
        check(not bad, "the page loads without an error or a request outside it%s" % (": %s" % bad[:3] if bad else ""))
        elements = b.evaluate("document.getElementsByTagName('*').length")
        check(elements <= MAX_ELEMENTS, "at load the page holds %d elements, at most %d" % (elements, MAX_ELEMENTS))
        laid = b.evaluate(LAID + ".length")
        check(laid == 0, "at load the runs table has laid out none of its rows (%d)" % laid)
        drawn = b.evaluate("document.querySelectorAll('.explore svg.chart path').length")
        chart = b.evaluate("document.querySelector('.explore svg.chart').getElementsByTagName('*').length")
        check(0 < drawn and chart <= MAX_CHART, "the curves are drawn, the means over seeds (%d paths; %d elements, "
              "at most %d)" % (drawn, chart, MAX_CHART))
        group = b.evaluate("document.querySelector('.explore select.group').value")
        check(group == "~seed", "the curves' view starts on the means over seeds (%r)" % group)
        top = b.evaluate(TRAIN_LOSS_TOP)
        check(top is not None and top < 100, "the means' train/loss axis fits the runs that did not diverge, "
              "though most means hold a run at 1e30 before it diverged (top tick %s)" % top)
        cells = b.evaluate("document.querySelectorAll('#s1-cells tbody tr').length")
        check(cells == len(NORMS) * len(RATES), "the table over seeds has a row per cell (%d)" % cells)
        check_runs_table(b)
        check_details(b, url)
        said, asked = browser.problems(b, url)
        bad = said + asked
        check(not bad, "no error after the runs table and details%s" % (": %s" % bad[:3] if bad else ""))
    finally:
        b.close()
    return browser.exit_status()


if __name__ == "__main__":
    sys.exit(main())
