#include "testutil.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <unistd.h>

#include "arch/arch.h"
#include "plan/plan.h"
#include "base/rng.h"
#include "cpu/cpu.h"
#include "log/files.h"
#include "model/model.h"
#include "norm/registry.h"
#include "train/check.h"
#include "train/device_data.h"
#include "train/train.h"

nl_backend *tu_onednn_blocked_cpu(void)
{
    static nl_backend *be;
    static bool tried;
    if (!tried) {
        tried = true;
        setenv("NORMLAB_CONV", "onednn", 1);
        nl_error err = {0};
        const nl_backend_options opt = {.threads = 2};
        if (nl_backend_open(NL_DEVICE_CPU, &opt, &be, &err) != NL_OK)
            be = NULL;
        unsetenv("NORMLAB_CONV");
    }
    return be && be->ops->conv_block(be) ? be : NULL;
}

nl_backend *tu_cpu(int threads)
{
    /* one backend per team size, kept for the process: a check that loops
     * over thread counts runs each pass on the team it names (one backend
     * for every call ran them all on the first call's team) */
    enum { MOST = 1024 };
    static nl_backend *by_team[MOST + 1];
    /* 0: every core, not the run's load-dependent choice, so that a test
     * exercises the same team whatever runs beside it */
    const int team = threads > 0 ? threads : omp_get_num_procs();
    ck_assert_msg(team <= MOST, "tu_cpu: %d threads, at most %d", team, MOST);
    if (!by_team[team]) {
        nl_error err = {0};
        const nl_backend_options opt = {.threads = team};
        ck_assert_msg(nl_backend_open(NL_DEVICE_CPU, &opt, &by_team[team], &err) == NL_OK, "%s",
                      err.msg);
    }
    return by_team[team];
}

char *tu_check_generated_section(const char *path, const char *begin_marker,
                                 const char *end_marker, void (*write)(FILE *out),
                                 const char *what)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    const long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *text = malloc((size_t)n + 1);
    ck_assert_int_eq(fread(text, 1, (size_t)n, f), (size_t)n);
    text[n] = '\0';
    fclose(f);
    char *begin = strstr(text, begin_marker), *end = strstr(text, end_marker);
    ck_assert_msg(begin && end && end > begin, "%s lacks the markers of %s", path, what);
    begin += strlen(begin_marker);
    char *generated = NULL;
    size_t size = 0;
    FILE *mem = open_memstream(&generated, &size);
    write(mem);
    fclose(mem);
    const bool same = (size_t)(end - begin) == size && !memcmp(begin, generated, size);
    if (!same && getenv("NL_UPDATE_README")) {
        FILE *out = fopen(path, "wb");
        ck_assert_ptr_nonnull(out);
        fwrite(text, 1, (size_t)(begin - text), out);
        fwrite(generated, 1, size, out);
        fputs(end, out);
        fclose(out);
    } else {
        ck_assert_msg(same, "%s in %s is out of date; rerun this test with NL_UPDATE_README=1 "
                            "to regenerate it", what, path);
    }
    free(generated);
    return text;
}

int tu_ops_misfilled(const nl_ops *ops, nl_device device, char *report, size_t size)
{
    const bool cuda = device == NL_DEVICE_CUDA;
    const struct {
        const char *op;
        bool filled, listed; /* listed: backend_ops.def gives the op to this backend */
    } slots[] = {
#define NL_OP(backends, ret, op, params)                                                           \
    {#op, ops->op != NULL, cuda ? NL_OP_ON_CUDA_##backends : NL_OP_ON_CPU_##backends},
#include "backend/backend_ops.def"
    };
    int misfilled = 0;
    size_t used = 0;
    report[0] = '\0';
    for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++) {
        if (slots[i].filled == slots[i].listed)
            continue;
        misfilled++;
        if (used < size)
            used += (size_t)snprintf(report + used, size - used, "%s%s (%s)",
                                     misfilled > 1 ? ", " : "", slots[i].op,
                                     slots[i].filled ? "filled, not listed for this backend"
                                                     : "empty");
    }
    return misfilled;
}

void tu_fill_normal(float *x, size_t n, uint64_t seed, float mean, float std)
{
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_TEST);
    for (size_t i = 0; i < n; i++)
        x[i] = mean + std * (float)nl_rng_normal(&rng);
}

void tu_fill_uniform(float *x, size_t n, uint64_t seed, float lo, float hi)
{
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_TEST);
    for (size_t i = 0; i < n; i++)
        x[i] = lo + (hi - lo) * nl_rng_uniform(&rng);
}

