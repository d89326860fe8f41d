"""A large sweep made cheaply from a committed one (for the size and
speed checks of normlab report and normlab export tensorboard): its runs
copied until there are N, each copy a seed of its own (run name, seed in
summary.csv, summary.json and config.yaml), so the copies are more seeds
of the same cells, as a longer sweep of the same grid would be. The
source's runs are read from their directories or its pack (runs.sqlite,
tests/packs.py); the copy is run directories.

    tests/report/many.py SOURCE_SWEEP DEST N"""
import csv
import os
import re
import shutil
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import packs  # noqa: E402


def copy_sweep(source, dest, n):
    """DEST (replaced) holds N runs copied from SOURCE's; returns DEST"""
    shutil.rmtree(dest, ignore_errors=True)
    os.makedirs(os.path.join(dest, "runs"))
    with open(os.path.join(source, "summary.csv"), newline="") as f:
        rows = list(csv.reader(f))
    header, body = rows[0], rows[1:]
    seed_col = header.index("seed") if "seed" in header else -1
    seeds = sorted({int(r[seed_col]) for r in body}) if seed_col >= 0 else [0]
    out_rows = [header]
    for i in range(n):
        row = list(body[i % len(body)])
        copy = i // len(body)  # 0 for the originals
        src = row[0]
        seed = None
        if seed_col >= 0:
            seed = int(row[seed_col]) + copy * (max(seeds) - min(seeds) + 1)
            row[seed_col] = str(seed)
        name = re.sub(r"seed-\d+$", "seed-%d" % seed, row[0]) if seed is not None else row[0]
        if name == row[0] and copy:
            name = "%s_copy-%d" % (row[0], copy)
        row[0] = name
        run = os.path.join(dest, "runs", name)
        packs.export_run(source, src, run)
        if seed is not None:
            for file, pattern, repl in (("config.yaml", r"(?m)^seed: \d+$", "seed: %d" % seed),
                                        ("config.yaml", r'(?m)^name: ".*"$', 'name: "%s"' % name),
                                        ("summary.json", r'"seed": \d+', '"seed": %d' % seed),
                                        ("summary.json", r'"name": "[^"]*"', '"name": "%s"' % name)):
                path = os.path.join(run, file)
                if os.path.exists(path):
                    with open(path) as f:
                        text = f.read()
                    with open(path, "w") as f:
                        f.write(re.sub(pattern, repl, text, count=1))
        out_rows.append(row)
    with open(os.path.join(dest, "summary.csv"), "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(out_rows)
    return dest


def diverge(dest, fraction):
    """three runs in four of DEST (a fraction of them, every run but each
    1/(1 - fraction)-th) made to diverge: their losses in the second half
    of metrics.csv times 1e22, their status diverged (summary.json,
    summary.csv). Returns their names."""
    with open(os.path.join(dest, "summary.csv"), newline="") as f:
        rows = list(csv.reader(f))
    status = rows[0].index("status") if "status" in rows[0] else -1
    every = max(2, round(1 / (1 - fraction)))
    names = []
    for i, row in enumerate(rows[1:]):
        if i % every == 0:
            continue
        names.append(row[0])
        if status >= 0:
            row[status] = "diverged"
        run = os.path.join(dest, "runs", row[0])
        path = os.path.join(run, "summary.json")
        if os.path.exists(path):
            with open(path) as f:
                text = f.read()
            with open(path, "w") as f:
                f.write(re.sub(r'"status": "[^"]*"', '"status": "diverged"', text, count=1))
        path = os.path.join(run, "metrics.csv")
        if os.path.exists(path):
            with open(path, newline="") as f:
                table = list(csv.reader(f))
            loss = table[0].index("loss") if "loss" in table[0] else -1
            for r in table[1 + (len(table) - 1) // 2:]:
                if loss >= 0 and r[loss]:
                    r[loss] = "%.6g" % (float(r[loss]) * 1e22)
            with open(path, "w", newline="") as f:
                csv.writer(f, lineterminator="\n").writerows(table)
    with open(os.path.join(dest, "summary.csv"), "w", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(rows)
    return names


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    copy_sweep(sys.argv[1], sys.argv[2], int(sys.argv[3]))
