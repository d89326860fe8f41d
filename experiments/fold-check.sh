#!/bin/sh
# Batch norm folded for inference (issue 44, reproduction 4): every distinct
# committed model with a normalizer that keeps running statistics, trained
# briefly, then evaluated on its test split unfolded and with --fold-bn.
#
# The models are derived, not listed: the resolved configs of every
# committed reproduction's run (results/*/runs/*/config.yaml) and of every config in
# configs/, kept when model.norm.type is a normalizer whose row in
# configs/README.md's generated normalizer table has running statistics
# (and track_running_stats is on), one per distinct model: section and
# dataset. Each is trained for STEPS steps with its own optimizer and
# data, on one thread; where normlab refuses to fold, its reason goes in
# the table.
#
#   experiments/fold-check.sh [OUT_DIR] [STEPS]   (default results/fold-bn, 200)
#
# Writes OUT_DIR/models.csv (each model, its first source and how many
# committed configs share it), OUT_DIR/configs/<id>.yaml, the runs under
# OUT_DIR/runs/<id>/ (their eval/ records beside them) and OUT_DIR/fold.csv
# and OUT_DIR/fold.md: accuracy and loss unfolded and folded, the
# difference, the layers folded or the refusal.
set -eu
cd "$(dirname "$0")/.."
OUT=${1:-results/fold-bn}
STEPS=${2:-200}
NORMLAB=${NORMLAB:-build/normlab}
PY=${PY:-python3}
mkdir -p "$OUT/configs" "$OUT/runs" "$OUT/resolved"

