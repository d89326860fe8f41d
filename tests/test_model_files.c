// ctest-labels: cpu
/* The files a run keeps its model in (final.nlck, checkpoint.nlck) and the
 * summary.json that says whether a run finished.
 *
 * Every byte of a model file is under its checksum: a final model and a
 * checkpoint of a small model, each byte flipped in turn (two ways), are
 * refused with NL_ERR_DATA naming the file and leave the model they were
 * read into as it was (and `show` notes no step of such a checkpoint); so
 * is the file cut at every length of its header and at lengths in its
 * payload; the untouched file reads back. The
 * formats from before the checksum covered the header (final model 1,
 * checkpoint 5) still read.
 *
 * One verdict on summary.json: cut at every length, `show` calls it torn
 * and `eval` and a config's init.from refuse it with exit 2 naming it,
 * nothing written. */
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "config/config.h"
#include "log/files.h"
#include "model/model.h"
#include "results/summary.h"
#include "testutil.h"
#include "train/check.h"
#include "train/checkpoint.h"
#include "train/final_model.h"

/* batch norm with cumulative running statistics (a layer counter) and
 * AdamW's moments: every array kind a model file holds */
static const char *const model_config =
    "name: files\n"
    "data: {dataset: synthetic, shape: [6], classes: 3, train_size: 32, test_size: 8}\n"
    "model: {arch: mlp, widths: [5], norm: {type: batch, momentum: cumulative}}\n"
    "train: {batch_size: 8, steps: 4, optimizer: {type: adamw, lr: 0.01}}\n";

enum { ORDER_N = 32, STEP = 7, HEADER = NL_CHECKPOINT_HEADER_BYTES };

typedef enum { FINAL_MODEL, CHECKPOINT, N_KINDS } file_kind;
static const char *const kind_files[N_KINDS] = {NL_FINAL_MODEL_FILE, NL_CHECKPOINT_FILE};

/* a model of model_config, its config keys, and a directory to write in */
typedef struct {
    nl_config cfg;
    nl_backend *be;
    nl_model *written, *reader; /* the one written, and one of other values read into */
    nl_flat flat;
    nl_buf keys;
    nl_checkpoint_want want;
    char dir[400], path[600];
    int32_t order[ORDER_N];
} fixture;

static float *arena_copy(const nl_model *m, const float *arena, size_t n)
{
    float *out = malloc(n * sizeof *out + 1);
    ck_assert_ptr_nonnull(out);
    m->be->ops->download(m->be, out, arena, n * sizeof *out);
    return out;
}

