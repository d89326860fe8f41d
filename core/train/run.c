#include "train/run.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "plan/plan.h"
#include "arch/arch.h"
#include "base/alloc.h"
#include "config/flat.h"
#include "data/share.h"
#include "dist/dist.h"
#include "device/device.h"
#include "log/files.h"
#include "results/crash.h"
#include "results/files.h"
#include "results/rundir.h"
#include "results/summary.h"
#include "train/check.h"
#include "train/checkpoint.h"
#include "train/device_data.h"
#include "train/eval.h"
#include "train/final_model.h"
#include "train/init_from.h"
#include "train/outputs.h"
#include "train/ranks.h"
#include "train/resume.h"
#include "train/run_summary.h"
#include "norm/formula_compile.h"

nl_run_status nl_run_dir_status(const char *dir)
{
    switch (nl_summary_read(dir, NULL)) {
    case NL_SUMMARY_OK:
        return NL_RUN_OK;
    case NL_SUMMARY_DIVERGED:
        return NL_RUN_DIVERGED;
    case NL_SUMMARY_FAILED:
        return NL_RUN_FAILED;
    case NL_SUMMARY_STOPPED:
        return NL_RUN_STOPPED;
    default: /* none, torn, or written at the start */
        return NL_RUN_RUNNING;
    }
}

typedef struct {
    const nl_config *cfg;
    const nl_run_options *opt;
    struct nl_dist *dist;
    bool root;         /* rank 0, which writes the run directory */
    nl_run_plan plan;  /* nl_run_check's */
    nl_run_facts facts; /* summary.json's, beside the result */
    nl_run_outputs outputs; /* rank 0's */
    nl_backend *be;
    /* the run's own data, or a copy the runs of this process share */
    nl_dataset own_data;
    nl_token_dataset own_tokens;
    const nl_dataset *data;
    const nl_token_dataset *token_data;
    const void *shared;
    nl_model_spec model_spec;
    nl_model *model;
    nl_device_data device_data;
    char dir[1024];
    int lock_fd;       /* the run directory's lock, from before the first write */
    char *config_text; /* the resolved config, as config.yaml holds it */
    size_t config_len;
    nl_flat config_flat;  /* its keys, with the device the run trains on */
    nl_buf config_keys;   /* what a checkpoint is written for (nl_checkpoint_config_keys) */
    /* rank 0 recorded the run as failed when a stop reached it inside a
     * collective (on_wait_for_ranks) */
    bool stop_recorded;
    /* what a checkpoint of this run holds, when one is found */
    nl_resume resume;
} run_state;

static nl_code sink_metric(void *ctx, const nl_metric_row *row, nl_error *err)
{
    run_state *st = ctx;
    return nl_run_outputs_metric(&st->outputs, row, err);
}

static nl_code sink_trace(void *ctx, long step, const double *values, int n, nl_error *err)
{
    run_state *st = ctx;
    return nl_run_outputs_trace(&st->outputs, step, values, n, err);
}

static nl_code sink_series(void *ctx, long step, nl_series_kind kind, int layer, const char *name,
                           double value, nl_error *err)
{
    run_state *st = ctx;
    return nl_run_outputs_series(&st->outputs, step, kind, layer, name, value, err);
}

static nl_code write_checkpoint(run_state *st, const nl_train_state *s, nl_error *err)
{
    /* the rows the checkpoint counts are on disk before it is; the thread
     * count and kernel set come from the model's backend */
    nl_checkpoint_files files = {0};
    const nl_code rc = nl_run_outputs_sync(&st->outputs, &files, err);
    if (rc)
        return rc;
    return nl_checkpoint_write(st->dir, st->config_keys.data, st->model, s, &files, err);
}

/* Every rank takes the loop's state for a checkpoint (its sums are
 * collectives); rank 0 writes it, and every rank learns whether it could,
 * so that a failed write ends them all at the same step. */
static nl_code sink_checkpoint(void *ctx, const nl_train_state *s, nl_error *err)
{
    run_state *st = ctx;
    const nl_code rc = st->root ? write_checkpoint(st, s, err) : NL_OK;
    return nl_dist_agree(st->dist, rc, err);
}