double tu_norm_err(const float *got, const float *want, size_t n)
{
    double max_diff = 0.0, max_ref = 0.0;
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got[i] - (double)want[i]);
        if (!(d <= max_diff)) /* NaN counts as failure */
            max_diff = isnan(d) ? INFINITY : d;
        if (fabs(want[i]) > max_ref)
            max_ref = fabs(want[i]);
    }
    if (max_ref < 1e-30)
        return max_diff;
    return max_diff / max_ref;
}

static int read_u32(FILE *f, uint32_t *v) { return fread(v, sizeof *v, 1, f) == 1; }

/* NULL with the reason in why when the file is missing or corrupt */
tu_fixture *tu_fixture_read(const char *file, char *why, size_t size)
{
    tu_fixture *fx = calloc(1, sizeof *fx);
    snprintf(fx->path, sizeof fx->path, "%s/tests/fixtures/%s", NORMLAB_SOURCE_DIR, file);
    FILE *f = fopen(fx->path, "rb");
    if (!f) {
        snprintf(why, size, "cannot open fixture %s (generate with tests/golden/make_goldens.py)",
                 fx->path);
        free(fx);
        return NULL;
    }
    char magic[4];
    uint32_t version = 0, count = 0;
    const char *bad = NULL;
    if (fread(magic, 1, 4, f) != 4 || memcmp(magic, "NLFX", 4) != 0)
        bad = "not a fixture file";
    else if (!read_u32(f, &version) || version != 1)
        bad = "not version 1";
    else if (!read_u32(f, &count) || count >= 100000)
        bad = "bad tensor count";
    if (!bad) {
        fx->tensors = calloc(count, sizeof *fx->tensors);
        for (uint32_t i = 0; i < count && !bad; i++, fx->count++) {
            tu_tensor *t = &fx->tensors[i];
            uint32_t len = 0, dtype = 0, ndim = 0;
            if (!read_u32(f, &len) || len >= sizeof t->name || fread(t->name, 1, len, f) != len) {
                bad = "bad tensor name";
                break;
            }
            t->name[len] = '\0';
            if (!read_u32(f, &dtype) || dtype > 1 || !read_u32(f, &ndim) || ndim > 8) {
                bad = "bad tensor header";
                break;
            }
            t->dtype = (int)dtype;
            t->ndim = (int)ndim;
            t->count = 1;
            for (uint32_t d = 0; d < ndim && !bad; d++) {
                uint32_t dim = 0;
                if (!read_u32(f, &dim))
                    bad = "truncated dims";
                t->dims[d] = (int)dim;
                t->count *= dim;
            }
            t->data = malloc(t->count * 4 + 4);
            if (!bad && fread(t->data, 4, t->count, f) != t->count)
                bad = "truncated data";
        }
    }
    fclose(f);
    if (bad) {
        snprintf(why, size, "%s: %s%s%s", fx->path, bad, fx->count ? " at tensor " : "",
                 fx->count ? fx->tensors[fx->count - 1].name : "");
        tu_fixture_free(fx);
        return NULL;
    }
    return fx;
}

tu_fixture *tu_fixture_load(const char *file)
{
    char why[700];
    tu_fixture *fx = tu_fixture_read(file, why, sizeof why);
    ck_assert_msg(fx != NULL, "%s", why);
    return fx;
}

void tu_fixture_free(tu_fixture *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->count; i++)
        free(f->tensors[i].data);
    free(f->tensors);
    free(f);
}