static void fixture_open(fixture *f, file_kind kind)
{
    memset(f, 0, sizeof *f);
    nl_error err = {0};
    ck_assert_msg(nl_config_load_string(model_config, "files.yaml", NULL, 0, &f->cfg, &err) == NL_OK,
                  "%s", err.msg);
    f->be = tu_cpu(1);
    nl_model_spec spec;
    nl_run_model_spec(&f->cfg, &spec);
    ck_assert_msg(nl_model_create(&spec, f->be, 8, 8, 1, &f->written, &err) == NL_OK, "%s", err.msg);
    ck_assert_msg(nl_model_create(&spec, f->be, 8, 8, 2, &f->reader, &err) == NL_OK, "%s", err.msg);
    /* values of their own in every array, so that a load would show */
    for (int which = 0; which < 2; which++) {
        nl_model *m = which ? f->reader : f->written;
        const size_t n = m->param_floats + m->param_floats * (size_t)m->spec.optimizer_state_slots +
                         m->state_floats;
        float *v = malloc(n * sizeof *v);
        ck_assert_ptr_nonnull(v);
        tu_fill_normal(v, n, 10 + (uint64_t)which, 0.0f, 1.0f);
        f->be->ops->upload(f->be, m->param_arena, v, m->param_floats * sizeof *v);
        const size_t optim = m->param_floats * (size_t)m->spec.optimizer_state_slots;
        f->be->ops->upload(f->be, m->optim_arena, v + m->param_floats, optim * sizeof *v);
        f->be->ops->upload(f->be, m->state_arena, v + m->param_floats + optim,
                           m->state_floats * sizeof *v);
        free(v);
        for (int i = 0; i < m->n_counters; i++)
            *m->counters[i] = 3 + which;
    }
    ck_assert_int_gt(f->written->n_counters, 0);
    ck_assert_int_gt((int)f->written->state_floats, 0);
    char *text = NULL;
    ck_assert_msg(nl_checkpoint_config(&f->cfg, NL_DEVICE_CPU, &text, &f->flat, &f->keys, &err) == NL_OK,
                  "%s", err.msg);
    f->want = (nl_checkpoint_want){nl_checkpoint_hash(f->keys.data, f->keys.len),
                                   nl_checkpoint_hash(text, strlen(text))};
    free(text);
    tu_tmp_make("model-files");
    snprintf(f->dir, sizeof f->dir, "%s/run", tu_tmp);
    ck_assert_int_eq(nl_make_dirs(f->dir, &err), NL_OK);
    snprintf(f->path, sizeof f->path, "%s/%s", f->dir, kind_files[kind]);
    for (int i = 0; i < ORDER_N; i++)
        f->order[i] = (i * 7 + 3) % ORDER_N; /* a permutation: 7 and 32 are coprime */
}

static void fixture_close(fixture *f)
{
    nl_model_free(f->written);
    nl_model_free(f->reader);
    nl_backend_close(f->be);
    nl_flat_free(&f->flat);
    nl_buf_free(&f->keys);
}

/* a state the training loop could have written at step STEP */
static nl_train_state state_of(const fixture *f)
{
    nl_train_state s = {0};
    s.step = STEP;
    s.window_steps = 1;
    s.evaluations = 1;
    s.data_epoch = 1;
    s.data_pos = 24;
    s.data_n = ORDER_N;
    s.lr = 0.01;
    s.elapsed_s = 1.5;
    s.train_s = 1.0;
    s.eval_s = 0.25;
    s.ranks = 1;
    nl_rng_seed(&s.data_rng, 5, 1);
    s.data_order = f->order;
    return s;
}

/* writes the model file of `kind` from f->written and returns its bytes */
static char *write_model_file(fixture *f, file_kind kind, size_t *len)
{
    nl_error err = {0};
    if (kind == FINAL_MODEL) {
        ck_assert_msg(nl_final_model_write(f->dir, f->keys.data, f->written, STEP, &err) == NL_OK,
                      "%s", err.msg);
    } else {
        const nl_train_state s = state_of(f);
        const nl_checkpoint_files files = {.metrics_bytes = 100, .trace_bytes = 0, .series_bytes = 0};
        ck_assert_msg(nl_checkpoint_write(f->dir, f->keys.data, f->written, &s, &files, &err) == NL_OK,
                      "%s", err.msg);
    }
    char *text = NULL;
    ck_assert_int_eq(nl_read_file(f->path, &text, len, &err), NL_OK);
    return text;
}

/* a new file, not the old one truncated (which ext4 flushes on close):
 * the test writes thousands */
static void put_file(const char *path, const char *bytes, size_t n)
{
    unlink(path);
    FILE *out = fopen(path, "wb");
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(fwrite(bytes, 1, n, out), n);
    ck_assert_int_eq(fclose(out), 0);
}

/* the byte at `at` of the file rewritten in place */
static void poke(const char *path, size_t at, char byte)
{
    const int fd = open(path, O_WRONLY | O_CLOEXEC);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(pwrite(fd, &byte, 1, (off_t)at), 1);
    ck_assert_int_eq(close(fd), 0);
}

