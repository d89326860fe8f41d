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
#include "tensorboard/scalars.h"
#include "train/check.h"
#include "train/checkpoint.h"
#include "train/device_data.h"
#include "train/eval.h"
#include "train/final_model.h"
#include "train/init_from.h"
#include "train/probe.h"
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
    nl_csv metrics, trace, series;
    nl_tb_writer tensorboard; /* train.log.tensorboard: the scalars as TensorBoard events */
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
    nl_checkpoint_found found;
    nl_train_state resume;
    nl_checkpoint_files resume_files;
    int32_t *resume_order;
} run_state;

static bool logs_series(const nl_train_spec *train)
{
    return train->log_grad_norms || train->log_attention_logits || train->log_weight_stats ||
           train->log_switch_weights || nl_probes_write_series(train) ||
           nl_train_logs_loss_scale(train);
}

/* metrics.csv's columns (the last only with train.clip_grad_norm) */
static const char *const metric_columns[] = {"step", "epoch", "split", "loss", "accuracy",
                                             "lr", "elapsed_s", "grad_norm"};

/* seconds since the epoch: an event's wall time */
static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static nl_code sink_metric(void *ctx, const nl_metric_row *row, nl_error *err)
{
    run_state *st = ctx;
    char step[32], epoch[32], loss[32], acc[32], lr[32], elapsed[32], grad_norm[32] = "";
    snprintf(step, sizeof step, "%ld", row->step);
    snprintf(epoch, sizeof epoch, "%.4f", row->epoch);
    nl_fmt_float(loss, sizeof loss, row->loss);
    nl_fmt_float(acc, sizeof acc, row->accuracy);
    snprintf(lr, sizeof lr, "%.7g", row->lr); /* a float: 7 digits are all it has */
    snprintf(elapsed, sizeof elapsed, "%.3f", row->elapsed_s);
    if (!isnan(row->grad_norm))
        nl_fmt_float(grad_norm, sizeof grad_norm, row->grad_norm);
    /* the last field is read only when the file has the grad_norm column */
    const char *fields[] = {step, epoch, nl_name_of(&nl_split_names, row->split), loss, acc, lr,
                            elapsed, grad_norm};
    nl_code rc = nl_csv_row(&st->metrics, fields, err);
    /* the events hold what the CSV says: its fields, parsed back */
    for (int c = 0; rc == NL_OK && st->tensorboard.open && c < st->metrics.columns; c++) {
        char tag[64];
        if (fields[c][0] && nl_tb_metric_tag(fields[2], metric_columns[c], tag, sizeof tag))
            rc = nl_tb_writer_scalar(&st->tensorboard, wall_now(), row->step, tag, strtod(fields[c], NULL), err);
    }
    return rc;
}

static nl_code sink_trace(void *ctx, long step, const double *values, int n, nl_error *err)
{
    run_state *st = ctx;
    char cells[NL_MAX_PERCENTILES + 1][32];
    const char *fields[NL_MAX_PERCENTILES + 1];
    snprintf(cells[0], sizeof cells[0], "%ld", step);
    fields[0] = cells[0];
    for (int i = 0; i < n; i++) {
        nl_fmt_float(cells[i + 1], sizeof cells[i + 1], values[i]);
        fields[i + 1] = cells[i + 1];
    }
    return nl_csv_row(&st->trace, fields, err);
}

static nl_code sink_series(void *ctx, long step, nl_series_kind kind, int layer, const char *name,
                           double value, nl_error *err)
{
    run_state *st = ctx;
    char step_s[32], layer_s[16], value_s[32];
    snprintf(step_s, sizeof step_s, "%ld", step);
    snprintf(layer_s, sizeof layer_s, "%d", layer);
    const char *fields[] = {step_s, nl_name_of(&nl_series_names, kind), layer_s, name,
                            nl_fmt_float(value_s, sizeof value_s, value)};
    nl_code rc = nl_csv_row(&st->series, fields, err);
    if (rc == NL_OK && st->tensorboard.open) {
        char tag[256];
        nl_tb_series_tag(fields[1], layer_s, name, tag, sizeof tag);
        rc = nl_tb_writer_scalar(&st->tensorboard, wall_now(), step, tag, strtod(value_s, NULL), err);
    }
    return rc;
}