const tu_tensor *tu_find(const tu_fixture *f, const char *name)
{
    for (int i = 0; i < f->count; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

const tu_tensor *tu_get(const tu_fixture *f, const char *name)
{
    const tu_tensor *t = tu_find(f, name);
    ck_assert_msg(t != NULL, "%s: no tensor '%s'", f->path, name);
    return t;
}

const tu_tensor *tu_get_in(const tu_fixture *f, const char *c, const char *what)
{
    char key[200];
    snprintf(key, sizeof key, "%.63s.%.63s", c, what);
    return tu_get(f, key);
}

const float *tu_getf_in(const tu_fixture *f, const char *c, const char *what)
{
    return tu_get_in(f, c, what)->data;
}

const char *tu_get_string(const tu_fixture *f, const char *name, char *buf, size_t size)
{
    const tu_tensor *t = tu_get(f, name);
    ck_assert_msg(t->dtype == 1, "%s: '%s' is not int32 characters", f->path, name);
    size_t k = 0;
    for (; k < t->count && k + 1 < size; k++)
        buf[k] = (char)((const int32_t *)t->data)[k];
    buf[k] = '\0';
    return buf;
}

int tu_fixture_cases(const tu_fixture *f) { return ((const int32_t *)tu_get(f, "cases")->data)[0]; }

const float *tu_getf(const tu_fixture *f, const char *name)
{
    const tu_tensor *t = tu_get(f, name);
    ck_assert_msg(t->dtype == 0, "%s: '%s' is not float32", f->path, name);
    return t->data;
}

float tu_scalar(const tu_fixture *f, const char *name) { return tu_getf(f, name)[0]; }

char tu_tmp[256];

void tu_tmp_make(const char *tag)
{
    snprintf(tu_tmp, sizeof tu_tmp, "/tmp/normlab-%s-XXXXXX", tag);
    ck_assert_msg(mkdtemp(tu_tmp) != NULL, "cannot make a temporary directory");
}

void tu_tmp_write(const char *name, const char *text)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    fputs(text, f);
    fclose(f);
}

char *tu_tmp_read(const char *name)
{
    char path[1024], *text = NULL;
    snprintf(path, sizeof path, "%s/%s", tu_tmp, name);
    nl_error err = {0};
    ck_assert_msg(nl_read_file(path, &text, NULL, &err) == NL_OK, "%s", err.msg);
    return text;
}

const char *tu_normlab_binary(void)
{
    const char *launcher = getenv("NORMLAB_TEST_BINARY");
    return launcher && *launcher ? launcher : NORMLAB_BUILT_BINARY;
}

int tu_normlab(const char *args)
{
    char cmd[4096];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s > out.txt 2>&1", tu_tmp, NORMLAB_BINARY, args);
    const int status = system(cmd);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

pid_t tu_normlab_start(const char *args, const char *out_log, const char *err_log)
{
    const pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        /* a failed check ends the test's process: what it started goes too */
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        setpgid(0, 0);
        const char *err_mode = strcmp(out_log, err_log) ? "w" : "a";
        if (chdir(tu_tmp) != 0 || !freopen(out_log, "w", stdout) || !freopen(err_log, err_mode, stderr))
            _exit(98);
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "exec %s %s", NORMLAB_BINARY, args);
        execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
        _exit(97);
    }
    setpgid(pid, pid);
    return pid;
}

char *tu_normlab_output(void) { return tu_tmp_read("out.txt"); }

void tu_tmp_write_idx(const char *dir, uint32_t n_train, uint32_t n_test, uint32_t train_claim,
                      int bad_label)
{
    const struct {
        const char *name;
        uint32_t magic, n, claim, per, header;
    } files[] = {{"train-images-idx3-ubyte", 0x803, n_train, train_claim, 784, 16},
                 {"train-labels-idx1-ubyte", 0x801, n_train, train_claim, 1, 8},
                 {"t10k-images-idx3-ubyte", 0x803, n_test, n_test, 784, 16},
                 {"t10k-labels-idx1-ubyte", 0x801, n_test, n_test, 1, 8}};
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", tu_tmp, dir);
    ck_assert_int_eq(mkdir(path, 0700), 0);
    for (int f = 0; f < 4; f++) {
        snprintf(path, sizeof path, "%s/%s/%s", tu_tmp, dir, files[f].name);
        FILE *out = fopen(path, "wb");
        ck_assert_ptr_nonnull(out);
        const uint32_t head[4] = {files[f].magic, files[f].claim, 28, 28};
        for (uint32_t i = 0; i < files[f].header / 4; i++)
            for (int b = 3; b >= 0; b--)
                fputc((int)(head[i] >> (8 * b)) & 255, out);
        for (uint32_t i = 0; i < files[f].n * files[f].per; i++) {
            const bool label = files[f].per == 1;
            const bool bad = f == 1 && bad_label >= 0 && i == (uint32_t)bad_label;
            fputc(label ? (bad ? 10 : (int)(i % 10)) : (int)(i & 255), out);
        }
        ck_assert_int_eq(fclose(out), 0);
    }
}

/* whether .gitignore names "/<dir>/" (the user's own sweep directories) */
static bool tu_gitignored(const char *gitignore, const char *dir)
{
    char line[1100];
    snprintf(line, sizeof line, "\n/%s/\n", dir);
    return strstr(gitignore, line) != NULL;
}

static int tu_compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* experiments/NAME.yaml's dry run: its exit status, the sweep directory it
 * names ("sweep results/NAME: N combinations, ...") and its output */