/* the model file of `kind` read into f->reader: what the reader returns */
static nl_code read_model_file(fixture *f, file_kind kind, int64_t *step, nl_error *err)
{
    if (kind == FINAL_MODEL) {
        nl_final_model_info info = {0};
        const nl_code rc = nl_final_model_read(f->dir, &f->flat, f->reader, &info, err);
        *step = info.step;
        return rc;
    }
    nl_train_state s;
    nl_checkpoint_files files;
    int32_t *order = NULL;
    nl_checkpoint_found found = NL_CHECKPOINT_NONE;
    nl_checkpoint_origin origin;
    const nl_code rc = nl_checkpoint_read(f->dir, &f->want, f->reader, &s, &files, &order, &found,
                                          &origin, err);
    if (rc == NL_OK) {
        ck_assert_int_eq(found, NL_CHECKPOINT_LOADED);
        ck_assert_mem_eq(order, f->order, sizeof f->order);
        *step = s.step;
    }
    free(order);
    return rc;
}

/* the reader's arrays and counters as they are now */
typedef struct {
    float *params, *optim, *state;
    long counters[16];
} snapshot;

static snapshot snap(const nl_model *m)
{
    snapshot s = {arena_copy(m, m->param_arena, m->param_floats),
                  arena_copy(m, m->optim_arena, m->param_floats * (size_t)m->spec.optimizer_state_slots),
                  arena_copy(m, m->state_arena, m->state_floats),
                  {0}};
    ck_assert_int_le(m->n_counters, 16);
    for (int i = 0; i < m->n_counters; i++)
        s.counters[i] = *m->counters[i];
    return s;
}

static bool same_snapshot(const nl_model *m, const snapshot *a, const snapshot *b, bool optim)
{
    const size_t n_optim = m->param_floats * (size_t)m->spec.optimizer_state_slots;
    return !memcmp(a->params, b->params, m->param_floats * sizeof(float)) &&
           (!optim || !memcmp(a->optim, b->optim, n_optim * sizeof(float))) &&
           !memcmp(a->state, b->state, m->state_floats * sizeof(float)) &&
           !memcmp(a->counters, b->counters, sizeof a->counters);
}

static void snapshot_free(snapshot *s)
{
    free(s->params);
    free(s->optim);
    free(s->state);
}

/* refused as damaged: NL_ERR_DATA naming the file and holding `fragment`,
 * the reader's model as it was */
static void expect_refused(fixture *f, file_kind kind, const snapshot *before, const char *what,
                           const char *fragment)
{
    nl_error err = {0};
    int64_t step = -1;
    const nl_code rc = read_model_file(f, kind, &step, &err);
    ck_assert_msg(rc == NL_ERR_DATA && strstr(err.msg, f->path) && strstr(err.msg, fragment),
                  "%s %s: code %d (step %lld), want %d naming the file and '%s': %s",
                  kind_files[kind], what, (int)rc, (long long)step, (int)NL_ERR_DATA, fragment, err.msg);
    snapshot after = snap(f->reader);
    ck_assert_msg(same_snapshot(f->reader, before, &after, true), "%s %s: the refused read changed the model",
                  kind_files[kind], what);
    snapshot_free(&after);
}

/* Every byte of each kind of file flipped in turn, XOR 0x01 and XOR 0xFF
 * (a low bit, and every bit of the byte): the files of this model are a
 * few kilobytes (most of it the config keys), so every byte is tried
 * rather than a stride (~10 ms a thousand reads here). CRC-32 detects any
 * change confined to 32 consecutive bits, so no flip may get through. */
