#include "train/run.h"

#include <errno.h>
#include <stdarg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/flat.h"
#include "data/share.h"
#include "dist/dist.h"
#include "log/files.h"
#include "train/check.h"
#include "train/checkpoint.h"
#include "train/device_data.h"
#include "train/eval.h"
#include "train/final_model.h"
#include "train/init_from.h"
#include "train/outputs.h"
#include "train/resume.h"
#include "train/rundir.h"
#include "train/summary.h"
#include "version_git.h"

nl_run_status nl_run_dir_status(const char *dir)
{
    switch (nl_summary_read(dir, NULL)) {
    case NL_SUMMARY_OK:
        return NL_RUN_OK;
    case NL_SUMMARY_DIVERGED:
        return NL_RUN_DIVERGED;
    case NL_SUMMARY_FAILED:
        return NL_RUN_FAILED;
    default: /* none, torn, or written at the start */
        return NL_RUN_RUNNING;
    }
}

static void iso_time(char *buf, size_t size)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

typedef struct {
    const nl_config *cfg;
    const nl_run_options *opt;
    struct nl_dist *dist;
    bool root;         /* rank 0, which writes the run directory */
    nl_run_plan plan;  /* nl_run_check's */
    nl_init_from_source init_source; /* init.from's identity; path "" without one */
    nl_device device;  /* trained on: --device, else the config's */
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
    const char *data_description; /* the loaded dataset's */
    char dir[1024];
    int lock_fd;       /* the run directory's lock, from before the first write */
    char started[32];
    int threads;
    int usable_cores;  /* the CPUs the run may use */
    const char *cpu_kernels; /* the CPU kernel set, NULL on a GPU */
    const char *openblas_core; /* the core OpenBLAS ran, NULL on a GPU */
    double busy_cores; /* of those, busy with other work at the start */
    char *config_text; /* the resolved config, as config.yaml holds it */
    size_t config_len;
    nl_flat config_flat;  /* its keys, with the device the run trains on */
    nl_buf config_keys;   /* what a checkpoint is written for (nl_checkpoint_config_keys) */
    int ranks, rank_batch;
    /* rank 0: seconds in the ranks' exchanges while training (0 on one) */
    double exchange_s;
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

/* init.from: the run's identity includes the model it started from */
static void put_init_source(nl_json *j, const run_state *st)
{
    if (!st->init_source.path[0])
        return;
    char hash[20];
    snprintf(hash, sizeof hash, "%016llx", (unsigned long long)st->init_source.model_hash);
    nl_json_string(j, "init_from", st->init_source.path);
    nl_json_string(j, "init_from_model_fnv1a64", hash);
    nl_json_int(j, "init_from_step", st->init_source.step);
}

static nl_code write_summary(run_state *st, const nl_train_result *r, nl_error *err)
{
    const nl_config *cfg = st->cfg;
    char finished[32], host[256] = "", cpu[256];
    iso_time(finished, sizeof finished);
    gethostname(host, sizeof host - 1);
    nl_json j;
    nl_json_begin(&j);
    nl_json_string(&j, "name", cfg->name);
    nl_json_string(&j, "status", nl_run_status_name(r->status));
    nl_json_string(&j, "reason", r->reason);
    nl_json_int(&j, "steps", r->steps);
    nl_json_number(&j, "epochs", r->epochs);
    nl_json_number(&j, "final_train_loss", r->final_train_loss);
    nl_json_number(&j, "final_test_loss", r->final_test_loss);
    nl_json_number(&j, "final_test_accuracy", r->final_test_accuracy);
    nl_json_number(&j, "final_test_trainmode_accuracy", r->final_trainmode_accuracy);
    /* train.bn_recalibrate: the final evaluation before it (final_* are after) */
    nl_json_number(&j, "test_loss_before_recalibration", r->unrecalibrated_test_loss);
    nl_json_number(&j, "test_accuracy_before_recalibration", r->unrecalibrated_test_accuracy);
    nl_json_number(&j, "bn_frozen_from_step", r->frozen_from_step > 0 ? (double)r->frozen_from_step : NAN);
    nl_json_number(&j, "best_test_loss", r->best_test_loss);
    nl_json_number(&j, "best_test_accuracy", r->best_test_accuracy);
    if (st->model && st->model->rows_per_sample > 1) {
        /* token models: losses per token in nats; in bits, per character
         * for a text of one byte per character */
        nl_json_number(&j, "final_train_bits_per_token", r->final_train_loss / log(2.0));
        nl_json_number(&j, "final_test_bits_per_token", r->final_test_loss / log(2.0));
        nl_json_number(&j, "best_test_bits_per_token", r->best_test_loss / log(2.0));
        nl_json_number(&j, "tokens_per_s", r->samples_per_s * st->model->rows_per_sample);
    }
    nl_json_number(&j, "wall_s", r->wall_s);
    nl_json_number(&j, "train_s", r->train_s);
    nl_json_number(&j, "samples_per_s", r->samples_per_s);
    /* MPI: of train_s and the evaluations, the time rank 0 spent in the
     * exchanges with the other ranks, waiting for the slowest included */
    nl_json_number(&j, "exchange_s", st->exchange_s);
    /* train.cuda_graph: how many of the steps ran as a replay (0: every
     * step launched its kernels), so a measured speed says which it was */
    nl_json_int(&j, "replayed_steps", r->replayed_steps);
    nl_json_int(&j, "seed", (long long)cfg->seed);
    nl_json_int(&j, "threads", st->threads);
    nl_json_int(&j, "ranks", st->ranks);
    nl_json_int(&j, "rank_batch_size", st->rank_batch);
    nl_json_int(&j, "usable_cores", st->usable_cores);
    nl_json_number(&j, "busy_cores_at_start", st->busy_cores);
    /* results repeat bit for bit for one kernel set and thread count: which
     * set computed them (cpu/host.c), empty on a GPU */
    nl_json_string(&j, "cpu_kernels", st->cpu_kernels ? st->cpu_kernels : "");
    /* and OpenBLAS's core (each set pins one, cpu/host.c), empty on a GPU */
    nl_json_string(&j, "openblas_core", st->openblas_core ? st->openblas_core : "");
    nl_json_string(&j, "cpu", nl_backend_cpu_description(cpu, sizeof cpu)); /* a sweep can span machines */
    /* train.precision: the products' format (fp32 when no autocast) */
    nl_json_string(&j, "precision", nl_name_of(&nl_precision_names, cfg->train.precision));
    nl_json_string(&j, "device", nl_name_of(&nl_device_names, st->opt->device >= 0 ? st->opt->device : (int)cfg->device));
    nl_json_string(&j, "dataset", st->data_description ? st->data_description : "");
    nl_json_int(&j, "parameters", st->model ? (long long)nl_model_param_total(st->model) : 0);
    nl_json_number(&j, "mflop_per_sample_forward",
                   st->model ? nl_model_forward_flops(st->model) / 1e6 : NAN);
    nl_json_string(&j, "normlab_version", NORMLAB_VERSION);
    nl_json_string(&j, "git_commit", NORMLAB_GIT_COMMIT);
    nl_json_string(&j, "started_at", st->started);
    nl_json_string(&j, "finished_at", r->status == NL_RUN_RUNNING ? "" : finished);
    nl_json_string(&j, "host", host);
    nl_json_string(&j, "command", st->opt->command_line ? st->opt->command_line : "");
    put_init_source(&j, st);
    nl_json_end(&j);
    if (j.buf.failed) {
        nl_buf_free(&j.buf);
        return nl_fail(err, NL_ERR_NOMEM, "out of memory writing the summary");
    }
    char path[1100];
    nl_path_join(path, sizeof path, st->dir, "summary.json");
    nl_code rc = nl_write_atomic(path, j.buf.data, j.buf.len, err);
    nl_buf_free(&j.buf);
    return rc;
}

/* the resolved config's text and the keys a checkpoint is written for,
 * before anything is written */
static nl_code resolve_config_text(run_state *st, nl_device device, nl_error *err)
{
    nl_code rc = nl_checkpoint_config(st->cfg, device, &st->config_text, &st->config_flat,
                                      &st->config_keys, err);
    st->config_len = st->config_text ? strlen(st->config_text) : 0;
    return rc;
}

static nl_code write_config(run_state *st, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, st->dir, "config.yaml");
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
    nl_path_join(summary, sizeof summary, dir, "summary.json");
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

/* the batch each rank trains on, or an error when the ranks cannot share
 * the global batch equally */
static nl_code check_ranks(const nl_config *cfg, int ranks, int *rank_batch, nl_error *err)
{
    const int batch = cfg->train.batch_size;
    *rank_batch = batch / ranks;
    if (batch % ranks == 0)
        return NL_OK;
    const int below = batch - batch % ranks, above = below + ranks;
    return nl_config_key_error(cfg, err, NL_ERR_CONFIG, "train.batch_size",
                               "%d cannot be shared by the %d MPI ranks (train.batch_size is the "
                               "global batch; each rank takes an equal slice of it); accepted: "
                               "a multiple of %d, e.g. %d or %d", batch, ranks, ranks,
                               below > 0 ? below : above, below > 0 ? above : above + ranks);
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
        rc = check_ranks(cfg, st->ranks, &st->rank_batch, err);
    if (rc)
        return rc;
    out->ranks = st->ranks;
    out->rank_batch = st->rank_batch;
    rc = st->root ? claim_dir(st->dir, opt, false, err) : NL_OK;
    return nl_dist_agree(st->dist, rc, err);
}

/* every rank updates its own parameters: one CPU kernel set for all */
static nl_code agree_kernels(const run_state *st, nl_error *err)
{
    double votes[NL_KERNEL_VOTES_MAX];
    const int n_votes = nl_backend_cpu_kernel_votes(votes);
    char kernels_note[512];
    nl_code rc = nl_dist_reserve(st->dist, sizeof votes, err);
    if (rc)
        return rc;
    nl_dist_sum(st->dist, votes, (size_t)n_votes);
    if ((rc = nl_dist_status(st->dist, err)) ||
        (rc = nl_backend_cpu_kernels_agree(votes, st->ranks, kernels_note, sizeof kernels_note,
                                           err)))
        return rc;
    if (kernels_note[0] && st->root)
        note(st->opt, "%s", kernels_note);
    return NL_OK;
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
        st->data_description = st->token_data->description;
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
    st->data_description = st->data->description;
    return NL_OK;
}

/* the backend, the data and the model, on every rank */
static nl_code run_open(run_state *st, nl_run_outcome *out, nl_error *err)
{
    const nl_config *cfg = st->cfg;
    const nl_backend_options backend_opt = {
        .threads = st->opt->threads > 0 ? st->opt->threads : cfg->threads,
        .keep_subnormals = !cfg->flush_subnormals};
    nl_code rc = st->device == NL_DEVICE_CPU && st->ranks > 1 ? agree_kernels(st, err) : NL_OK;
    if (rc == NL_OK)
        rc = nl_backend_open(st->device, &backend_opt, &st->be, err);
    if (rc)
        return rc;
    /* before the model is planned: the product ops' workspaces depend on it */
    st->be->product_precision = cfg->train.precision;
    const nl_backend *be = st->be;
    if (st->root && be->busy_cores >= 0.5)
        note(st->opt, "%.1f of %d cores busy with other work: training on %d thread%s (threads: N "
                      "insists on N)", be->busy_cores, be->usable_cores, be->threads,
             be->threads == 1 ? "" : "s");
    st->threads = be->threads;
    st->usable_cores = be->usable_cores;
    st->cpu_kernels = be->cpu_kernels;
    st->openblas_core = be->cpu_kernels ? be->openblas_core : NULL;
    st->busy_cores = be->busy_cores;
    out->threads = be->threads;
    nl_run_model_spec(cfg, &st->model_spec);
    if ((rc = load_data(st, err)))
        return rc;
    /* each rank holds its slice of a training batch and of an evaluation one */
    int capacity = (cfg->train.eval_batch_size + st->ranks - 1) / st->ranks;
    if (capacity < st->rank_batch)
        capacity = st->rank_batch;
    nl_model *model = NULL;
    if ((rc = nl_model_build(&st->model_spec, st->be, capacity, st->rank_batch, cfg->seed, &model,
                             err)))
        return rc;
    st->model = model;
    /* a checkpoint found later replaces these weights, as any initialization */
    char init_note[1400];
    if ((rc = nl_init_from_load(cfg, model, &st->init_source, init_note, sizeof init_note, err)))
        return rc;
    if (init_note[0] && st->root)
        note(st->opt, "%s (init.from)", init_note);
    rc = nl_model_set_dist(model, st->dist, err);
    if (rc == NL_OK)
        rc = resolve_config_text(st, st->device, err);
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
    if (st->resume.state.ranks != st->ranks)
        note(st->opt, "the checkpoint was taken on %ld MPI rank%s, this run has %d: the same "
                      "global batch of %d, split otherwise, so the losses go on as the "
                      "uninterrupted run's to float rounding (the sums over the ranks group "
                      "differently), not bit for bit",
             st->resume.state.ranks, st->resume.state.ranks == 1 ? "" : "s", st->ranks,
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
        .config_flat = &st->config_flat, .total_steps = st->plan.total_steps, .ranks = st->ranks,
        .rank_batch = st->rank_batch, .tokens = st->plan.tokens ? &st->token_data->train : NULL,
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
        rc = write_summary(st, &running, err);
    }
    if (rc == NL_OK)
        rc = nl_run_outputs_open(&st->outputs, st->dir, &st->cfg->train,
                                 resumed ? &st->resume.files : NULL, err);
    return rc;
}

/* Under MPI: every rank takes the checkpoint rank 0 found (or none) */
static nl_code share_resume(run_state *st, nl_error *err)
{
    bool loaded = st->resume.found == NL_CHECKPOINT_LOADED;
    nl_code rc = nl_checkpoint_share(st->dist, st->config_keys.data, st->model, &st->resume.state,
                                     &st->resume.files, &st->resume.order, &loaded, err);
    if (rc == NL_OK && loaded)
        st->resume.found = NL_CHECKPOINT_LOADED;
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
    snprintf(r.reason, sizeof r.reason, "interrupted while waiting for the other ranks: a "
             "signal reached rank 0 there (a launcher that lost a rank stops the others so; its "
             "message names the rank)");
    nl_error ignored = {0}; /* the run's own end writes the summary again, or reports */
    (void)write_summary(st, &r, &ignored);
}

/* rank 0 writes every row; the other ranks' sink drops them, but takes
 * part in the checkpoints and resumes from what rank 0 found */
static nl_code run_train(run_state *st, nl_run_outcome *out, nl_error *err)
{
    const nl_config *cfg = st->cfg;
    const nl_train_state *resume =
        st->resume.found == NL_CHECKPOINT_LOADED ? &st->resume.state : NULL;
    nl_train_sink sink = {st, sink_metric, sink_trace, sink_progress, sink_checkpoint, resume,
                          sink_series};
    if (!st->root)
        sink = (nl_train_sink){st, sink_metric_elsewhere, sink_trace_elsewhere, NULL,
                               sink_checkpoint, resume, NULL};
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
    nl_error summary_err = {0};
    if (write_summary(st, &out->result, &summary_err) != NL_OK && rc == NL_OK) {
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
                     .device = opt->device >= 0 ? (nl_device)opt->device : cfg->device};
    run_state *st = &run;
    st->root = nl_dist_rank(st->dist) == 0;
    st->ranks = nl_dist_size(st->dist);
    nl_run_outputs_init(&st->outputs, opt->output);
    st->data = &st->own_data;
    st->token_data = &st->own_tokens;
    nl_code rc = run_begin(st, out, err);
    if (rc)
        return rc;
    rc = nl_dist_agree(st->dist, run_open(st, out, err), err);
    if (rc == NL_OK) {
        if (st->ranks > 1 && st->root)
            note(opt, "training on %d MPI ranks: each takes %d samples of every batch of %d",
                 st->ranks, st->rank_batch, cfg->train.batch_size);
        iso_time(st->started, sizeof st->started);
        rc = nl_dist_agree(st->dist, st->root ? prepare_dir(st, out, err) : NL_OK, err);
    }
    if (rc == NL_OK)
        rc = share_resume(st, err);
    if (rc == NL_OK) {
        const double exchanged_before = nl_dist_exchange_seconds(st->dist);
        if (st->root && st->ranks > 1)
            nl_dist_on_wait(st->dist, on_wait_for_ranks, st);
        rc = run_train(st, out, err);
        nl_dist_on_wait(st->dist, NULL, NULL);
        st->exchange_s = nl_dist_exchange_seconds(st->dist) - exchanged_before;
        if (st->root)
            rc = run_finish(st, out, rc, err);
    }
    run_close(st);
    return rc;
}