static int tu_dry_run(const char *experiment, char *dir, size_t dir_size, nl_buf *output)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' sweep 'experiments/%s' --dry-run 2>&1",
             NORMLAB_SOURCE_DIR, NORMLAB_BUILT_BINARY, experiment);
    FILE *p = popen(cmd, "r");
    ck_assert(p);
    char line[4096], format[32];
    snprintf(format, sizeof format, "sweep %%%zu[^:]:", dir_size - 1);
    dir[0] = '\0';
    while (fgets(line, sizeof line, p)) {
        if (!dir[0])
            sscanf(line, format, dir);
        nl_buf_printf(output, "%s", line);
    }
    ck_assert(!output->failed);
    return pclose(p);
}

/* the committed sweep names of results/ (a summary.csv that .gitignore
 * does not name), sorted, malloc'd, into names; how many */
static int tu_committed_names(char ***names)
{
    char *gitignore = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(NORMLAB_SOURCE_DIR "/.gitignore", &gitignore, NULL, &err) == NL_OK,
                  "%s", err.msg);
    DIR *d = opendir(NORMLAB_SOURCE_DIR "/results");
    ck_assert(d);
    int count = 0, cap = 0;
    *names = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        char rel[600], summary[1300];
        snprintf(rel, sizeof rel, "results/%s", e->d_name);
        snprintf(summary, sizeof summary, "%s/%s/summary.csv", NORMLAB_SOURCE_DIR, rel);
        if (e->d_name[0] == '.' || !nl_path_exists(summary) || tu_gitignored(gitignore, rel))
            continue;
        if (count == cap) {
            cap = cap ? 2 * cap : 256;
            *names = realloc(*names, (size_t)cap * sizeof **names);
            ck_assert(*names);
        }
        (*names)[count++] = strdup(e->d_name);
    }
    closedir(d);
    free(gitignore);
    qsort(*names, (size_t)count, sizeof **names, tu_compare_names);
    return count;
}