START_TEST(test_every_byte_flip_refused)
{
    const file_kind kind = (file_kind)_i;
    fixture f;
    fixture_open(&f, kind);
    size_t len = 0;
    char *file = write_model_file(&f, kind, &len);
    uint32_t version;
    memcpy(&version, file + 8, 4);
    ck_assert_uint_eq(version, kind == FINAL_MODEL ? NL_FINAL_MODEL_VERSION : NL_CHECKPOINT_VERSION);
    snapshot before = snap(f.reader);
    static const unsigned char masks[] = {0x01, 0xFF};
    char what[64], fragment[128];
    put_file(f.path, file, len);
    for (size_t at = 0; at < len; at++) {
        for (size_t k = 0; k < sizeof masks; k++) {
            file[at] ^= (char)masks[k];
            poke(f.path, at, file[at]);
            snprintf(what, sizeof what, "byte %zu of %zu ^ 0x%02x", at, len, masks[k]);
            /* the header's fields each say what they are; every other
             * change is the checksum's */
            uint32_t flipped_version;
            memcpy(&flipped_version, file + 8, 4);
            const uint32_t newest = kind == FINAL_MODEL ? NL_FINAL_MODEL_VERSION : NL_CHECKPOINT_VERSION;
            if (at < 8)
                snprintf(fragment, sizeof fragment, "not a normlab");
            else if (at < 12 && flipped_version > newest)
                snprintf(fragment, sizeof fragment, "format %u, but this normlab reads formats 1 to %u",
                         flipped_version, newest);
            else if (at >= 12 && at < 16)
                snprintf(fragment, sizeof fragment, "its header says it is");
            else if (at >= 16 && at < 24)
                snprintf(fragment, sizeof fragment, "truncated or extended");
            else
                snprintf(fragment, sizeof fragment, "checksum does not match");
            expect_refused(&f, kind, &before, what, fragment);
            /* nor does `show` note the step of a damaged checkpoint */
            if (kind == CHECKPOINT)
                ck_assert_msg(nl_checkpoint_step(f.dir) == -1, "%s: nl_checkpoint_step %ld", what,
                              nl_checkpoint_step(f.dir));
            file[at] ^= (char)masks[k];
        }
        poke(f.path, at, file[at]);
    }
    /* the file as written reads back: the written model's arrays */
    nl_error err = {0};
    int64_t step = -1;
    ck_assert_msg(read_model_file(&f, kind, &step, &err) == NL_OK, "%s: %s", kind_files[kind], err.msg);
    ck_assert_int_eq(step, STEP);
    if (kind == CHECKPOINT)
        ck_assert_int_eq(nl_checkpoint_step(f.dir), STEP);
    snapshot loaded = snap(f.reader), want = snap(f.written);
    /* a final model holds no optimizer state */
    ck_assert_msg(same_snapshot(f.reader, &want, &loaded, kind == CHECKPOINT), "%s read back other arrays",
                  kind_files[kind]);
    snapshot_free(&loaded);
    snapshot_free(&want);
    snapshot_free(&before);
    free(file);
    fixture_close(&f);
    tu_tmp_remove();
}
END_TEST

/* Cut at every length of its header (0 to 48 bytes) and at lengths inside
 * the payload: in the config keys, in each array's region (the payload's
 * first, middle and last bytes) and one byte short: refused, naming the
 * file, the model as it was. */
START_TEST(test_every_cut_refused)
{
    const file_kind kind = (file_kind)_i;
    fixture f;
    fixture_open(&f, kind);
    size_t len = 0;
    char *file = write_model_file(&f, kind, &len);
    snapshot before = snap(f.reader);
    size_t cuts[HEADER + 1 + 6];
    size_t n = 0;
    for (size_t at = 0; at <= HEADER; at++)
        cuts[n++] = at;
    const size_t payload = len - HEADER;
    const size_t inside[] = {HEADER + 1, HEADER + 8, HEADER + payload / 4, HEADER + payload / 2,
                             HEADER + 3 * payload / 4, len - 1};
    for (size_t i = 0; i < sizeof inside / sizeof inside[0]; i++)
        cuts[n++] = inside[i];
    char what[64];
    for (size_t i = 0; i < n; i++) {
        put_file(f.path, file, cuts[i]);
        snprintf(what, sizeof what, "cut to %zu of %zu bytes", cuts[i], len);
        expect_refused(&f, kind, &before, what, cuts[i] < HEADER ? "shorter than a" : "truncated");
    }
    snapshot_free(&before);
    free(file);
    fixture_close(&f);
    tu_tmp_remove();
}
END_TEST