static nl_code write_checkpoint(run_state *st, const nl_train_state *s, nl_error *err)
{
    /* the rows the checkpoint counts are on disk before it is */
    const nl_csv *files_written[] = {&st->metrics, &st->trace, &st->series};
    for (size_t i = 0; i < sizeof files_written / sizeof files_written[0]; i++)
        if (files_written[i]->open && fsync(files_written[i]->fd) != 0)
            return nl_fail(err, NL_ERR_IO, "cannot write %s: %s", files_written[i]->path,
                           strerror(errno));
    /* the thread count and kernel set come from the model's backend */
    const nl_checkpoint_files files = {.metrics_bytes = st->metrics.size,
                                       .trace_bytes = st->trace.open ? st->trace.size : 0,
                                       .series_bytes = st->series.open ? st->series.size : 0};
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

/* a checkpoint's output file holds at least the rows it counted (checked
 * before anything is written; nl_csv_continue cuts it back to them) */
static nl_code output_reaches(const char *dir, const char *name, long long bytes, nl_error *err)
{
    char path[1100];
    nl_path_join(path, sizeof path, dir, name);
    struct stat st;
    if (stat(path, &st) == 0 && st.st_size >= bytes)
        return NL_OK;
    return nl_fail(err, NL_ERR_DATA, "%s has %lld bytes, fewer than the %lld it had at the "
                   "checkpoint in %s/%s; remove the checkpoint or run with --force to start over",
                   path, stat(path, &st) == 0 ? (long long)st.st_size : 0LL, bytes, dir,
                   NL_CHECKPOINT_FILE);
}

/* a checkpoint's data order is over the training split it was taken on:
 * the same config over data files that have since changed (train_size: 0
 * takes them all) is refused before anything is written, not by the
 * training loop after metrics.csv has been cut back */
static nl_code resume_fits_data(const char *dir, const nl_train_state *s, const nl_split *train,
                                nl_error *err)
{
    if (s->data_n == train->n)
        return NL_OK;
    return nl_fail(err, NL_ERR_DATA, "%s/%s was taken over %ld training samples, the data now has %ld; "
                   "remove the checkpoint or run with --force to start over",
                   dir, NL_CHECKPOINT_FILE, s->data_n, train->n);
}

/* a token run's checkpoint holds no order, only the batcher's place: it is
 * tried on a batcher over this run's training split now, so a place the
 * split cannot have is refused before anything is written */
static nl_code resume_fits_tokens(const char *dir, const nl_train_state *s,
                                  const nl_token_split *train, int batch, int context,
                                  nl_error *err)
{
    nl_window_batcher trial;
    nl_code rc = nl_window_batcher_init(&trial, train, batch, context, true, 0, err);
    const nl_window_position at = {s->data_epoch, s->data_pos, s->data_rng};
    if (rc == NL_OK && s->data_n != 0)
        rc = nl_fail(err, NL_ERR_DATA, "%s/%s was taken over an image dataset's order", dir,
                     NL_CHECKPOINT_FILE);
    else if (rc == NL_OK && (rc = nl_window_batcher_seek(&trial, &at, err)))
        nl_error_prefix(err, "%s/%s: ", dir, NL_CHECKPOINT_FILE);
    nl_window_batcher_free(&trial);
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

/* A sound checkpoint whose hash is not this run's: the keys it was written
 * for are compared with this run's, text for text (a number written
 * another way is refused rather than taken by a tolerance that would take
 * seed 1000001 for 1000000). The same keys take it (a format before 4
 * hashed config.yaml's text, the config's path as typed included); other
 * values refuse the run, naming them. Never deleted here: only --force
 * starts over. True in *same when it is to be taken. */
static nl_code compare_checkpoint_config(const run_state *st, const nl_checkpoint_origin *o,
                                         bool *same, nl_error *err)
{
    *same = false;
    char path[1100];
    nl_path_join(path, sizeof path, st->dir, NL_CHECKPOINT_FILE);
    nl_flat saved = {0};
    nl_code rc;
    if (o->config_keys) {
        rc = nl_checkpoint_keys_flat(o->config_keys, &saved, err);
    } else {
        /* formats 1 to 3: the run directory's config.yaml says what they
         * were written for when its text has their hash */
        char yaml[1100], *text = NULL;
        size_t len = 0;
        nl_path_join(yaml, sizeof yaml, st->dir, "config.yaml");
        nl_error read_err = {0};
        if (nl_read_file(yaml, &text, &len, &read_err) != NL_OK ||
            nl_checkpoint_hash(text, len) != o->config_hash) {
            free(text);
            return nl_fail(err, NL_ERR_CONFIG,
                           "%s (format %u, at step %lld) was written for another config, and %s "
                           "is not the config it was written for, so what changed cannot be "
                           "said. The checkpoint is kept: run with --force to start over from "
                           "step 0, or --out DIR to write elsewhere",
                           path, o->version, (long long)o->step, yaml);
        }
        rc = nl_flat_from_yaml(text, yaml, &saved, err);
        free(text);
    }
    /* format 4: this run's keys as a checkpoint holds them, which leaves
     * out a key newer than the format at its default, as the saved keys do
     * (the resolved config would name each such key as changed) */
    nl_flat now = {0};
    const nl_flat *current = &st->config_flat;
    if (rc == NL_OK && o->config_keys) {
        rc = nl_checkpoint_keys_flat(st->config_keys.data, &now, err);
        current = &now;
    }
    if (rc) {
        nl_flat_free(&saved);
        nl_flat_free(&now);
        return rc;
    }
    char diff[1400];
    const int changed = nl_flat_diff(&saved, current, nl_flat_key_outside_run, nl_values_identical,
                                     diff, sizeof diff);
    nl_flat_free(&saved);
    nl_flat_free(&now);
    if (changed > 0)
        return nl_fail(err, NL_ERR_CONFIG,
                       "%s (at step %lld) was written for another config: %s. The checkpoint is "
                       "kept: run the config it was written for to resume it, --force to start "
                       "this one over from step 0, or --out DIR to write elsewhere",
                       path, (long long)o->step, diff);
    *same = true;
    return NL_OK;
}

/* a checkpoint past the run's end was not written by this config's loop
 * (its last checkpoint comes before its last step) */
static nl_code resume_within_run(const char *dir, long step, long total, nl_error *err)
{
    if (step <= total)
        return NL_OK;
    return nl_fail(err, NL_ERR_DATA, "%s/%s is at step %ld, past this run's %ld steps; it is not "
                   "used and nothing was changed. Remove it or run with --force to start over",
                   dir, NL_CHECKPOINT_FILE, step, total);
}

/* Reads the run directory's checkpoint: loaded when it was written for
 * this config, NL_CHECKPOINT_NONE when there is none, an error otherwise. */
static nl_code read_checkpoint(const run_state *st, nl_model *model, nl_train_state *resume,
                               nl_checkpoint_files *files, int32_t **order,
                               nl_checkpoint_found *found, nl_error *err)
{
    nl_checkpoint_want want = {
        nl_checkpoint_hash(st->config_keys.data, st->config_keys.len),
        nl_checkpoint_hash(st->config_text, st->config_len)};
    nl_checkpoint_origin origin;
    nl_code rc = nl_checkpoint_read(st->dir, &want, model, resume, files, order, found, &origin, err);
    if (rc == NL_OK && *found == NL_CHECKPOINT_OTHER_CONFIG) {
        bool same;
        rc = compare_checkpoint_config(st, &origin, &same, err);
        /* the same values: taken as written for this run */
        want = (nl_checkpoint_want){origin.config_hash, origin.config_hash};
        if (rc == NL_OK && same)
            rc = nl_checkpoint_read(st->dir, &want, model, resume, files, order, found, NULL, err);
        /* the directory is locked: a file that changed meanwhile is not deleted as another config's */
        if (rc == NL_OK && *found != NL_CHECKPOINT_LOADED)
            rc = nl_fail(err, NL_ERR_IO, "%s/%s changed while it was read", st->dir, NL_CHECKPOINT_FILE);
    }
    free(origin.config_keys);
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

/* A checkpoint taken on another number of MPI ranks goes on with the same
 * global batch, split otherwise: the trajectory of the uninterrupted run to
 * float rounding, unless a layer's training depends on the split (its
 * statistics over each rank's slice, masks drawn per rank), whose run
 * would go on as another experiment than the one it began: refused, before
 * anything is written. */
static nl_code resume_fits_ranks(const run_state *st, nl_error *err)
{
    const long then = st->resume.ranks;
    const nl_layer *l = nl_model_per_rank_layer(st->model);
    if (then == st->ranks || !l)
        return NL_OK;
    return nl_fail(err, NL_ERR_CONFIG,
                   "%s/%s was taken on %ld MPI rank%s and this run has %d, but layer %s trains on "
                   "%s, so the run would go on as another experiment than the one it began. "
                   "Resume it on %ld rank%s (mpirun -np %ld places them on as few hosts as you "
                   "have), or start over with --force",
                   st->dir, NL_CHECKPOINT_FILE, then, then == 1 ? "" : "s", st->ranks, l->name,
                   l->per_rank, then, then == 1 ? "" : "s", then);
}

/* a loaded checkpoint fits this run: within its steps, over its data, on a
 * rank count it may change to, and its outputs hold the rows it counted
 * (checked before anything is written) */
static nl_code resume_fits_run(const run_state *st, nl_error *err)
{
    const nl_train_spec *train = &st->cfg->train;
    const nl_train_state *r = &st->resume;
    const nl_checkpoint_files *files = &st->resume_files;
    nl_code rc = resume_within_run(st->dir, r->step, st->plan.total_steps, err);
    if (rc == NL_OK)
        rc = st->plan.tokens ? resume_fits_tokens(st->dir, r, &st->token_data->train,
                                                  st->rank_batch, st->model_spec.context, err)
                             : resume_fits_data(st->dir, r, &st->data->train, err);
    if (rc == NL_OK)
        rc = output_reaches(st->dir, "metrics.csv", files->metrics_bytes, err);
    if (rc == NL_OK && train->trace.activation[0])
        rc = output_reaches(st->dir, "trace.csv", files->trace_bytes, err);
    if (rc == NL_OK && logs_series(train))
        rc = output_reaches(st->dir, "series.csv", files->series_bytes, err);
    if (rc == NL_OK)
        rc = resume_fits_ranks(st, err);
    return rc;
}

/* what a resumed run tells: its step, and a thread count or kernel set
 * that may change the last bits */
static void note_resume(const run_state *st, nl_run_outcome *out)
{
    const nl_checkpoint_files *files = &st->resume_files;
    const nl_backend *be = st->be;
    note(st->opt, "resuming %s from its checkpoint at step %ld", st->dir, st->resume.step);
    out->resumed_from = st->resume.step;
    out->resumed_threads = (int)files->threads;
    out->resumed_ranks = (int)st->resume.ranks;
    if (st->resume.ranks != st->ranks)
        note(st->opt, "the checkpoint was taken on %ld MPI rank%s, this run has %d: the same "
                      "global batch of %d, split otherwise, so the losses go on as the "
                      "uninterrupted run's to float rounding (the sums over the ranks group "
                      "differently), not bit for bit",
             st->resume.ranks, st->resume.ranks == 1 ? "" : "s", st->ranks,
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
    nl_code rc = read_checkpoint(st, st->model, &st->resume, &st->resume_files, &st->resume_order,
                                 &st->found, err);
    if (rc == NL_OK && st->found == NL_CHECKPOINT_LOADED && (rc = resume_fits_run(st, err)) == NL_OK)
        note_resume(st, out);
    return rc;
}

/* A fresh start removes the checkpoint; resumed or not, a trace or series
 * of the run this one replaces would pass for this run's */
static nl_code remove_stale_files(const run_state *st, nl_error *err)
{
    char path[1100];
    /* a replaced run's final model would pass for this run's until it finishes */
    nl_path_join(path, sizeof path, st->dir, NL_FINAL_MODEL_FILE);
    if (unlink(path) != 0 && errno != ENOENT && errno != EISDIR)
        return nl_fail(err, NL_ERR_IO, "cannot remove the old %s: %s", path, strerror(errno));
    nl_path_join(path, sizeof path, st->dir, NL_CHECKPOINT_FILE);
    if (st->found != NL_CHECKPOINT_LOADED && unlink(path) != 0 && errno != ENOENT)
        /* --force removes the checkpoint file normlab wrote, not a directory in its place */
        return errno == EISDIR ? nl_fail(err, NL_ERR_DATA, "%s is a directory, not a checkpoint; "
                                         "nothing was changed: remove it to start the run over",
                                         path)
                               : nl_fail(err, NL_ERR_IO, "cannot remove the old %s: %s", path,
                                         strerror(errno));
    const nl_train_spec *train = &st->cfg->train;
    const struct { const char *name; bool written; } optional_files[] = {
        {"trace.csv", train->trace.activation[0] != '\0'}, {"series.csv", logs_series(train)},
        {NL_TB_RUN_FILE, train->log_tensorboard}};
    for (size_t i = 0; i < sizeof optional_files / sizeof optional_files[0]; i++) {
        nl_path_join(path, sizeof path, st->dir, optional_files[i].name);
        if (!optional_files[i].written && unlink(path) != 0 && errno != ENOENT)
            return nl_fail(err, NL_ERR_IO, "cannot remove the old %s: %s", path, strerror(errno));
    }
    return NL_OK;
}

static const char *const series_columns[] = {"step", "series", "layer", "name", "value"};
enum { N_SERIES_COLUMNS = sizeof series_columns / sizeof series_columns[0] };

/* the grad_norm column only with train.clip_grad_norm */
static int metric_column_count(const nl_train_spec *train)
{
    return train->clip_grad_norm > 0.0f ? 8 : 7;
}

/* a resumed run's outputs, cut back to the rows its checkpoint counted */
static nl_code continue_outputs(run_state *st, nl_error *err)
{
    const nl_train_spec *train = &st->cfg->train;
    const nl_checkpoint_files *files = &st->resume_files;
    char path[1100];
    nl_path_join(path, sizeof path, st->dir, "metrics.csv");
    nl_code rc = nl_csv_continue(&st->metrics, path, metric_column_count(train),
                                 files->metrics_bytes, err);
    nl_path_join(path, sizeof path, st->dir, "trace.csv");
    if (rc == NL_OK && train->trace.activation[0])
        rc = nl_csv_continue(&st->trace, path, train->trace.n_percentiles + 1, files->trace_bytes,
                             err);
    nl_path_join(path, sizeof path, st->dir, "series.csv");
    if (rc == NL_OK && logs_series(train))
        rc = nl_csv_continue(&st->series, path, N_SERIES_COLUMNS, files->series_bytes, err);
    return rc;
}

/* a fresh run's outputs, with their header rows */
static nl_code open_outputs(run_state *st, nl_error *err)
{
    const nl_train_spec *train = &st->cfg->train;
    char path[1100];
    nl_path_join(path, sizeof path, st->dir, "metrics.csv");
    nl_code rc = nl_csv_open(&st->metrics, path, metric_columns, metric_column_count(train), err);
    nl_path_join(path, sizeof path, st->dir, "series.csv");
    if (rc == NL_OK && logs_series(train))
        rc = nl_csv_open(&st->series, path, series_columns, N_SERIES_COLUMNS, err);
    if (rc || !train->trace.activation[0])
        return rc;
    char columns[NL_MAX_PERCENTILES + 1][16];
    const char *names[NL_MAX_PERCENTILES + 1] = {"step"};
    for (int i = 0; i < train->trace.n_percentiles; i++) {
        snprintf(columns[i], sizeof columns[i], "p%g", train->trace.percentiles[i]);
        names[i + 1] = columns[i];
    }
    nl_path_join(path, sizeof path, st->dir, "trace.csv");
    return nl_csv_open(&st->trace, path, names, train->trace.n_percentiles + 1, err);
}

/* train.log.tensorboard: the event file starts over from the CSV files as
 * they stand (a resumed run's cut back to its checkpoint), so that it holds
 * what they hold, then grows with them */
static nl_code open_tensorboard(run_state *st, nl_error *err)
{
    nl_tb_bytes start = {0};
    long n = 0;
    nl_code rc = NL_OK;
    if (st->found == NL_CHECKPOINT_LOADED)
        rc = nl_tb_run_events(st->dir, wall_now(), &start, &n, NULL, err);
    else
        nl_tb_version_event(&start, wall_now());
    if (rc == NL_OK)
        rc = nl_tb_writer_open(&st->tensorboard, st->dir, &start, err);
    nl_tb_bytes_free(&start);
    return rc;
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
    if (rc == NL_OK)
        rc = remove_stale_files(st, err);
    if (rc == NL_OK && st->found != NL_CHECKPOINT_LOADED)
        rc = remove_replaced_evals(st, out, err);
    if (rc == NL_OK)
        rc = write_config(st, err);
    if (rc == NL_OK) {
        nl_train_result running;
        nl_train_result_start(&running);
        rc = write_summary(st, &running, err);
    }
    if (rc == NL_OK)
        rc = st->found == NL_CHECKPOINT_LOADED ? continue_outputs(st, err) : open_outputs(st, err);
    if (rc == NL_OK && st->cfg->train.log_tensorboard)
        rc = open_tensorboard(st, err);
    return rc;
}

/* Under MPI: every rank takes the checkpoint rank 0 found (or none) */
static nl_code share_resume(run_state *st, nl_error *err)
{
    bool loaded = st->found == NL_CHECKPOINT_LOADED;
    nl_code rc = nl_checkpoint_share(st->dist, st->config_keys.data, st->model, &st->resume,
                                     &st->resume_files, &st->resume_order, &loaded, err);
    if (rc == NL_OK && loaded)
        st->found = NL_CHECKPOINT_LOADED;
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
    const nl_train_state *resume = st->found == NL_CHECKPOINT_LOADED ? &st->resume : NULL;
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
    nl_csv_close(&st->metrics, &close_err);
    nl_csv_close(&st->trace, &close_err);
    nl_csv_close(&st->series, &close_err);
    nl_tb_writer_close(&st->tensorboard, &close_err);
    if (rc == NL_OK && close_err.code != NL_OK) {
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
    free(st->resume_order);
    free(st->config_text);
    nl_flat_free(&st->config_flat);
    nl_buf_free(&st->config_keys);
    nl_csv_close(&st->metrics, &(nl_error){0});
    nl_csv_close(&st->trace, &(nl_error){0});
    nl_csv_close(&st->series, &(nl_error){0});
    nl_tb_writer_close(&st->tensorboard, &(nl_error){0});
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
    st->metrics.fd = st->trace.fd = st->series.fd = -1;
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