uint64_t tu_sample_hash(const char *seed, const char *name)
{
    uint64_t h = 14695981039346656037ULL;
    for (const char *s = seed; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    h = (h ^ (unsigned char)'/') * 1099511628211ULL;
    for (const char *s = name; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

bool tu_committed_all(void)
{
    const char *all = getenv("NL_COMMITTED_SWEEPS");
    return all && !strcmp(all, "all");
}

typedef struct {
    uint64_t hash;
    const char *name;
} tu_hashed_name;

static int tu_compare_hashed(const void *a, const void *b)
{
    const tu_hashed_name *x = a, *y = b;
    return x->hash < y->hash ? -1 : x->hash > y->hash ? 1 : strcmp(x->name, y->name);
}

/* the runs results/NAME/summary.csv lists (its lines but the header) */
static int tu_summary_runs(const char *name)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/results/%s/summary.csv", NORMLAB_SOURCE_DIR, name);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "%s", path);
    int lines = 0, c, last = '\n';
    while ((c = fgetc(f)) != EOF) {
        lines += c == '\n';
        last = c;
    }
    fclose(f);
    return lines + (last != '\n') - 1;
}

int tu_committed_sample(char names[][256])
{
    char **all = NULL;
    const int count = tu_committed_names(&all);
    tu_hashed_name *order = calloc((size_t)count + 1, sizeof *order);
    ck_assert(order);
    for (int i = 0; i < count; i++)
        order[i] = (tu_hashed_name){tu_sample_hash(TU_SAMPLE_SEED, all[i]), all[i]};
    qsort(order, (size_t)count, sizeof *order, tu_compare_hashed);
    int n = 0;
    for (int i = 0; i < count && n < TU_SAMPLE_COUNT; i++)
        if (tu_summary_runs(order[i].name) <= TU_SAMPLE_MAX_RUNS)
            nl_copy_string(names[n++], 256, order[i].name);
    free(order);
    for (int i = 0; i < count; i++)
        free(all[i]);
    free(all);
    return n;
}

/* the names this run reads: all of them or the sample, sorted; how many */
static int tu_chosen_names(char ***names)
{
    if (tu_committed_all())
        return tu_committed_names(names);
    char sample[TU_SAMPLE_COUNT][256];
    const int n = tu_committed_sample(sample);
    *names = calloc((size_t)n + 1, sizeof **names);
    ck_assert(*names);
    for (int i = 0; i < n; i++)
        (*names)[i] = strdup(sample[i]);
    qsort(*names, (size_t)n, sizeof **names, tu_compare_names);
    printf("the committed sweeps' seeded sample (%d of them; NL_COMMITTED_SWEEPS=all reads every one):", n);
    for (int i = 0; i < n; i++)
        printf(" %s", (*names)[i]);
    printf("\n");
    fflush(stdout);
    return n;
}

static bool tu_name_listed(char **names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (!strcmp(names[i], name))
            return true;
    return false;
}

int tu_committed_sweeps(tu_sweep_visit visit, void *ctx)
{
    char *gitignore = NULL;
    nl_error err = {0};
    ck_assert_msg(nl_read_file(NORMLAB_SOURCE_DIR "/.gitignore", &gitignore, NULL, &err) == NL_OK,
                  "%s", err.msg);
    char **chosen = NULL;
    const int n_chosen = tu_chosen_names(&chosen);
    DIR *d = opendir(NORMLAB_SOURCE_DIR "/experiments");
    ck_assert(d);
    char *names[512];
    int count = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const size_t len = strlen(e->d_name);
        if (len < 6 || strcmp(e->d_name + len - 5, ".yaml") != 0)
            continue;
        /* the sample's experiments only: experiments/NAME.yaml writes
         * results/NAME (a dry run of each would read every sweep) */
        char stem[256];
        snprintf(stem, sizeof stem, "%.*s", (int)(len - 5), e->d_name);
        if (!tu_committed_all() && !tu_name_listed(chosen, n_chosen, stem))
            continue;
        ck_assert_int_lt(count, 512);
        names[count++] = strdup(e->d_name);
    }
    closedir(d);
    qsort(names, (size_t)count, sizeof *names, tu_compare_names);
    int visited = 0;
    for (int i = 0; i < count; i++) {
        char dir[1024], summary[1200], path[1200];
        nl_buf output = {0};
        const int status = tu_dry_run(names[i], dir, sizeof dir, &output);
        ck_assert_msg(dir[0], "experiments/%s: no sweep directory in its dry run", names[i]);
        snprintf(path, sizeof path, "%s/%s", NORMLAB_SOURCE_DIR, dir);
        nl_path_join(summary, sizeof summary, path, "summary.csv");
        if (nl_path_exists(summary) && !tu_gitignored(gitignore, dir)) {
            visit(names[i], dir, status, output.data ? output.data : "", ctx);
            visited++;
        }
        nl_buf_free(&output);
        free(names[i]);
    }
    /* every sampled sweep has its experiment */
    ck_assert_msg(tu_committed_all() || visited == n_chosen, "%d of the %d sampled sweeps have an "
                  "experiments/NAME.yaml whose dry run names results/NAME", visited, n_chosen);
    for (int i = 0; i < n_chosen; i++)
        free(chosen[i]);
    free(chosen);
    free(gitignore);
    return visited;
}

int tu_committed_sweep_dirs(tu_dir_visit visit, void *ctx)
{
    char **names = NULL;
    const int n = tu_chosen_names(&names);
    for (int i = 0; i < n; i++) {
        char dir[1200];
        snprintf(dir, sizeof dir, "%s/results/%s", NORMLAB_SOURCE_DIR, names[i]);
        visit(dir, ctx);
        free(names[i]);
    }
    free(names);
    return n;
}

void tu_git(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd '%s' && git -c user.name=t -c user.email=t@t -c commit.gpgsign=false -c init.defaultBranch=main "
             "%s >/dev/null 2>&1",
             tu_tmp, args);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
}

void tu_git_head(char *hash, size_t size, int abbrev)
{
    char cmd[1024], shorten[32] = "";
    if (abbrev > 0)
        snprintf(shorten, sizeof shorten, "--short=%d ", abbrev);
    snprintf(cmd, sizeof cmd, "cd '%s' && git rev-parse %sHEAD >head.txt 2>/dev/null", tu_tmp, shorten);
    ck_assert_msg(system(cmd) == 0, "%s failed", cmd);
    char *text = tu_tmp_read("head.txt");
    text[strcspn(text, "\n")] = '\0';
    nl_copy_string(hash, size, text);
    free(text);
}

void tu_tmp_remove(void)
{
    char cmd[512];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tu_tmp);
    ck_assert_int_eq(system(cmd), 0);
}

int tu_run_suite(Suite *s)
{
    /* CTest runs the numeric suites once per kernel set (label "kernels"),
     * naming it in NORMLAB_CPU_KERNELS: skipped where this CPU cannot run it */
    if (getenv("NORMLAB_CPU_KERNELS")) {
        nl_error err = {0};
        if (nl_cpu_kernels_choose(NULL, &err) != NL_OK) {
            printf("skipped: %s\n", err.msg);
            /* Check frees a suite only with its runner: without this a
             * skipped set was a leak, and the sanitizer labels failed on
             * every CPU that lacks a set (AVX-512 on Zen 3) */
            srunner_free(srunner_create(s));
            return err.code == NL_ERR_UNSUPPORTED ? 77 : 1;
        }
        printf("CPU kernel set: %s\n", nl_cpu_kernels_name());
    }
    SRunner *runner = srunner_create(s);
    srunner_run_all(runner, CK_NORMAL);
    int failed = srunner_ntests_failed(runner);
    srunner_free(runner);
    return failed == 0 ? 0 : 1;
}