/* The formats from before the checksum covered every byte (final model 1,
 * checkpoint 5: the same layout, the CRC over the payload alone) are read
 * as before, to the same arrays. */
START_TEST(test_older_format_reads)
{
    const file_kind kind = (file_kind)_i;
    fixture f;
    fixture_open(&f, kind);
    size_t len = 0;
    char *file = write_model_file(&f, kind, &len);
    const uint32_t old = kind == FINAL_MODEL ? NL_FINAL_MODEL_WHOLE_CRC_VERSION - 1
                                             : NL_CHECKPOINT_WHOLE_CRC_VERSION - 1;
    memcpy(file + 8, &old, 4);
    if (kind == CHECKPOINT) {
        /* the state fields added since (format 7's rank count, the state's
         * last) go: the older format's state ends before them */
        const size_t kept_end = HEADER + nl_train_state_bytes(old);
        const size_t added = nl_train_state_bytes(NL_CHECKPOINT_VERSION) - nl_train_state_bytes(old);
        memmove(file + kept_end, file + kept_end + added, len - kept_end - added);
        len -= added;
        /* and format 8's convolution library and 9's product library,
         * after the output lengths, the thread count and the kernel set */
        const size_t conv_at = kept_end + 4 * 8 + NL_CHECKPOINT_KERNELS_BYTES;
        const size_t libraries = NL_CHECKPOINT_CONV_BYTES + NL_CHECKPOINT_PRODUCTS_BYTES;
        memmove(file + conv_at, file + conv_at + libraries, len - conv_at - libraries);
        len -= libraries;
        const uint64_t payload = len - HEADER;
        memcpy(file + 16, &payload, 8);
    }
    const uint64_t crc = nl_checkpoint_file_crc(file, len, false);
    memcpy(file + NL_CHECKPOINT_CRC_AT, &crc, 8);
    put_file(f.path, file, len);
    nl_error err = {0};
    int64_t step = -1;
    ck_assert_msg(read_model_file(&f, kind, &step, &err) == NL_OK, "%s format %u: %s", kind_files[kind],
                  old, err.msg);
    ck_assert_int_eq(step, STEP);
    snapshot loaded = snap(f.reader), want = snap(f.written);
    ck_assert_msg(same_snapshot(f.reader, &want, &loaded, kind == CHECKPOINT),
                  "%s format %u read back other arrays", kind_files[kind], old);
    snapshot_free(&loaded);
    snapshot_free(&want);
    /* the newest format's whole-file checksum is not an old one's */
    const uint64_t whole = nl_checkpoint_file_crc(file, len, true);
    memcpy(file + NL_CHECKPOINT_CRC_AT, &whole, 8);
    put_file(f.path, file, len);
    snapshot before = snap(f.reader);
    expect_refused(&f, kind, &before, "an old format with the new checksum", "checksum does not match");
    snapshot_free(&before);
    free(file);
    fixture_close(&f);
    tu_tmp_remove();
}
END_TEST

/* what `normlab ARGS` printed holds `fragment`; its exit status */
static int normlab_says(const char *args, const char *fragment, const char *what)
{
    const int rc = tu_normlab(args);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, fragment), "%s: normlab %s (exit %d): no '%s' in:\n%s", what, args, rc,
                  fragment, out);
    free(out);
    return rc;
}

/* summary.json cut at every length: one verdict (nl_summary_read) on every
 * surface. Torn until its closing brace: `show` says torn, `eval` and a
 * config's init.from refuse it with exit 2 naming the file (eval records
 * nothing, the run no directory), as nl_final_model_check_run (what both
 * call) does; from the brace on (the newline after it is not needed) the
 * run is ok again. The verdict and nl_final_model_check_run are checked at
 * every length; the three commands at every 16th and at the brace: every
 * length through the binary took 40 s of CPU (3,300 processes), and what
 * they add is that each asks the one function. The status sits in the
 * first 40 bytes, so nearly every cut says "ok" in what is left. */
