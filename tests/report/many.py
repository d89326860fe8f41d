"""A large sweep made cheaply from a committed one (for the size and
speed checks of normlab report and normlab export tensorboard): its runs
copied until there are N, each copy a seed of its own (run name, seed in
summary.csv, summary.json and config.yaml), so the copies are more seeds
of the same cells, as a longer sweep of the same grid would be.

    tests/report/many.py SOURCE_SWEEP DEST N"""
import csv
import os
import re
import shutil
import sys


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
        src = os.path.join(source, "runs", row[0])
        seed = None
        if seed_col >= 0:
            seed = int(row[seed_col]) + copy * (max(seeds) - min(seeds) + 1)
            row[seed_col] = str(seed)
        name = re.sub(r"seed-\d+$", "seed-%d" % seed, row[0]) if seed is not None else row[0]
        if name == row[0] and copy:
            name = "%s_copy-%d" % (row[0], copy)
        row[0] = name
        run = os.path.join(dest, "runs", name)
        shutil.copytree(src, run)
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


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    copy_sweep(sys.argv[1], sys.argv[2], int(sys.argv[3]))