/* the sink of the ranks other than 0: rank 0 writes every row */
static nl_code sink_metric_elsewhere(void *ctx, const nl_metric_row *row, nl_error *err)
{
    (void)ctx, (void)row, (void)err;
    return NL_OK;
}

static nl_code sink_trace_elsewhere(void *ctx, long step, const double *values, int n,
                                    nl_error *err)
{
    (void)ctx, (void)step, (void)values, (void)n, (void)err;
    return NL_OK;
}

static void sink_progress(void *ctx, const nl_progress *p)
{
    run_state *st = ctx;
    if (st->opt->progress)
        st->opt->progress(st->opt->ctx, p);
}

/* the resolved config's text and the keys a checkpoint is written for,
 * before anything is written */
static nl_code resolve_config_text(run_state *st, nl_device device, nl_error *err)
{
    /* the plan as decided: the run replays from its config.yaml as it ran */
    nl_config *resolved = nl_malloc(sizeof *resolved);
    if (!resolved)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory writing the resolved config");
    *resolved = *st->cfg;
    nl_plan_record(&resolved->model, &st->model_spec);
    nl_code rc = nl_checkpoint_config(resolved, device, &st->config_text, &st->config_flat,
                                      &st->config_keys, err);
    free(resolved);
    st->config_len = st->config_text ? strlen(st->config_text) : 0;
    return rc;
}

static nl_code write_config(run_state *st, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, st->dir, NL_RUN_CONFIG_FILE);
    return nl_write_atomic(path, st->config_text, st->config_len, err);
}