double tu_model_mean_loss(nl_model *m, int n)
{
    nl_model_reset_metrics(m);
    nl_model_forward(m, n, NL_MODE_TRAIN_FROZEN);
    double metrics[2];
    nl_model_read_metrics(m, metrics);
    return metrics[0] / ((double)n * m->rows_per_sample);
}

double tu_param_fd_error(nl_model *m, int n, int index, uint64_t seed, float h, double *max_grad)
{
    nl_param *p = m->params[index];
    float *grad = malloc(p->count * sizeof *grad);
    ck_assert_ptr_nonnull(grad);
    memcpy(grad, p->grad, p->count * sizeof *grad);
    nl_rng rng;
    nl_rng_seed(&rng, seed, NL_STREAM_TEST);
    double max_diff = 0.0;
    *max_grad = 1e-6;
    for (int s = 0; s < 8; s++) {
        const size_t k = p->count <= 8 ? (size_t)s % p->count : nl_rng_below(&rng, (uint32_t)p->count);
        const float saved = p->data[k];
        p->data[k] = saved + h;
        const double plus = tu_model_mean_loss(m, n);
        p->data[k] = saved - h;
        const double minus = tu_model_mean_loss(m, n);
        p->data[k] = saved;
        max_diff = fmax(max_diff, fabs((plus - minus) / (2.0 * h) - grad[k]));
        *max_grad = fmax(*max_grad, fabs(grad[k]));
    }
    free(grad);
    return max_diff;
}


/* ---- training from a dataset resident on the backend ---- */

/* per thread: runs may train on several threads at once, each on its own backend */
static _Thread_local const nl_ops *counted_ops;
static _Thread_local long counted_gathers;

static void counting_gather(nl_backend *be, int n, size_t row_words, const int32_t *index,
                            const void *src, void *dst)
{
    counted_gathers++;
    counted_ops->gather_rows(be, n, row_words, index, src, dst);
}

static void counting_gather_windows(nl_backend *be, int n, int t, const int32_t *starts,
                                    const int32_t *src, int32_t *tokens, int32_t *targets)
{
    counted_gathers++;
    counted_ops->gather_windows(be, n, t, starts, src, tokens, targets);
}

typedef struct {
    nl_metric_row *rows;
    int max, n;
} row_sink;

static nl_code keep_row(void *ctx, const nl_metric_row *row, nl_error *err)
{
    (void)err;
    row_sink *s = ctx;
    if (s->n < s->max) {
        s->rows[s->n] = *row;
        s->rows[s->n].elapsed_s = 0.0;
    }
    s->n++;
    return NL_OK;
}

