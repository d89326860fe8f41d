#!/usr/bin/python3
"""How fast a large sweep's page answers in headless Chromium (a benchmark,
not a test: results/report.md keeps its numbers). Copies a committed
sweep's runs to N (many.py), makes its page with each normlab given, and
times, median of ROUNDS fresh loads: the load (navigation to the load
event), and each interaction with the layout it causes (a smoothing
step, a keystroke in the expression box, the log switch, a mean over
seeds, the x axis where the page has one), and where the page draws its
small charts a task after the large one, their time apart.

    tests/report/bench.py SWEEP N OUT_DIR NORMLAB [NORMLAB ...] [--rounds R]

Run from the repository root. Prints the CPU, then a line per page."""
import os
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browser  # noqa: E402
import cdp  # noqa: E402
import many  # noqa: E402

# each interaction timed in the page, the layout it causes included
INTERACT = """(function () {
  var box = document.querySelector('.explore'), out = {};
  function time(name, f) {
    var t = performance.now();
    f();
    document.body.getBoundingClientRect();
    out[name] = performance.now() - t;
    /* the small charts, where the page draws them a task later */
    if (!box.drawPending) return;
    t = performance.now();
    box.drawPending();
    document.body.getBoundingClientRect();
    out[name + ' (small charts after)'] = performance.now() - t;
  }
  function set(sel, v, ev) { var e = box.querySelector(sel); if (!e) return false; e.value = v;
                             e.dispatchEvent(new Event(ev)); return true; }
  time('smoothing', function () { set('.smooth', 0.5, 'input'); });
  time('keystroke', function () { set('.re', 'seed', 'input'); });
  time('log', function () { box.querySelector('.log').click(); });
  time('mean over seeds', function () { set('.group', '~seed', 'change'); });
  if (box.querySelector('.xaxis')) time('x axis', function () { set('.xaxis', 'step', 'change'); });
  return out;
})()"""


def cpu():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip() + ", %d cores" % os.cpu_count()
    return "unknown"


def main():
    args = sys.argv[1:]
    rounds = 3
    if "--rounds" in args:
        rounds = int(args[args.index("--rounds") + 1])
        del args[args.index("--rounds"):args.index("--rounds") + 2]
    if len(args) < 4:
        sys.exit(__doc__)
    sweep, n, out_dir, normlabs = args[0], int(args[1]), args[2], args[3:]
    copy = many.copy_sweep(sweep, os.path.join(out_dir, "bench-sweep"), n)
    experiment = os.path.join("experiments", os.path.basename(os.path.normpath(sweep)) + ".yaml")
    extra = ["--experiment", experiment] if os.path.exists(experiment) else []
    print("CPU: %s; %s copied to %d runs" % (cpu(), sweep, n))
    b = cdp.Browser(cdp.find_chromium(), timeout=300)
    try:
        b.open_page()
        for i, normlab in enumerate(normlabs):
            page = os.path.abspath(os.path.join(out_dir, "bench-%d.html" % i))
            subprocess.run([normlab, "report", copy, "--out", page, "--force"] + extra, check=True,
                           capture_output=True)
            loads, acts = [], {}
            for _ in range(rounds):
                b.send("Page.navigate", {"url": "about:blank"})
                time.sleep(0.5)
                started = time.monotonic()
                browser.load(b, "file://" + page, 1280, 900)
                loads.append(time.monotonic() - started)
                for k, v in b.evaluate(INTERACT).items():
                    acts.setdefault(k, []).append(v)
            print("%s: page %.2f MB, load %.2f s; %s (medians of %d)" % (
                normlab, os.path.getsize(page) / 1e6, statistics.median(loads),
                ", ".join("%s %.0f ms" % (k, statistics.median(v)) for k, v in acts.items()), rounds))
    finally:
        b.close()


if __name__ == "__main__":
    main()