START_TEST(test_summary_cut_everywhere)
{
    tu_tmp_make("summary-cut");
    tu_tmp_write("files.yaml", model_config);
    nl_buf ft = {0};
    nl_buf_printf(&ft, "%sinit: {from: r}\n", model_config);
    tu_tmp_write("ft.yaml", ft.data);
    nl_buf_free(&ft);
    ck_assert_int_eq(tu_normlab("run files.yaml --out r --quiet --threads 1"), 0);
    char *whole = tu_tmp_read("r/summary.json");
    const size_t len = strlen(whole);
    const char *brace = strrchr(whole, '}');
    ck_assert_ptr_nonnull(brace);
    const size_t whole_from = (size_t)(brace - whole) + 1;
    char dir[400], eval_dir[400], ft_dir[400], fragment[PATH_MAX + 64];
    snprintf(dir, sizeof dir, "%s/r", tu_tmp);
    snprintf(eval_dir, sizeof eval_dir, "%s/r/eval", tu_tmp);
    snprintf(ft_dir, sizeof ft_dir, "%s/f", tu_tmp);
    for (size_t n = 0; n <= len; n++) {
        char *cut = strndup(whole, n);
        ck_assert_ptr_nonnull(cut);
        tu_tmp_write("r/summary.json", cut);
        free(cut);
        char what[96];
        snprintf(what, sizeof what, "summary.json cut to %zu of %zu bytes", n, len);
        const bool torn = n < whole_from;
        const nl_summary_verdict verdict = nl_summary_read(dir, NULL);
        ck_assert_msg(verdict == (torn ? NL_SUMMARY_TORN : NL_SUMMARY_OK), "%s: verdict %s", what,
                      nl_summary_verdict_name(verdict));
        nl_error err = {0};
        const nl_code rc = nl_final_model_check_run(dir, &err);
        ck_assert_msg(torn ? rc == NL_ERR_DATA && strstr(err.msg, "r/summary.json is torn") : rc == NL_OK,
                      "%s: nl_final_model_check_run: %d %s", what, (int)rc, err.msg);
        if (n % 16 != 0 && n + 1 != whole_from && n != whole_from)
            continue;
        if (!torn) {
            ck_assert_int_eq(normlab_says("show r", "r: ok, 4 steps", what), 0);
            continue;
        }
        ck_assert_int_eq(normlab_says("show r", "r: summary.json is torn", what), 0);
        ck_assert_int_eq(normlab_says("eval r --threads 1", "r/summary.json is torn", what), 2);
        /* init.from is named as recorded: absolute, the directory's links resolved */
        char real_tmp[PATH_MAX];
        ck_assert(realpath(tu_tmp, real_tmp));
        snprintf(fragment, sizeof fragment, "init.from: %s/r/summary.json is torn", real_tmp);
        ck_assert_int_eq(normlab_says("run ft.yaml --out f --threads 1", fragment, what), 2);
        ck_assert_msg(!nl_path_exists(eval_dir) && !nl_path_exists(ft_dir), "%s: something was written",
                      what);
    }
    free(whole);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("model_files");
    TCase *bytes = tcase_create("bytes");
    tcase_add_loop_test(bytes, test_every_byte_flip_refused, 0, N_KINDS);
    tcase_add_loop_test(bytes, test_every_cut_refused, 0, N_KINDS);
    tcase_add_loop_test(bytes, test_older_format_reads, 0, N_KINDS);
    suite_add_tcase(s, bytes);
    TCase *summary = tcase_create("summary");
    tcase_add_test(summary, test_summary_cut_everywhere);
    suite_add_tcase(s, summary);
    return tu_run_suite(s);
}
