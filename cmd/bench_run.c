/* normlab bench --run: the speed of a real `normlab run` of a config, end to
 * end, against the PyTorch training script that mirrors it
 * (experiments/bench/torch_run.py), alternated round by round. Each side
 * runs as a child process into a scratch directory; its steady state comes
 * from the metrics.csv it wrote (core/bench/run_records.h), so what is
 * timed is what a user's run does: data, steps, logging; evaluations are
 * counted apart. With --step, the same model's training step timed alone
 * (the `normlab bench --training` loop) joins each round, to see what a run
 * loses against its own step. */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log/files.h"
#include "arch/arch.h"
#include "arch/registry.h"
#include "cmd.h"
#include "data/registry.h"
#include "device/device.h"
#include "model/model.h"
#include "norm/registry.h"
#include "plan/plan.h"
#include "results/files.h"
#include "train/run_model.h"

#include "bench_run.h"

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* the scratch directory and what this command made in it */
static void remove_tree(const char *dir)
{
    if (nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        fprintf(stderr, "normlab bench: could not remove %s: %s\n", dir, strerror(errno));
}

/* the config loaded and every refusal made before anything is written; an
 * exit status, or -1 to go on */
static int load_and_check(session *b)
{
    const run_options *o = &b->o;
    nl_error err = {0};
    if (nl_config_load(o->config, o->sets, o->n_sets, b->cfg, &err) != NL_OK ||
        nl_run_check(b->cfg, -1, false, NULL, &b->plan, &err) != NL_OK) {
        if (!strcmp(err.key, "base") || !strcmp(err.key, "grid"))
            return nl_cmd_usage_error("bench", "--run %s: an experiment file; give a config "
                                      "(normlab sweep %s --dry-run lists its runs)",
                                      o->config, o->config);
        return nl_cmd_report("bench", &err);
    }
    char why[256];
    const char *refused = NULL;
    if (b->cfg->device != NL_DEVICE_CPU)
        refused = "device: --run times CPU runs";
    else if (b->cfg->train.checkpoint_every > 0)
        refused = "train.checkpoint_every: a run that writes checkpoints is not timed "
                  "(--set train.checkpoint_every=0)";
    else if (o->torch)
        refused = bench_run_torch_refusal(b->cfg, why, sizeof why);
    if (refused)
        return nl_cmd_usage_error("bench", "--run %s: %s", o->config, refused);
    if (o->torch) {
        int peer = bench_run_check_peer(&b->o);
        if (peer < 0)
            peer = bench_run_peer_mirrors(b);
        if (peer >= 0)
            return peer;
    }
    if (o->keep && nl_path_exists(o->keep))
        return nl_cmd_usage_error("bench", "--keep %s: exists; give a new directory", o->keep);
    return -1;
}

/* the scratch (or --keep) directory, the resolved config in it, the CSV,
 * and the paths the children need; an exit status, or -1 to go on */
static int prepare(session *b)
{
    const nl_config *cfg = b->cfg;
    nl_error err = {0};
    if (b->o.keep) {
        if (nl_make_dirs(b->o.keep, &err) != NL_OK)
            return nl_cmd_report("bench", &err);
        nl_copy_string(b->dir, sizeof b->dir, b->o.keep);
    } else {
        nl_copy_string(b->dir, sizeof b->dir, "/tmp/normlab-bench-run-XXXXXX");
        if (!mkdtemp(b->dir)) { /* lint: a private directory of its own, made new (mode 0700) */
            b->dir[0] = '\0';
            fprintf(stderr, "normlab bench: cannot make a scratch directory: %s\n", strerror(errno));
            return 1;
        }
    }
    nl_path_join(b->resolved, sizeof b->resolved, b->dir, NL_RUN_CONFIG_FILE);
    int fd = -1;
    FILE *rf = nl_open_write(b->resolved, O_WRONLY | O_CREAT | O_TRUNC, &fd, &err) ? NULL : fdopen(fd, "w");
    if (!rf && fd >= 0)
        close(fd);
    if (!rf || nl_config_write(cfg, rf, &err) != NL_OK || fclose(rf) != 0) {
        if (!err.msg[0])
            nl_fail(&err, NL_ERR_IO, "%s: %s", b->resolved, strerror(errno));
        return nl_cmd_report("bench", &err);
    }
    if (b->o.csv) {
        if (bench_run_open_csv(&b->out, b->o.csv, &err) != NL_OK)
            return nl_cmd_report("bench", &err);
        b->out.open = true;
    }
    nl_copy_string(b->data_path, sizeof b->data_path,
                   cfg->data.path[0] ? cfg->data.path : nl_data_default_path(cfg->data.kind));
    if (b->plan.tokens)
        snprintf(b->sizes, sizeof b->sizes, "%ld,%ld", b->plan.token_data.train_length,
                 b->plan.token_data.valid_length);
    else
        snprintf(b->sizes, sizeof b->sizes, "%ld,%ld", b->plan.data.train_n, b->plan.data.test_n);
    const ssize_t self_len = readlink("/proc/self/exe", b->self, sizeof b->self - 1);
    if (self_len <= 0) {
        fprintf(stderr, "normlab bench: cannot find this program (/proc/self/exe)\n");
        return 1;
    }
    b->self[self_len] = '\0';
    return -1;
}

static void describe_output(session *b)
{
    const nl_config *cfg = b->cfg;
    const bool lm = nl_model_spec_tokens(&cfg->model);
    const int batch = cfg->train.batch_size;
    b->per_step = (double)batch * (lm ? cfg->model.context : 1);
    b->out = (run_output){.config = b->o.config, .model = nl_name_of(&nl_arch_names, cfg->model.arch),
                          .norm = nl_name_of(&nl_norm_names, cfg->model.norm.kind), .batch = batch,
                          .unit = lm ? "tokens" : "samples", .per_sample = lm ? cfg->model.context : 1};
    nl_bench_machine_describe(&b->out.machine);
    nl_bench_describe_setting(b->out.setting, sizeof b->out.setting);
    b->out.per_step = b->per_step;
    b->out.step_flops = NAN;
    /* the graph the step alone allocates (nl_bench_train), planned once */
    nl_model_spec run_spec, spec;
    nl_run_model_spec(cfg, &run_spec);
    nl_bench_spec_at(&run_spec, batch, &spec);
    const nl_plan_run run = nl_bench_plan_run(&spec, batch);
    nl_model *graph = NULL;
    nl_error err = {0};
    if (nl_plan_graph(&spec, &run, &graph, &err) == NL_OK) {
        nl_step_flops f;
        nl_model_flops(graph, batch, &f);
        b->out.step_flops = f.forward + f.backward;
        nl_plan_graph_done(graph);
    }
    /* the peak at the threads the runs take: --threads, else every usable
     * core (a run on a busy machine may take fewer: its rows divide by the
     * 1-thread peak when it runs on one) */
    if (nl_bench_peak_probe(nl_backend_max_threads(b->o.threads), &b->out.peak, &err) != NL_OK)
        fprintf(stderr, "normlab bench: peak probe: %s\n", err.msg);
}

/* the round's sides into the series over the rounds; the ratio for
 * normlab's row, against st, the round's peer (its fastest PyTorch mode) */
static double gather_round(session *b, const side *sn, const side *st, const side *ss)
{
    double ratio = NAN;
    if (sn) {
        b->v_normlab[b->n_normlab] = sn->steady_per_s;
        b->v_run[b->n_normlab++] = sn->run_per_s;
    }
    if (st)
        b->peer_rounds[st->mode]++;
    if (sn && st) {
        b->v_torch[b->n_torch++] = st->steady_per_s;
        ratio = sn->steady_per_s / st->steady_per_s;
        b->v_ratio[b->n_ratio] = ratio;
        b->v_cpu_ratio[b->n_ratio] = st->process_cpu_s / sn->process_cpu_s;
        b->v_proc_ratio[b->n_ratio++] = st->process_s / sn->process_s;
    }
    if (sn && ss) {
        b->v_step_median[b->n_step] = ss->median_per_s;
        b->v_step[b->n_step++] = ss->steady_per_s;
        b->v_step_ratio[b->n_step_ratio++] = sn->steady_per_s / ss->steady_per_s;
    }
    return ratio;
}

/* a round's sides in their order: odd rounds normlab first, even rounds
 * the others first, so a drift in the machine's load falls on both sides
 * alike; PyTorch in each mode --torch-mode asks for (best: every mode not
 * left out); the count */
static int round_order(const session *b, int round, side *got)
{
    int n = 0;
    const bool normlab_first = round % 2 == 1;
    memset(got, 0, (2 + NL_TORCH_BEST) * sizeof *got);
    if (normlab_first)
        nl_copy_string(got[n++].impl, sizeof got->impl, "normlab");
    for (int m = 0; b->o.torch && m < NL_TORCH_BEST; m++)
        if (b->o.torch_mode == m || (b->o.torch_mode == NL_TORCH_BEST && !b->left_out[m])) {
            got[n].mode = m;
            nl_copy_string(got[n++].impl, sizeof got->impl, "torch");
        }
    if (b->o.step)
        nl_copy_string(got[n++].impl, sizeof got->impl, "step");
    if (!normlab_first)
        nl_copy_string(got[n++].impl, sizeof got->impl, "normlab");
    return n;
}

/* one round; an exit status */
static int run_round(session *b, int round)
{
    side got[2 + NL_TORCH_BEST];
    const int n = round_order(b, round, got);
    const side *sn = NULL, *st = NULL, *ss = NULL;
    for (int j = 0; j < n; j++) {
        side *s = &got[j];
        if (!bench_run_time_side(b, round, s))
            return 1;
        if (!s->ok)
            continue;
        bench_run_print_side(&b->out, round, s);
        if (!strcmp(s->impl, "torch")) {
            b->v_mode[s->mode][b->n_mode[s->mode]++] = s->steady_per_s;
            if (isfinite(s->compile_s))
                b->v_compile[s->mode][b->n_compile[s->mode]++] = s->compile_s;
            if (!st || s->steady_per_s > st->steady_per_s)
                st = s;
        } else {
            *(!strcmp(s->impl, "step") ? &ss : &sn) = s;
        }
    }
    if (b->o.torch && !st) {
        fprintf(stderr, "normlab bench: round %d: no PyTorch mode ran\n", round);
        return 1;
    }
    b->out.peer_mode = st ? nl_name_of(&nl_torch_mode_names, st->mode) : "";
    if (st && b->o.torch_mode == NL_TORCH_BEST)
        printf("  %5d peer: torch %s, the fastest\n", round, b->out.peer_mode);
    const double ratio = gather_round(b, sn, st, ss);
    int status = 0;
    for (int j = 0; j < n && status == 0; j++)
        if (got[j].ok)
            status = bench_run_emit_side(&b->out, round, j + 1, &got[j], &got[j] == sn ? ratio : NAN);
    return status;
}

int nl_cmd_bench_run(int argc, char **argv)
{
    session *b = calloc(1, sizeof *b);
    if (!b)
        return 1;
    bool help = false;
    int status = bench_run_parse_options(argc, argv, &b->o, &help);
    if (!status && help)
        bench_run_usage(stdout);
    if (status || help) {
        free(b);
        return status;
    }
    b->cfg = calloc(1, sizeof *b->cfg);
    status = b->cfg ? load_and_check(b) : 1;
    /* everything is checked: from here on things are written */
    if (status < 0) {
        b->last_threads = b->o.threads;
        describe_output(b);
        status = prepare(b);
    }
    if (status < 0) {
        setvbuf(stdout, NULL, _IOLBF, 0);
        bench_run_print_header(b);
        status = 0;
        for (int round = 1; round <= b->o.rounds && status == 0; round++)
            status = run_round(b, round);
        if (status == 0)
            bench_run_print_summary(b);
    }
    nl_error err = {0};
    if (b->out.open && nl_csv_close(&b->out.csv, &err) != NL_OK && status == 0)
        status = nl_cmd_report("bench", &err);
    if (b->be)
        nl_backend_close(b->be);
    if (!b->o.keep && b->dir[0])
        remove_tree(b->dir);
    free(b->cfg);
    free(b);
    return status;
}