int tu_train_rows_try(nl_backend *be, const char *config_text, tu_train_variant *variant,
                      nl_metric_row *rows, int max, nl_error *err)
{
    const bool resident = variant->resident;
    nl_config *cfg = malloc(sizeof *cfg);
    nl_dataset ds = {0};
    nl_token_dataset tds = {0};
    nl_model *m = NULL;
    nl_device_data dd = {0};
    row_sink kept = {rows, max, 0};
    if (!cfg)
        return nl_fail(err, NL_ERR_NOMEM, "cannot allocate a config"), -1;
    if (nl_config_load_string(config_text, "resident.yaml", NULL, 0, cfg, err) != NL_OK)
        goto done;
    nl_model_spec spec;
    nl_run_model_spec(cfg, &spec);
    cfg->train.cuda_graph = variant->recorded ? NL_CUDA_GRAPH_AUTO : NL_CUDA_GRAPH_OFF;
    const bool tokens = nl_dataset_kind_is_tokens(cfg->data.kind);
    if (tokens) {
        if (nl_token_dataset_load(&cfg->data, (long)spec.context + 1, &tds, err) != NL_OK)
            goto done;
        spec.classes = tds.vocab;
    } else if (nl_dataset_load(&cfg->data, &ds, err) != NL_OK) {
        goto done;
    }
    /* the backend with its gathers counted */
    nl_ops ops = *be->ops;
    ops.gather_rows = counting_gather;
    ops.gather_windows = counting_gather_windows;
    nl_backend counted = *be;
    counted.ops = &ops;
    counted_ops = be->ops;
    counted_gathers = 0;
    if (nl_model_create(&spec, &counted, nl_run_capacity(cfg), cfg->train.batch_size, cfg->seed,
                       &m, err) != NL_OK)
        goto done;
    if (resident) {
        if ((tokens ? nl_device_data_upload_tokens(&dd, &counted, &tds, m->capacity, err)
                    : nl_device_data_upload(&dd, &counted, &ds, m->capacity, err)) != NL_OK)
            goto done;
        m->device_data = &dd;
    }
    nl_train_sink sink = {.ctx = &kept, .metric = keep_row};
    nl_train_result result;
    if ((tokens ? nl_train_tokens(m, &tds, &cfg->train, cfg->seed, &sink, NULL, &result, err)
                : nl_train(m, &ds, &cfg->train, cfg->seed, &sink, NULL, &result, err)) != NL_OK)
        goto done;
    if (result.status != NL_RUN_OK)
        nl_fail(err, NL_ERR_RUNTIME, "the run ended with status %d", (int)result.status);
    else if (kept.n > max)
        nl_fail(err, NL_ERR_RUNTIME, "%d rows logged, more than the %d expected", kept.n, max);
    variant->gathers = counted_gathers;
    variant->replayed_steps = result.replayed_steps;
    variant->steps = result.steps;
done:
    nl_device_data_free(&dd);
    nl_model_free(m);
    nl_dataset_free(&ds);
    nl_token_dataset_free(&tds);
    free(cfg);
    return err->code == NL_OK ? kept.n : -1;
}

int tu_train_rows(nl_backend *be, const char *config_text, tu_train_variant *variant,
                  nl_metric_row *rows, int max)
{
    nl_error err = {0};
    const int n = tu_train_rows_try(be, config_text, variant, rows, max, &err);
    ck_assert_msg(n >= 0, "%s", err.msg);
    return n;
}

void tu_assert_same_rows(const nl_metric_row *want, const nl_metric_row *got, int n,
                         const char *want_name, const char *got_name, int config)
{
    for (int r = 0; r < n; r++) {
        const nl_metric_row *a = &want[r], *b = &got[r];
        ck_assert_msg(a->step == b->step && a->split == b->split &&
                          memcmp(&a->epoch, &b->epoch, sizeof a->epoch) == 0 &&
                          memcmp(&a->loss, &b->loss, sizeof a->loss) == 0 &&
                          memcmp(&a->accuracy, &b->accuracy, sizeof a->accuracy) == 0 &&
                          memcmp(&a->lr, &b->lr, sizeof a->lr) == 0 &&
                          memcmp(&a->grad_norm, &b->grad_norm, sizeof a->grad_norm) == 0,
                      "config %d row %d: step %ld split %d loss %.17g acc %.17g %s, "
                      "step %ld split %d loss %.17g acc %.17g %s", config, r, a->step,
                      a->split, a->loss, a->accuracy, want_name, b->step, b->split, b->loss,
                      b->accuracy, got_name);
    }
}

void tu_assert_resident_repeats_host(nl_backend *be, const char *config_text, int config)
{
    enum { MAX_ROWS = 64 };
    nl_metric_row host[MAX_ROWS], resident[MAX_ROWS];
    tu_train_variant from_host = {.resident = false}, on_device = {.resident = true};
    const int n = tu_train_rows(be, config_text, &from_host, host, MAX_ROWS);
    ck_assert_int_eq(tu_train_rows(be, config_text, &on_device, resident, MAX_ROWS), n);
    ck_assert_int_eq(from_host.gathers, 0);
    ck_assert_msg(on_device.gathers > 0, "the resident run gathered nothing");
    tu_assert_same_rows(host, resident, n, "from the host", "resident", config);
}

void tu_assert_replayed_repeats_direct(nl_backend *be, const char *config_text, int config)
{
    enum { MAX_ROWS = 64 };
    nl_metric_row direct[MAX_ROWS], replayed[MAX_ROWS];
    for (int resident = 0; resident < 2; resident++) {
        tu_train_variant launched = {.resident = resident, .recorded = false};
        tu_train_variant recorded = {.resident = resident, .recorded = true};
        const int n = tu_train_rows(be, config_text, &launched, direct, MAX_ROWS);
        ck_assert_int_eq(tu_train_rows(be, config_text, &recorded, replayed, MAX_ROWS), n);
        ck_assert_int_eq(launched.replayed_steps, 0);
        /* the configs log no series: every step is replayed */
        ck_assert_msg(recorded.replayed_steps == recorded.steps,
                      "config %d: %ld of %ld steps replayed", config, recorded.replayed_steps,
                      recorded.steps);
        tu_assert_same_rows(direct, replayed, n, resident ? "launched, resident" : "launched",
                            resident ? "replayed, resident" : "replayed", config);
    }
}

