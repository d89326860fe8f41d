#!/usr/bin/python3
"""Mutation check: does the default suite notice a planted bug?

Each mutation below replaces one exact piece of source (which must occur
exactly once) with a wrong one. For each, this script applies it to a copy
of the working tree, builds it and runs the default test suite (the labels
tests/run.sh runs), and reports whether the suite went red. The tree you
run it from is never modified.

    tests/mutation/mutate.py [NAME...]      # all, or the named mutations
    tests/mutation/mutate.py --check        # only: does every original still occur once?

MUTATE_TESTS=REGEX runs only the tests it matches (ctest -R) instead of
the whole default suite, for a quick look at the tests meant to catch a
mutation (a result recorded from it says so); MUTATE_JOBS=N builds and
tests N at a time (default: every core).

A mutation the suite does not catch is a test to write. Results of a run
are kept in results/mutation.md.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# name, file, the exact original text, the mutant, why it matters
MUTATIONS = [
    ("verdict-t-quantile", "core/verdict/decide.c",
     "const double half = nl_stats_t_quantile(1 - (1 - opt->level) / 2, n - 1) * v->sd / sqrt(n);",
     "const double half = nl_stats_t_quantile(1 - (1 - opt->level) / 2, n) * v->sd / sqrt(n);",
     "the t interval takes n degrees of freedom instead of n - 1 (too narrow at 3 seeds)"),
    ("verdict-min-seeds", "core/verdict/decide.c",
     "    if (n >= NL_VERDICT_MIN_N)\n        return false;",
     "    if (n >= 2)\n        return false;",
     "two seeds decide again"),
    ("verdict-iut-max", "core/verdict/decide.c",
     "p_max = isnan(cells[i].p) ? NAN : fmax(p_max, cells[i].p);",
     "p_max = isnan(cells[i].p) ? NAN : fmin(p_max, cells[i].p);",
     "a claim over every cell takes its easiest cell's p (a union test) instead of the hardest's"),
    ("verdict-holm-secondary", "core/verdict/compute.c",
     "return c->headline || !any_headline ? NL_FAMILY_HEADLINE : NL_FAMILY_SECONDARY;",
     "return (void)any_headline, NL_FAMILY_HEADLINE;",
     "Holm's family takes every claim again, not the headline claims"),
    ("verdict-fails-uncorrected", "core/verdict/decide.c",
     "    else if (v->p_fail_holm <= alpha)",
     "    else if (v->p_fail <= alpha)",
     "does-not-hold judged by the uncorrected p while holds is Holm's"),
    ("stats-boot-mc-error", "core/stats/stats.c",
     "out.mc_error = sqrt(out.p * (1 - out.p) / resamples);",
     "out.mc_error = sqrt(out.p * (1 - out.p) / (resamples + 1));",
     "the bootstrap's Monte Carlo error over the wrong count"),
    ("stats-clopper-pearson", "core/stats/stats.c",
     "*lo = k == 0 ? 0 : invert(beta_inc_of, a_lo, alpha / 2, 0, 1);",
     "*lo = k == 0 ? 0 : invert(beta_inc_of, a_lo, alpha, 0, 1);",
     "the exact binomial interval's lower bound at a one-sided alpha instead of alpha/2"),
    ("stats-rate-power", "core/stats/stats.c",
     "        if (k <= n && nl_stats_binom_sf(k, n, rate) >= power)",
     "        if (k <= n && nl_stats_binom_sf(k, n, threshold) >= power)",
     "a rate's seeds for power computed at the threshold's rate instead of the observed one"),
    ("verdict-iut-power", "core/verdict/decide.c",
     "const double cell_power = pow(NL_VERDICT_POWER, 1.0 / (n >= 1 ? n : 1));",
     "const double cell_power = NL_VERDICT_POWER;",
     "a claim over cells asks each cell for power 0.8, so together they decide with less"),
    ("syncbn-merge-sign", "core/norm/stats_layer.c",
     "m2 += theirs[1 + channels + ch] * n_b + delta * delta * n_a * n_b / n;",
     "m2 += theirs[1 + channels + ch] * n_b - delta * delta * n_a * n_b / n;",
     "SyncBN's cross-rank variance merge loses its between-rank term"),
    ("sweep-force-skips", "core/sweep/sched.c",
     "return force ? NL_SWEEP_FORCE : NL_SWEEP_CHANGED;",
     "return NL_SWEEP_CHANGED;",
     "sweep --force no longer reruns a run whose config changed"),
    ("norm-apply-eps", "core/cpu/norm.c",
     "const double rstd = 1.0 / sqrt((double)var[s] + (double)g->eps);",
     "const double rstd = 1.0 / (sqrt((double)var[s]) + (double)g->eps);",
     "eps added outside the square root where given statistics are applied"),
    ("adamw-no-bias-correction", "core/cpu/adamw.c",
     "sqrtf(v) / a.bias_correction2_sqrt + a.eps",
     "sqrtf(v) + a.eps",
     "AdamW without the second moment's bias correction"),
    ("plot-mean-off-by-one", "core/plot/common.c",
     "return a->n ? a->sum / a->n : NAN;",
     "return a->n ? a->sum / (a->n + 1) : NAN;",
     "the mean over seeds that every plot draws divides by one too many"),
    ("checkpoint-crc-ignored", "core/train/checkpoint.c",
     "    else if (nl_checkpoint_file_crc(bytes, len, h->version >= kind->whole_crc_from) != crc)",
     "    else if (0 && nl_checkpoint_file_crc(bytes, len, h->version >= kind->whole_crc_from) != crc)",
     "a corrupted checkpoint is resumed from instead of refused"),
    ("state-field-dropped", "core/train/state.c",
     "    FIELD(best_test_accuracy),\n",
     "",
     "a resumable field left out of the checkpoint's field table"),
    ("error-last-wins", "core/base/status.c",
     "if (err && err->code == NL_OK) {",
     "if (err) {",
     "a caller's message replaces the callee's root cause"),
    # issue 55: three the suite did not catch before it
    ("fold-drops-eps", "core/model/fold.c",
     "sqrt((double)var[c] + (double)bn->geom.eps)",
     "sqrt((double)var[c])",
     "batch norm folded into the layer before it without eps"),
    ("ghost-batch-any-divisor", "core/norm/batch.c",
     "    if (batch % v != 0) {",
     "    if (0 && batch % v != 0) {",
     "a ghost-BN virtual batch that does not divide the batch is accepted"),
    ("init-from-partial-head", "core/train/init_from.c",
     "            (*kept_head)++;\n            continue;",
     "            (*kept_head)++;\n            if (q)\n                memcpy(out_params + (p->data - m->param_arena),"
     " params + (q->data - src->param_arena),\n                       (p->count < q->count ? p->count : q->count)"
     " * sizeof(float));\n            continue;",
     "init.from with another class count loads the part of the old head that fits"),
    # issue 55: five of this principles, each undone once
    ("reader-takes-a-fifo", "core/log/files.c",
     "    if (!S_ISREG(st.st_mode)) {\n        close(opened);",
     "    if (0 && !S_ISREG(st.st_mode)) {\n        close(opened);",
     "the one reader helper opens a FIFO, directory or device as if a file"),
    ("record-replaced", "core/log/files.c",
     "    if (linkat(dirfd, tmp, dirfd, name, 0) == 0)\n        return 0;",
     "    if (renameat(dirfd, tmp, dirfd, name) == 0)\n        return 0;",
     "an exclusive record is renamed over whatever holds its name"),
    ("crc-header-outside", "core/train/checkpoint.c",
     "nl_checkpoint_file_crc(bytes, len, h->version >= kind->whole_crc_from) != crc",
     "nl_checkpoint_file_crc(bytes, len, false) != crc",
     "a model or checkpoint file's header left outside its checksum again"),
    ("init-from-itself", "core/train/init_from.c",
     "    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&\n           sa.st_ino == sb.st_ino;",
     "    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&\n           sa.st_ino == sb.st_ino && 0;",
     "a run may start from the directory it replaces"),
    ("inapplicable-key-accepted", "core/config/resolve.c",
     "        if (!nl_config_origin_of(cfg, def->key) ||\n            !nl_schema_failing_condition(def, cfg, &failing))",
     "        if (1 || !nl_config_origin_of(cfg, def->key) ||\n            !nl_schema_failing_condition(def, cfg, &failing))",
     "a key that cannot take effect given the others is accepted"),
    # issue 69: its four seeded defects, and the check its audit found untested
    ("forest-cell-unescaped", "core/verdict/forest.c",
     "pl_cell_text(label, cell, sizeof cell)",
     "((void)cell, label)",
     "verdicts.gp's claim labels (an each: value among them) written without the gnuplot data-cell escaping"),
    ("run-name-unchecked", "core/results/results.c",
     "        if (!nl_run_name_ok(name))",
     "        if (0 && !nl_run_name_ok(name))",
     "run names read from summary.csv become path components unchecked"),
    ("claim-value-inf-kept", "core/verdict/compute.c",
     "        if (isinf(va) && (c->effect != NL_EFFECT_RATE || bad < 0)) {",
     "        if (0 && isinf(va) && (c->effect != NL_EFFECT_RATE || bad < 0)) {",
     "an infinite metric value a claim reads is let through instead of left out with a note"),
    ("claim-effect-inf-kept", "core/verdict/compute.c",
     "    if (!isfinite(x)) {",
     "    if (isnan(x)) {",
     "a seed's infinite effect from finite values (1e308 - -1e308) is let through"),
    ("outset-first-file-in-place", "core/log/outset.c",
     "        rc = log_write_temp(fd, tmp, data, len, err);\n",
     "        rc = log_write_temp(fd, tmp, data, len, err);\n"
     "    if (rc == NL_OK && set->n_files == 0 && rename(tmp, path) == 0)\n        return NL_OK;\n",
     "the first file of an output set renamed into place at once, before the others are staged"),
    ("claim-id-unchecked", "core/results/claims.c",
     "        if (rc == NL_OK && !nl_ident_ok(c->id))",
     "        if (0 && rc == NL_OK && !nl_ident_ok(c->id))",
     "a claim id outside its character set accepted where the experiment file is parsed"),
    # issue 82: a name from a file leaves its directory, work before a refusal, two parsers' rules
    ("claims-name-unchecked", "core/config/yamldoc.c",
     "    if ((path ? nl_ident_path_ok(s) : nl_ident_ok(s)) && len <= longest) {",
     "    if (len <= longest) {",
     "a claims file's name: not checked as an identifier (../../esc leaves verdict --out's directory)"),
    ("claims-name-cut", "core/config/yamldoc.c",
     "    if ((path ? nl_ident_path_ok(s) : nl_ident_ok(s)) && len <= longest) {\n        memcpy(out, s, len + 1);",
     "    if (path ? nl_ident_path_ok(s) : nl_ident_ok(s)) {\n        snprintf(out, size, \"%s\", s);",
     "a name longer than its storage cut to fit instead of refused"),
    ("claims-duplicate-key-accepted", "core/results/claims.c",
     "    nl_code rc = nl_yaml_check_mapping(P->y, root, NULL, \"a mapping (name:, source:, claims:, threshold_rule:, \"\n"
     "                                       \"power:, plan:)\");",
     "    nl_code rc = NL_OK;",
     "the claims parser reads a top-level key given twice as its last copy (the experiment loader refuses it)"),
    ("rate-unused-cell-accepted", "core/results/expect.c",
     "        if (has[k]) {",
     "        if (0 && has[k]) {",
     "a rate claim's b: cell, which it never reads, accepted"),
    ("reproduce-checks-after-runs", "cmd/reproduce.c",
     "        rc = preflight(a, path, claims, out, err);",
     "        rc = ((void)preflight, NL_OK);",
     "reproduce trains the sweep before finding its claims missing or the registration lookup impossible"),
    ("reproduce-name-cut", "cmd/reproduce.c",
     "    size_t stem_len = strlen(base);",
     "    size_t stem_len = strcspn(base, \".\");",
     "reproduce tiny.v2 cut at the dot: results/tiny's verdicts replaced"),
    # issue 82: no link followed, no path cut where normlab writes
    ("tree-check-skipped", "core/log/hold.c",
     "    return rc || at < 0 ? rc : refuse_links_below(at, dir, 8, err);",
     "    return rc || at < 0 ? rc : (refuse_links_below(at, dir, 8, &(nl_error){0}), NL_OK);",
     "a sweep, run or eval no longer looks for links in its tree before its first read or write"),
    ("open-write-follows-link", "core/log/hold.c",
     "    const int opened = openat(dirfd, base, flags | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC, 0666);",
     "    const int opened = openat(dirfd, base, flags | O_NONBLOCK | O_CLOEXEC, 0666);",
     "a lock, marker, stderr.txt or metrics.csv opened through a link at it"),
    ("dir-walk-follows-link", "core/log/hold.c",
     "    int next = openat(at, name, O_DIRECTORY | O_NOFOLLOW | O_RDONLY | O_CLOEXEC);\n"
     "    if (next < 0 && errno == ENOENT && mode == LOG_HOLD_CHECK) {",
     "    int next = openat(at, name, O_DIRECTORY | O_RDONLY | O_CLOEXEC);\n"
     "    if (next < 0 && errno == ENOENT && mode == LOG_HOLD_CHECK) {",
     "runs/, plots/, eval/ or a verdict's OUT/NAME entered through a link"),
    ("path-join-cuts", "core/log/files.c",
     "        out[0] = '\\0'; /* never a shortened path, which could name another file */",
     "        (void)0; /* never a shortened path, which could name another file */",
     "a joined path that does not fit its buffer cut short, naming another file"),
    ("out-path-unbounded", "core/log/hold.c",
     "    if (n >= NL_OUT_PATH_MAX)",
     "    if (0 && n >= NL_OUT_PATH_MAX)",
     "an --out too long for the paths made under it taken (they would be cut)"),
]

SUITE_EXCLUDE = "long|slurm|fuzz|sanitize|mpi|cluster|portable|emu"


def run(cmd, cwd, log):
    with open(log, "ab") as f:
        return subprocess.call(cmd, cwd=cwd, stdout=f, stderr=subprocess.STDOUT)


def failed_tests(log, offset):
    """the tests ctest listed as failed in the log after offset"""
    with open(log, "rb") as f:
        f.seek(offset)
        text = f.read().decode(errors="replace")
    names, listing = [], False
    for line in text.splitlines():
        if line.startswith("The following tests FAILED"):
            listing = True
        elif listing and line.startswith("\t"):
            names.append(line.split()[2])
        elif listing:
            listing = False
    return ", ".join(names) or "(ctest failed)"


def stale():
    """The mutations whose original text does not occur exactly once in the
    checkout: each would be reported STALE by a run (an hour away), so the
    default suite checks them (test_mutations_apply) as the code moves."""
    bad = []
    for name, rel, original, _, _ in MUTATIONS:
        count = open(os.path.join(ROOT, rel)).read().count(original) if \
            os.path.exists(os.path.join(ROOT, rel)) else 0
        if count != 1:
            bad.append("%s: its original text occurs %d times in %s" % (name, count, rel))
    return bad


def main():
    if sys.argv[1:] == ["--check"]:
        bad = stale()
        for line in bad:
            print(line)
        print("%d of %d mutations apply" % (len(MUTATIONS) - len(bad), len(MUTATIONS)))
        sys.exit(1 if bad else 0)
    wanted = set(sys.argv[1:])
    chosen = [m for m in MUTATIONS if not wanted or m[0] in wanted]
    if wanted - {m[0] for m in MUTATIONS}:
        sys.exit("unknown mutation(s): %s" % ", ".join(sorted(wanted - {m[0] for m in MUTATIONS})))
    # beside the checkout, so a compiler cache keyed on relative paths hits
    parent = os.path.dirname(ROOT)
    work = tempfile.mkdtemp(prefix="normlab-mutation-", dir=parent if os.access(parent, os.W_OK) else None)
    tree = os.path.join(work, "src")
    # the tracked files as they are in the working tree
    files = subprocess.check_output(["git", "ls-files", "-z"], cwd=ROOT).split(b"\0")
    for rel in filter(None, files):
        rel = rel.decode()
        src, dst = os.path.join(ROOT, rel), os.path.join(tree, rel)
        if os.path.lexists(src):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(src, dst, follow_symlinks=False)
    build = os.path.join(work, "build")
    log = os.path.join(work, "log.txt")
    launcher = ["-DCMAKE_C_COMPILER_LAUNCHER=ccache"] if shutil.which("ccache") else []
    if run(["cmake", "-S", tree, "-B", build, "-DCMAKE_BUILD_TYPE=Release"] + launcher, tree, log):
        sys.exit("cmake failed: see %s" % log)
    jobs = os.environ.get("MUTATE_JOBS") or str(os.cpu_count() or 2)
    only = ["-R", os.environ["MUTATE_TESTS"]] if os.environ.get("MUTATE_TESTS") else []
    # the unmutated tree first: a suite already red would "catch" everything
    if run(["cmake", "--build", build, "-j", jobs], tree, log) or \
            run(["ctest", "--test-dir", build, "-j", jobs, "-LE", SUITE_EXCLUDE] + only, tree, log):
        sys.exit("the default suite fails on the unmutated tree: see %s" % log)
    print("%-26s %7s  %-40s %s" % ("mutation", "seconds", "result", "what"))
    missed = 0
    for name, rel, original, mutant, what in chosen:
        path = os.path.join(tree, rel)
        text = open(path).read()
        if text.count(original) != 1:
            print("%-26s %7s  %-40s %s: the original text occurs %d times in %s" %
                  (name, "-", "STALE", what, text.count(original), rel))
            missed += 1
            continue
        open(path, "w").write(text.replace(original, mutant))
        t0 = time.time()
        try:
            if run(["cmake", "--build", build, "-j", jobs], tree, log):
                result = "no-build"
            else:
                before = os.path.getsize(log)
                rc = run(["ctest", "--test-dir", build, "-j", jobs, "--stop-on-failure",
                          "-LE", SUITE_EXCLUDE] + only, tree, log)
                result = "caught by " + failed_tests(log, before) if rc else "MISSED"
        finally:
            open(path, "w").write(text)
        missed += result in ("MISSED", "no-build")
        print("%-26s %7.0f  %-40s %s" % (name, time.time() - t0, result, what), flush=True)
    # the tree restored: the suite must be green again
    run(["cmake", "--build", build, "-j", jobs], tree, log)
    print("log: %s" % log)
    sys.exit(1 if missed else 0)


if __name__ == "__main__":
    main()