# configs/ holds unresolved configs: resolve them first
for c in configs/*.yaml; do
    "$NORMLAB" validate --print "$c" > "$OUT/resolved/$(basename "$c")"
done

"$PY" - "$OUT" <<'PYEOF'
import csv, glob, os, re, sys, yaml
out = sys.argv[1]
# normalizers with running statistics, from the generated table
text = open("configs/README.md").read()
table = text.split("<!-- BEGIN NORMALIZER TABLE")[1].split("<!-- END NORMALIZER TABLE")[0]
stats_kinds = {}
for line in table.splitlines():
    cells = [c.strip() for c in line.strip().strip("|").split("|")]
    if len(cells) >= 6 and cells[0].startswith("`"):
        running = cells[4]
        if running.startswith("yes") or running.startswith("optional"):
            stats_kinds[cells[0].strip("`")] = running.startswith("yes")
# each run's own config.yaml (a sweep's configs/RUN.yaml is its input, not kept)
own = os.path.join(os.path.normpath(out), "runs") + "/"
sources = sorted(glob.glob(os.path.join(out, "resolved", "*.yaml"))) + \
          sorted(p for p in glob.glob("results/*/runs/*/config.yaml") if not p.startswith(own))
models = {}
for path in sources:
    cfg = yaml.safe_load(open(path))
    norm = cfg["model"].get("norm") or {}
    kind = norm.get("type", "none")
    if kind not in stats_kinds:
        continue
    if not norm.get("track_running_stats", stats_kinds[kind]):
        continue
    if (cfg.get("init") or {}).get("from"):
        continue  # a fine-tuning run: its model is its source's
    key = yaml.safe_dump({"model": cfg["model"], "dataset": cfg["data"]["dataset"]}, sort_keys=True)
    # a source whose training is tied to its own length (freezing batch norm
    # after step K) cannot run briefly: another config of the model stands in
    tied = (cfg.get("train") or {}).get("freeze_bn_after") is not None
    if key in models:
        models[key][1] += 1
        if models[key][5] and not tied:
            n = models[key][1]
            models[key] = [path, n, path, cfg, open(path).read(), False]
        continue
    src = path.replace(os.path.join(out, "resolved") + "/", "configs/")
    models[key] = [path, 1, src, cfg, open(path).read(), tied]
with open(os.path.join(out, "models.csv"), "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(["id", "source", "configs_sharing", "arch", "norm", "placement", "param_norm"])
    for i, (path, n, src, cfg, text, tied) in enumerate(models.values()):
        m = cfg["model"]
        ident = "m%02d-%s-%s" % (i + 1, m["arch"], m["norm"]["type"])
        # the resolved text as it is: a YAML round trip would turn names
        # such as off into booleans
        with open(os.path.join(out, "configs", ident + ".yaml"), "w") as g:
            g.write("# %s, trained briefly for the folding check\n" % src)
            g.write(text)
        w.writerow([ident, src, n, m["arch"], m["norm"]["type"], (m.get("norm") or {}).get("placement", ""),
                    (m.get("param_norm") or {}).get("type", "none")])
PYEOF
rm -rf "$OUT/resolved"

for c in "$OUT"/configs/*.yaml; do
    id=$(basename "$c" .yaml)
    run="$OUT/runs/$id"
    if [ ! -f "$run/final.nlck" ]; then
        rm -rf "$run"
        "$NORMLAB" run "$c" --set train.steps="$STEPS" --set train.eval_every="$STEPS" \
            --set name="$id" --set threads=1 \
            --out "$run" > /dev/null 2> "$OUT/runs/$id.train.txt" || true
    fi
    [ -f "$run/final.nlck" ] || continue
    mkdir -p "$run/eval"
    [ -f "$run/eval/test.json" ] || "$NORMLAB" eval "$run" > /dev/null 2> "$run/eval/eval-failed.txt" || true
    [ -s "$run/eval/eval-failed.txt" ] || rm -f "$run/eval/eval-failed.txt"
    if [ ! -f "$run/eval/test-folded.json" ]; then
        "$NORMLAB" eval "$run" --fold-bn > /dev/null 2> "$run/eval/fold-refused.txt" || true
        [ -s "$run/eval/fold-refused.txt" ] || rm -f "$run/eval/fold-refused.txt"
    fi
done

"$PY" - "$OUT" <<'PYEOF'
import csv, json, os, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(out, "models.csv"))))
fields = ["id", "source", "configs_sharing", "arch", "norm", "placement", "param_norm",
          "accuracy", "accuracy_folded", "loss", "loss_folded", "loss_difference",
          "folded_layers", "refused"]
table = []
for r in rows:
    run = os.path.join(out, "runs", r["id"])
    def load(name):
        p = os.path.join(run, "eval", name + ".json")
        return json.load(open(p)) if os.path.exists(p) else None
    plain, folded = load("test"), load("test-folded")
    refused = ""
    p = os.path.join(run, "eval", "fold-refused.txt")
    q = os.path.join(run, "eval", "eval-failed.txt")
    if os.path.exists(q):
        refused = "not evaluated: " + open(q).read().strip().splitlines()[0]
    elif os.path.exists(p):
        refused = open(p).read().strip().splitlines()[0]
    elif plain is None:
        refused = "did not train: see runs/%s.train.txt" % r["id"]
    row = dict(r)
    row.update(accuracy=plain and plain["accuracy"], loss=plain and plain["loss"],
               accuracy_folded=folded and folded["accuracy"], loss_folded=folded and folded["loss"],
               loss_difference=folded and plain and abs(folded["loss"] - plain["loss"]),
               folded_layers=folded and folded["folded_layers"], refused=refused)
    table.append(row)
with open(os.path.join(out, "fold.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=fields)
    w.writeheader()
    w.writerows(table)
def pct(x):
    return "" if x in (None, "") else "%.2f" % (100 * x)
with open(os.path.join(out, "fold.md"), "w") as f:
    f.write("| model | first source (configs sharing it) | norm, placement | accuracy (%) | folded (%) | test loss | folded | loss difference | layers folded |\n")
    f.write("|---|---|---|---:|---:|---:|---:|---:|---|\n")
    for r in table:
        folded = r["folded_layers"] if r["folded_layers"] is not None else "refused: " + r["refused"].replace("|", "\\|")
        f.write("| %s | %s (%s) | %s, %s%s | %s | %s | %s | %s | %s | %s |\n" % (
            r["id"], r["source"], r["configs_sharing"], r["norm"], r["placement"] or "-",
            "" if r["param_norm"] == "none" else ", param_norm " + r["param_norm"],
            pct(r["accuracy"]), pct(r["accuracy_folded"]),
            "" if r["loss"] is None else "%.6f" % r["loss"],
            "" if r["loss_folded"] is None else "%.6f" % r["loss_folded"],
            "" if r["loss_difference"] is None else "%.1e" % r["loss_difference"], folded))
PYEOF
echo "$OUT/fold.md"