char *tu_metrics_without_time(const char *run_dir)
{
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.csv", run_dir);
    char *text = tu_tmp_read(path);
    char *w = text;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        const char *last_comma = line;
        for (const char *c = line; c < (end ? end : line + strlen(line)); c++)
            if (*c == ',')
                last_comma = c;
        const size_t keep = (size_t)(last_comma - line);
        memmove(w, line, keep);
        w += keep;
        *w++ = '\n';
        if (!end)
            break;
        line = end + 1;
    }
    *w = '\0';
    return text;
}

void tu_blank_c_comments(char *s, bool blank_literals)
{
    for (char *p = s; *p; p++) {
        if (*p == '"' || *p == '\'') {
            const char q = *p;
            for (p++; *p && *p != q; p++) {
                if (*p == '\\' && p[1]) {
                    if (blank_literals)
                        *p = ' ';
                    p++;
                }
                if (blank_literals && *p != '\n')
                    *p = ' ';
            }
            if (!*p)
                return;
        } else if (p[0] == '/' && p[1] == '/') {
            while (*p && *p != '\n')
                *p++ = ' ';
            p--;
        } else if (p[0] == '/' && p[1] == '*') {
            char *end = strstr(p + 2, "*/");
            char *stop = end ? end + 2 : p + strlen(p);
            for (; p < stop; p++)
                if (*p != '\n')
                    *p = ' ';
            p--;
        }
    }
}

nl_model_spec tu_small_image_spec(nl_arch arch, nl_norm_kind kind, nl_placement placement)
{
    nl_model_spec spec;
    nl_model_spec_defaults(&spec);
    spec.arch = arch;
    spec.in_c = 1;
    spec.in_h = 8;
    spec.in_w = 8;
    spec.classes = 5;
    spec.n_widths = 2;
    spec.widths[0] = 16;
    spec.widths[1] = 32;
    spec.activation = NL_ACT_RELU;
    nl_norm_spec_defaults(&spec.norm, kind);
    spec.norm.placement = placement;
    spec.norm.groups = 4;
    spec.norm.virtual_batch = 3;
    return spec;
}

char *tu_resolved_config(const char *yaml, nl_config *cfg)
{
    nl_error err = {0};
    ck_assert_msg(nl_config_load_string(yaml, "config.yaml", NULL, 0, cfg, &err) == NL_OK, "%s",
                  err.msg);
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    ck_assert_ptr_nonnull(mem);
    ck_assert_int_eq(nl_config_write(cfg, mem, &err), NL_OK);
    fclose(mem);
    return text;
}

static int host_stem_cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int tu_each_host(tu_host_visit visit, void *ctx)
{
    const char *dir = NORMLAB_SOURCE_DIR "/tests/fixtures/hosts";
    DIR *d = opendir(dir);
    ck_assert_msg(d != NULL, "%s: no recorded hosts", dir);
    char *stems[256];
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        const size_t len = strlen(e->d_name);
        if (len > 8 && !strcmp(e->d_name + len - 8, ".cpuinfo") && n < 256) {
            stems[n] = strdup(e->d_name);
            stems[n++][len - 8] = '\0';
        }
    }
    closedir(d);
    ck_assert_msg(n > 0, "%s holds no STEM.cpuinfo", dir);
    qsort(stems, (size_t)n, sizeof stems[0], host_stem_cmp);
    nl_host_facts *facts = malloc(sizeof *facts);
    ck_assert_ptr_nonnull(facts);
    for (int i = 0; i < n; i++) {
        char stem[4096];
        snprintf(stem, sizeof stem, "%s/%s", dir, stems[i]);
        nl_error err = {0};
        ck_assert_msg(nl_host_facts_read(stem, facts, &err) == NL_OK, "%s", err.msg);
        visit(stems[i], facts, true, ctx);
        free(stems[i]);
    }
    nl_error err = {0};
    ck_assert_int_eq(nl_host_facts_read(NULL, facts, &err), NL_OK);
    visit("this machine", facts, false, ctx);
    free(facts);
    return n + 1;
}

const char *tu_emulator(void)
{
    const char *e = getenv("NORMLAB_TEST_EMULATOR");
    return e && *e ? e : NULL;
}