static void note(const nl_run_options *opt, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(const nl_run_options *opt, const char *fmt, ...)
{
    if (!opt->note)
        return;
    char msg[1200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    opt->note(opt->ctx, msg);
}

/* Decides whether the run directory may be (re)used: first before the
 * checks, writing nothing (`locked` false), then again once this process
 * holds its lock, since another writer may have finished it meanwhile. */
static nl_code claim_dir(const char *dir, const nl_run_options *opt, bool locked, nl_error *err)
{
    if (!nl_path_exists(dir))
        return NL_OK;
    if (!nl_is_dir(dir))
        return nl_fail(err, NL_ERR_USAGE, "%s exists and is not a directory; choose another --out",
                       dir);
    if (!locked) {
        nl_code rc = nl_run_dir_check_files(dir, err);
        if (rc)
            return rc;
        nl_run_writer w;
        if (nl_run_dir_busy(dir, &w))
            return nl_run_dir_busy_error(err, dir, &w);
        if ((rc = nl_run_dir_check_ours(dir, err)))
            return rc;
    }
    char summary[1100], checkpoint[1100];
    nl_path_join(summary, sizeof summary, dir, NL_RUN_SUMMARY_FILE);
    nl_path_join(checkpoint, sizeof checkpoint, dir, NL_CHECKPOINT_FILE);
    if (!nl_path_exists(summary))
        return NL_OK;
    /* a torn summary.json holds no result: its run is unfinished, as a
     * sweep (which runs it again) and `show` take it */
    const nl_summary_verdict verdict = nl_summary_read(dir, NULL);
    if (nl_summary_finished(verdict) && !opt->force)
        return nl_fail(err, NL_ERR_USAGE,
                       "%s already holds a finished run (status %s); use --force to replace it, "
                       "or --out DIR to write elsewhere",
                       dir, nl_summary_verdict_name(verdict));
    if (!locked)
        return NL_OK;
    if (nl_summary_finished(verdict))
        note(opt, "replacing the finished run in %s (--force)", dir);
    else if (!nl_path_exists(checkpoint))
        note(opt, "replacing the unfinished run in %s (status %s)", dir, nl_summary_verdict_name(verdict));
    return NL_OK;
}

/* The dataset on the device when train.device_data says so, after the
 * model (its memory is planned first) and before anything is written: an
 * `on` that does not fit is an error naming the key. */
static nl_code place_data(const nl_config *cfg, const nl_run_options *opt, bool root,
                          nl_backend *be, const nl_dataset *ds, const nl_token_dataset *tokens,
                          nl_model *m, nl_device_data *dd, nl_error *err)
{
    double bytes;
    if (tokens) {
        const nl_token_shape shape = {tokens->train.length, tokens->valid.length, tokens->vocab};
        bytes = nl_device_data_token_bytes(&shape, m->capacity);
    } else {
        const nl_dataset_shape shape = {ds->train.n, ds->test.n, ds->train.c, ds->train.h,
                                        ds->train.w, ds->classes};
        bytes = nl_device_data_bytes(&shape, m->capacity);
    }
    bool resident;
    char why[512];
    nl_error decide_err = {0};
    if (nl_device_data_decide(cfg->train.device_data, be, bytes, &resident, why, sizeof why,
                              &decide_err))
        return nl_config_key_error(cfg, err, decide_err.code, "train.device_data", "%s",
                                   decide_err.msg);
    if (why[0] && root)
        note(opt, "%s (train.device_data)", why);
    if (!resident)
        return NL_OK;
    nl_error upload_err = {0};
    nl_code rc = tokens ? nl_device_data_upload_tokens(dd, be, tokens, m->capacity, &upload_err)
                        : nl_device_data_upload(dd, be, ds, m->capacity, &upload_err);
    if (rc == NL_ERR_NOMEM && cfg->train.device_data == NL_DEVICE_DATA_AUTO) {
        /* free memory is a guess: auto falls back when the GPU says no */
        if (root)
            note(opt, "%s: batches are uploaded from host memory (train.device_data)",
                 upload_err.msg);
        return NL_OK;
    }
    if (rc) {
        if (err)
            *err = upload_err;
        return rc;
    }
    m->device_data = dd;
    return NL_OK;
}

/* A pause a sweep's stop rule asks for (--pause-at-step, --pause-at-epoch)
 * is inside the run, in the unit its length is given in; one it would never
 * reach is refused, as every input that cannot take effect */
static nl_code check_pause(const nl_config *cfg, const nl_run_options *opt, long total, nl_error *err)
{
    const nl_train_spec *t = &cfg->train;
    if (opt->pause_at <= 0)
        return NL_OK;
    if (opt->pause_in_epochs && (t->steps > 0 || t->epochs <= 0))
        return nl_fail(err, NL_ERR_USAGE, "--pause-at-epoch %ld: the run's length is train.steps: %ld, not "
                       "epochs; accepted: --pause-at-step", opt->pause_at, t->steps);
    const long last = opt->pause_in_epochs ? t->epochs - 1 : total - 1;
    if (opt->pause_at > last)
        return nl_fail(err, NL_ERR_USAGE, "--pause-at-%s %ld: at or past the run's end (%s %ld); accepted: an "
                       "integer in [1, %ld]", opt->pause_in_epochs ? "epoch" : "step", opt->pause_at,
                       opt->pause_in_epochs ? "train.epochs:" : "step", last + 1, last);
    return NL_OK;
}

/* the checks that need no directory, then the directory claimed (not yet
 * locked): nothing is written before both */
static nl_code run_begin(run_state *st, nl_run_outcome *out, nl_error *err)
{
    const nl_config *cfg = st->cfg;
    const nl_run_options *opt = st->opt;
    /* everything that can fail on bad input fails before the directory is
     * touched: what validate checks, then the memory available now. Every
     * rank reads the same config, so they all fail here alike. */
    /* the communicator's own settings (NORMLAB_MPI_TIMEOUT), alike on every rank */
    nl_code rc = nl_dist_status(st->dist, err);
    if (rc)
        return rc;
    if (opt->out_dir && opt->out_dir[0])
        snprintf(st->dir, sizeof st->dir, "%s", opt->out_dir);
    else
        snprintf(st->dir, sizeof st->dir, "results/%s", cfg->name);
    snprintf(out->dir, sizeof out->dir, "%s", st->dir);
    rc = nl_run_check_into(cfg, opt->device, true, st->dir, NULL, &st->plan, err);
    if (rc == NL_OK)
        rc = check_pause(cfg, opt, st->plan.total_steps, err);
    if (rc == NL_OK)
        rc = nl_ranks_split_batch(cfg, st->facts.ranks, &st->facts.rank_batch, err);
    if (rc)
        return rc;
    out->ranks = st->facts.ranks;
    out->rank_batch = st->facts.rank_batch;
    rc = st->root ? claim_dir(st->dir, opt, false, err) : NL_OK;
    return nl_dist_agree(st->dist, rc, err);
}

/* the run's own data, or the copy the runs of this process share */
static nl_code load_data(run_state *st, nl_error *err)
{
    const nl_config *cfg = st->cfg;
    struct nl_data_share *share = st->opt->data_share;
    nl_code rc;
    if (st->plan.tokens) {
        const long window = (long)st->model_spec.context + 1;
        if (share) {
            rc = nl_data_share_tokens(share, &cfg->data, window, &st->token_data, err);
            st->shared = st->token_data;
        } else
            rc = nl_token_dataset_load(&cfg->data, window, &st->own_tokens, err);
        if (rc)
            return rc;
        st->facts.data_description = st->token_data->description;
        st->model_spec.classes = st->token_data->vocab; /* a text's characters are known now */
        return NL_OK;
    }
    if (share) {
        rc = nl_data_share_images(share, &cfg->data, &st->data, err);
        st->shared = st->data;
    } else
        rc = nl_dataset_load(&cfg->data, &st->own_data, err);
    if (rc)
        return rc;
    st->facts.data_description = st->data->description;
    return NL_OK;
}

/* the backend, the data and the model, on every rank */
static nl_code run_open(run_state *st, nl_run_outcome *out, nl_error *err)
{
    const nl_config *cfg = st->cfg;
    const nl_backend_options backend_opt = {
        .threads = st->opt->threads > 0 ? st->opt->threads : cfg->threads,
        .keep_subnormals = !cfg->flush_subnormals};
    char kernels_note[512] = "";
    nl_code rc = st->facts.device == NL_DEVICE_CPU && st->facts.ranks > 1
                     ? nl_ranks_agree_kernels(st->dist, st->facts.ranks, kernels_note,
                                              sizeof kernels_note, err)
                     : NL_OK;
    if (kernels_note[0] && st->root)
        note(st->opt, "%s", kernels_note);
    if (rc == NL_OK)
        rc = nl_backend_open(st->facts.device, &backend_opt, &st->be, err);
    if (rc)
        return rc;
    /* before the model is planned: the product ops' workspaces depend on it */
    st->be->product_precision = cfg->train.precision;
    const nl_backend *be = st->be;
    if (st->root && be->busy_cores >= 0.5)
        note(st->opt, "%.1f of %d cores busy with other work: training on %d thread%s (threads: N "
                      "insists on N)", be->busy_cores, be->usable_cores, be->threads,
             be->threads == 1 ? "" : "s");
    st->facts.threads = be->threads;
    st->facts.usable_cores = be->usable_cores;
    st->facts.cpu_kernels = be->cpu_kernels;
    st->facts.openblas_core = be->cpu_kernels ? be->openblas_core : NULL;
    st->facts.products = be->products;
    st->facts.conv_library = be->conv_library;
    st->facts.conv_fallbacks = be->cpu_kernels ? &st->be->conv_fallbacks : NULL;
    st->facts.conv_kernels = be->conv_kernels;
    st->facts.busy_cores = be->busy_cores;
    out->threads = be->threads;
    if ((rc = nl_run_model_plan(cfg, st->facts.device, &st->model_spec, err)))
        return rc;
    if ((rc = load_data(st, err)))
        return rc;
    /* each rank holds its slice of a training batch and of an evaluation one */
    int capacity = (cfg->train.eval_batch_size + st->facts.ranks - 1) / st->facts.ranks;
    if (capacity < st->facts.rank_batch)
        capacity = st->facts.rank_batch;
    /* the graph the run's checks read, allocated on the run's device */
    nl_plan_run plan_run = nl_config_plan_run(cfg, nl_normlab_fuse_off());
    plan_run.capacity = capacity;
    plan_run.train_batch = st->facts.rank_batch;
    nl_model *graph = NULL, *model = NULL;
    if ((rc = nl_plan_graph_take(&st->model_spec, &plan_run, &graph, err)) ||
        (rc = nl_model_alloc(graph, st->be, cfg->seed, &model, err)))
        return rc;
    st->model = model;
    nl_formula_kernels_record(st->be, st->facts.formula_kernels, sizeof st->facts.formula_kernels);
    if (st->be->formula_interpreted && st->root)
        note(st->opt, "formula: interpreted (%s)", st->be->formula_why);
    /* a checkpoint found later replaces these weights, as any initialization */
    char init_note[1400];
    if ((rc = nl_init_from_load(cfg, model, &st->facts.init_source, init_note, sizeof init_note,
                                err)))
        return rc;
    if (init_note[0] && st->root)
        note(st->opt, "%s (init.from)", init_note);
    rc = nl_model_set_dist(model, st->dist, err);
    if (rc == NL_OK)
        rc = resolve_config_text(st, st->facts.device, err);
    if (rc == NL_OK)
        rc = place_data(cfg, st->opt, st->root, st->be, st->data,
                        st->plan.tokens ? st->token_data : NULL, model, &st->device_data, err);
    return rc;
}

/* what a resumed run tells: its step, and a thread count or kernel set
 * that may change the last bits */
static void note_resume(const run_state *st, nl_run_outcome *out)
{
    const nl_checkpoint_files *files = &st->resume.files;
    const nl_backend *be = st->be;
    note(st->opt, "resuming %s from its checkpoint at step %ld", st->dir, st->resume.state.step);
    out->resumed_from = st->resume.state.step;
    out->resumed_threads = (int)files->threads;
    out->resumed_ranks = (int)st->resume.state.ranks;
    if (st->resume.state.ranks != st->facts.ranks)
        note(st->opt, "the checkpoint was taken on %ld MPI rank%s, this run has %d: the same "
                      "global batch of %d, split otherwise, so the losses go on as the "
                      "uninterrupted run's to float rounding (the sums over the ranks group "
                      "differently), not bit for bit",
             st->resume.state.ranks, st->resume.state.ranks == 1 ? "" : "s", st->facts.ranks,
             st->cfg->train.batch_size);
    if (files->threads != be->threads)
        note(st->opt, "the checkpoint was taken on %lld thread%s, this run has %d: the last bits "
                      "of matrix products and convolution gradients may differ from an "
                      "uninterrupted run's (threads: N fixes the count)",
             (long long)files->threads, files->threads == 1 ? "" : "s", be->threads);
    /* a requeued job may land on a node of another CPU generation */
    if (files->cpu_kernels[0] && be->cpu_kernels && strcmp(files->cpu_kernels, be->cpu_kernels) != 0)
        note(st->opt, "the checkpoint was taken with the %s CPU kernels, this run has %s: results "
                      "may differ in their last bits from an uninterrupted run "
                      "(NORMLAB_CPU_KERNELS=%s keeps the set where this CPU runs it)",
             files->cpu_kernels, be->cpu_kernels, files->cpu_kernels);
    if (files->conv_library[0] && be->conv_library && strcmp(files->conv_library, be->conv_library))
        note(st->opt, "the checkpoint's convolutions ran on %s, this run's on %s: results may "
                      "differ in their last bits from an uninterrupted run (NORMLAB_CONV picks "
                      "the library)",
             files->conv_library, be->conv_library);
    if (files->products[0] && be->products && strcmp(files->products, be->products))
        note(st->opt, "the checkpoint's products ran on %s, this run's on %s: results may "
                      "differ in their last bits from an uninterrupted run (NORMLAB_GEMM=%s "
                      "keeps the library)",
             files->products, be->products, files->products);
}

/* An unfinished run of this config with a checkpoint goes on from it
 * (claim_dir has refused a finished one without --force); a damaged
 * checkpoint, or one of another config, stops the run before anything is
 * written. Under MPI rank 0 reads it here and the others take it from rank
 * 0 (share_resume). */
static nl_code find_resume(run_state *st, nl_run_outcome *out, nl_error *err)
{
    if (st->opt->force)
        return NL_OK;
    const nl_resume_run run = {
        .dir = st->dir, .train = &st->cfg->train, .config_keys = &st->config_keys,
        .config_text = st->config_text, .config_len = st->config_len,
        .config_flat = &st->config_flat, .total_steps = st->plan.total_steps,
        .ranks = st->facts.ranks, .rank_batch = st->facts.rank_batch,
        .tokens = st->plan.tokens ? &st->token_data->train : NULL,
        .context = st->model_spec.context, .images = &st->data->train};
    nl_code rc = nl_resume_find(&run, st->model, &st->resume, err);
    if (rc == NL_OK && st->resume.found == NL_CHECKPOINT_LOADED)
        note_resume(st, out);
    return rc;
}

/* A fresh start removes the checkpoint; resumed or not, the outputs of
 * the run this one replaces that this one will not write */
static nl_code remove_stale_files(const run_state *st, nl_error *err)
{
    char path[1100];
    /* a replaced run's final model would pass for this run's until it finishes */
    nl_path_join(path, sizeof path, st->dir, NL_FINAL_MODEL_FILE);
    if (unlink(path) != 0 && errno != ENOENT && errno != EISDIR)
        return nl_fail(err, NL_ERR_IO, "cannot remove the old %s: %s", path, strerror(errno));
    nl_path_join(path, sizeof path, st->dir, NL_CHECKPOINT_FILE);
    if (st->resume.found != NL_CHECKPOINT_LOADED && unlink(path) != 0 && errno != ENOENT)
        /* --force removes the checkpoint file normlab wrote, not a directory in its place */
        return errno == EISDIR ? nl_fail(err, NL_ERR_DATA, "%s is a directory, not a checkpoint; "
                                         "nothing was changed: remove it to start the run over",
                                         path)
                               : nl_fail(err, NL_ERR_IO, "cannot remove the old %s: %s", path,
                                         strerror(errno));
    return nl_run_outputs_remove_stale(&st->outputs, st->dir, &st->cfg->train, err);
}

/* A run started over (a finished one under --force, an unfinished one
 * without a checkpoint to go on from): the eval records of the model it
 * replaces go with that model, rather than stand beside the new one's. */
static nl_code remove_replaced_evals(const run_state *st, nl_run_outcome *out, nl_error *err)
{
    /* the result line says how many (cmd/run.c), --quiet or not */
    return nl_eval_remove_records(st->dir, &out->removed_evals, err);
}

/* Rank 0's run directory before the first step, under its lock (taken
 * before the first write, held until the last one): the checkpoint resumed
 * or removed, config.yaml, a running summary.json, and the outputs. The
 * config's text and keys are resolved before (every rank's: a checkpoint
 * shared with the ranks is checked against them). */
static nl_code prepare_dir(run_state *st, nl_run_outcome *out, nl_error *err)
{
    nl_code rc = nl_run_dir_lock(st->dir, &st->lock_fd, err);
    if (rc == NL_OK)
        rc = claim_dir(st->dir, st->opt, true, err);
    if (rc == NL_OK)
        rc = find_resume(st, out, err);
    const bool resumed = st->resume.found == NL_CHECKPOINT_LOADED;
    if (rc == NL_OK)
        rc = remove_stale_files(st, err);
    if (rc == NL_OK && !resumed)
        rc = remove_replaced_evals(st, out, err);
    if (rc == NL_OK)
        rc = write_config(st, err);
    if (rc == NL_OK) {
        nl_train_result running;
        nl_train_result_start(&running);
        rc = nl_run_summary_write(st->dir, st->cfg, st->model, &st->facts, &running, err);
    }
    if (rc == NL_OK)
        rc = nl_run_outputs_open(&st->outputs, st->dir, &st->cfg->train,
                                 resumed ? &st->resume.files : NULL, err);
    return rc;
}

/* Rank 0 inside a collective that waits for the other ranks: a stop (a
 * signal) that reaches it there records the run as failed at once. A
 * launcher that lost a rank signals the others and kills them a second
 * later, before the stop could ride the exchange it waits in; where the
 * exchange completes after all, the ranks stop together at the next step
 * and the summary is written again as usual. */
static void on_wait_for_ranks(void *ctx)
{
    run_state *st = ctx;
    if (st->stop_recorded || !st->opt->stop || !*st->opt->stop)
        return;
    st->stop_recorded = true;
    nl_train_result r;
    nl_train_result_start(&r);
    r.status = NL_RUN_FAILED;
    r.steps = st->model->step; /* the step in progress: no more were done */
    snprintf(r.reason, sizeof r.reason, NL_RUN_INTERRUPTED_REASON " while waiting for the other ranks: a "
             "signal reached rank 0 there (a launcher that lost a rank stops the others so; its "
             "message names the rank)");
    nl_error ignored = {0}; /* the run's own end writes the summary again, or reports */
    (void)nl_run_summary_write(st->dir, st->cfg, st->model, &st->facts, &r, &ignored);
}

/* rank 0 writes every row; the other ranks' sink drops them, but takes
 * part in the checkpoints and resumes from what rank 0 found */
static nl_code run_train(run_state *st, nl_run_outcome *out, nl_error *err)
{
    const nl_config *cfg = st->cfg;
    const nl_train_state *resume =
        st->resume.found == NL_CHECKPOINT_LOADED ? &st->resume.state : NULL;
    nl_train_sink sink = {st, sink_metric, sink_trace, sink_progress, sink_checkpoint, resume,
                          sink_series, st->opt->pause_at, st->opt->pause_in_epochs};
    if (!st->root)
        sink = (nl_train_sink){st, sink_metric_elsewhere, sink_trace_elsewhere, NULL,
                               sink_checkpoint, resume, NULL, st->opt->pause_at, st->opt->pause_in_epochs};
    return st->plan.tokens ? nl_train_tokens(st->model, st->token_data, &cfg->train, cfg->seed,
                                             &sink, st->opt->stop, &out->result, err)
                           : nl_train(st->model, st->data, &cfg->train, cfg->seed, &sink,
                                      st->opt->stop, &out->result, err);
}

/* how the run trained, where a config key changed it */
static void note_training(const run_state *st, const nl_train_result *r)
{
    if (r->replayed_steps > 0)
        note(st->opt, "%ld of %ld steps replayed from a CUDA graph of the training step "
             "(train.cuda_graph)", r->replayed_steps, r->steps);
    if (r->frozen_from_step > 0)
        note(st->opt, "running statistics frozen from step %ld on (train.freeze_bn_after)",
             r->frozen_from_step);
    if (isfinite(r->unrecalibrated_test_accuracy))
        note(st->opt, "running statistics recalibrated over %ld training batches: test accuracy "
             "%.2f%% before, %.2f%% after (train.bn_recalibrate)",
             st->cfg->train.bn_recalibrate_batches, 100 * r->unrecalibrated_test_accuracy,
             100 * r->final_test_accuracy);
}

/* Rank 0 after training (`rc` its outcome): the outputs closed and a
 * finished run's final model written, then the final summary, last: only
 * now may it say the run finished. A finished run's checkpoint is only
 * weight now (an unfinished one keeps it for the next start). */
static nl_code run_finish(run_state *st, nl_run_outcome *out, nl_code rc, nl_error *err)
{
    note_training(st, &out->result);
    const bool finished = out->result.status == NL_RUN_OK || out->result.status == NL_RUN_DIVERGED;
    if (rc == NL_OK && finished &&
        (rc = nl_final_model_write(st->dir, st->config_keys.data, st->model, out->result.steps,
                                   err)) != NL_OK) {
        out->result.status = NL_RUN_FAILED;
        nl_copy_string(out->result.reason, sizeof out->result.reason, err->msg);
    }
    nl_error close_err = {0};
    if (nl_run_outputs_close(&st->outputs, &close_err) != NL_OK && rc == NL_OK) {
        *err = close_err;
        rc = close_err.code;
        out->result.status = NL_RUN_FAILED;
        nl_copy_string(out->result.reason, sizeof out->result.reason, close_err.msg);
    }
    nl_crash_record_disarm(); /* the summary written now says how the run ended */
    nl_error summary_err = {0};
    if (nl_run_summary_write(st->dir, st->cfg, st->model, &st->facts, &out->result,
                             &summary_err) != NL_OK &&
        rc == NL_OK) {
        *err = summary_err;
        rc = summary_err.code;
    }
    char path[1100];
    nl_path_join(path, sizeof path, st->dir, NL_CHECKPOINT_FILE);
    if (rc == NL_OK && finished && unlink(path) != 0 && errno != ENOENT)
        note(st->opt, "cannot remove %s: %s", path, strerror(errno));
    return rc;
}

static void run_close(run_state *st)
{
    if (st->opt->record_crash && st->root)
        nl_crash_record_disarm();
    free(st->resume.order);
    free(st->config_text);
    nl_flat_free(&st->config_flat);
    nl_buf_free(&st->config_keys);
    nl_run_outputs_close(&st->outputs, NULL);
    nl_device_data_free(&st->device_data);
    nl_model_free(st->model);
    nl_dataset_free(&st->own_data);
    nl_token_dataset_free(&st->own_tokens);
    nl_data_share_release(st->opt->data_share, st->shared);
    nl_backend_close(st->be);
    if (st->lock_fd >= 0)
        close(st->lock_fd); /* the last write is done: another writer may come */
}

nl_code nl_run(const nl_config *cfg, const nl_run_options *opt, nl_run_outcome *out,
               nl_error *err)
{
    memset(out, 0, sizeof *out);
    run_state run = {.cfg = cfg, .opt = opt, .dist = opt->dist, .lock_fd = -1,
                     .facts = {.device = opt->device >= 0 ? (nl_device)opt->device : cfg->device,
                               .command_line = opt->command_line}};
    run_state *st = &run;
    st->root = nl_dist_rank(st->dist) == 0;
    st->facts.ranks = nl_dist_size(st->dist);
    nl_run_outputs_init(&st->outputs, opt->output);
    st->data = &st->own_data;
    st->token_data = &st->own_tokens;
    nl_code rc = run_begin(st, out, err);
    if (rc)
        return rc;
    rc = nl_dist_agree(st->dist, run_open(st, out, err), err);
    if (rc == NL_OK) {
        if (st->facts.ranks > 1 && st->root)
            note(opt, "training on %d MPI ranks: each takes %d samples of every batch of %d",
                 st->facts.ranks, st->facts.rank_batch, cfg->train.batch_size);
        nl_run_facts_start(&st->facts);
        rc = nl_dist_agree(st->dist, st->root ? prepare_dir(st, out, err) : NL_OK, err);
    }
    nl_error arm_err = {0};
    /* without it a crash leaves "running", as before: no reason to stop the run */
    if (rc == NL_OK && st->root && opt->record_crash &&
        nl_crash_record_arm(st->dir, &st->model->step, &arm_err) != NL_OK)
        note(opt, "%s", arm_err.msg);
    if (rc == NL_OK)
        rc = nl_ranks_share_resume(st->dist, st->config_keys.data, st->model, &st->resume, err);
    if (rc == NL_OK) {
        const double exchanged_before = nl_dist_exchange_seconds(st->dist);
        if (st->root && st->facts.ranks > 1)
            nl_dist_on_wait(st->dist, on_wait_for_ranks, st);
        rc = run_train(st, out, err);
        nl_dist_on_wait(st->dist, NULL, NULL);
        st->facts.exchange_s = nl_dist_exchange_seconds(st->dist) - exchanged_before;
        if (st->root)
            rc = run_finish(st, out, rc, err);
    }
    run_close(st);
    return rc;
}
