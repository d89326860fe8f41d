/* A formula plan's passes compiled and loaded (formula_compile.h).
 *
 * The cache: one directory per user ($XDG_CACHE_HOME/normlab/formula, or
 * ~/.cache/normlab/formula), made 0700, used only while it is a real
 * directory owned by the user and writable by no one else: a shared or
 * planted cache is how code-loading caches have been attacked. An object
 * is named by the SHA-256 of everything that made it (the generated
 * source, which holds the shapes and the program, the compiler's flags,
 * the compiler's identity and the kernel set), written beside a file
 * holding the SHA-256 of its bytes, both by rename (atomic), and loaded
 * only after its bytes match that sum and, once loaded, only if the key
 * it carries is the one asked for. A damaged or foreign entry is compiled
 * again; an unsafe directory leaves the formula to the interpreter. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/sha256.h"
#include "log/cache_dir.h"
#include "log/files.h"
#include "norm/formula_compile.h"

extern char **environ;

#ifndef NORMLAB_C_COMPILER
#define NORMLAB_C_COMPILER "cc"
#endif

/* the largest object the cache loads: a formula's is tens of kilobytes */
#define OBJECT_MAX_BYTES (16L << 20)
/* a compile that takes longer is stopped and the interpreter runs */
#define COMPILE_TIMEOUT_MS 60000

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

nl_code nl_formula_mode_from_env(bool *interpret, nl_error *err)
{
    const char *v = getenv("NORMLAB_FORMULA");
    *interpret = false;
    if (!v || !*v || !strcmp(v, "auto"))
        return NL_OK;
    if (!strcmp(v, "interpret")) {
        *interpret = true;
        return NL_OK;
    }
    return nl_fail(err, NL_ERR_USAGE,
                   "NORMLAB_FORMULA=%s: accepted: auto (formulas compiled to native code where a "
                   "compiler is at hand, else interpreted) or interpret",
                   v);
}

/* the instructions a kernel set's name stands for, as compiler flags */
static const char *march_of(const char *set)
{
    static const struct {
        const char *set, *flags;
    } sets[] = {
        {"x86-64-v4-bf16-amx", "-march=x86-64-v4 -mavx512bf16"},
        {"x86-64-v4-bf16", "-march=x86-64-v4 -mavx512bf16"},
        {"x86-64-v4", "-march=x86-64-v4"},
        {"x86-64-v3", "-march=x86-64-v3"},
        {"x86-64-v2", "-march=x86-64-v2"},
        {"x86-64", "-march=x86-64"},
        {"native", "-march=native"},
        {"portable", ""},
    };
    for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
        if (set && !strcmp(set, sets[i].set))
            return sets[i].flags;
    return NULL;
}

/* the fixed flags: no contraction and no fast math (each operation rounds
 * as the interpreter's does); no errno, so that sqrt is the instruction */
#define FIXED_FLAGS "-std=c11 -O3 -fPIC -shared -ffp-contract=off -fno-fast-math -fno-math-errno -w"

/* the formula cache: opt's directory, or the user's (log/cache_dir.h) */
static bool cache_dir(const nl_formula_compile_options *opt, char *dir, size_t size, char *why,
                      size_t why_size)
{
    return nl_cache_dir("formula", opt ? opt->cache_dir : NULL, "the formula cache", dir, size,
                        why, why_size);
}

/* the whole of a file opened without following links, checked to be a
 * regular file of ours no one else may write; NULL with why */
static char *read_private_file(int fd, const char *path, size_t *len, char *why, size_t size)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        snprintf(why, size, "%.200s is not a regular file", path);
        return NULL;
    }
    if (st.st_uid != geteuid() || (st.st_mode & 022)) {
        snprintf(why, size, "%.200s is owned by another user or writable by others", path);
        return NULL;
    }
    if (st.st_size <= 0 || st.st_size > OBJECT_MAX_BYTES) {
        snprintf(why, size, "%.200s has %ld bytes", path, (long)st.st_size);
        return NULL;
    }
    char *buf = malloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (buf && got < (size_t)st.st_size) {
        const ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (!buf || got != (size_t)st.st_size) {
        free(buf);
        snprintf(why, size, "cannot read %.200s", path);
        return NULL;
    }
    buf[got] = 0;
    *len = got;
    return buf;
}

static const char *pass_prefix = "nl_fp_g";

/* every compiled pass's function, looked up in the loaded object; false
 * where one the generator wrote is missing */
static bool attach(nl_formula_plan *p, void *handle)
{
    nl_fgraph *graphs[2] = {&p->train, &p->eval};
    for (int gi = 0; gi < 2; gi++) {
        nl_fprogram *progs[2] = {&graphs[gi]->forward, graphs[gi]->has_backward ? &graphs[gi]->backward : NULL};
        for (int pi = 0; pi < 2; pi++)
            for (int si = 0; progs[pi] && si < progs[pi]->n_passes; si++) {
                nl_fpass *pass = &progs[pi]->passes[si];
                pass->compiled = NULL;
                if (pass->n_slots < 0)
                    continue;
                char name[48];
                snprintf(name, sizeof name, "%s%dp%ds%d", pass_prefix, gi, pi, si);
                void *fn = dlsym(handle, name);
                if (!fn)
                    return false;
                memcpy(&pass->compiled, &fn, sizeof fn);
            }
    }
    return true;
}

static void detach(nl_formula_plan *p)
{
    nl_fgraph *graphs[2] = {&p->train, &p->eval};
    for (int gi = 0; gi < 2; gi++) {
        nl_fprogram *progs[2] = {&graphs[gi]->forward, &graphs[gi]->backward};
        for (int pi = 0; pi < 2; pi++)
            for (int si = 0; progs[pi]->passes && si < progs[pi]->n_passes; si++)
                progs[pi]->passes[si].compiled = NULL;
    }
}

/* the cache entry `key`: loaded when its bytes match its sum and it
 * carries the key; NULL with why (empty: simply not there) */
static void *load_entry(const char *dir, const char *key, char *why, size_t size)
{
    char path[4200], sum_path[4200];
    snprintf(path, sizeof path, "%s/%s.so", dir, key);
    snprintf(sum_path, sizeof sum_path, "%s/%s.sum", dir, key);
    why[0] = 0;
    int fd = -1;
    nl_error open_err = {0};
    if (nl_open_regular(path, true, &fd, &open_err) != NL_OK || fd < 0) {
        if (open_err.msg[0])
            snprintf(why, size, "%.300s", open_err.msg);
        return NULL;
    }
    size_t len = 0, sum_len = 0;
    char *bytes = read_private_file(fd, path, &len, why, size);
    if (!bytes) {
        close(fd);
        return NULL;
    }
    int sfd = -1;
    nl_error sum_err = {0};
    if (nl_open_regular(sum_path, true, &sfd, &sum_err) != NL_OK)
        sfd = -1;
    char *sum = sfd >= 0 ? read_private_file(sfd, sum_path, &sum_len, why, size) : NULL;
    if (sfd >= 0)
        close(sfd);
    char actual[65];
    nl_sha256_hex(bytes, len, actual);
    free(bytes);
    if (!sum || sum_len < 64 || memcmp(sum, actual, 64) != 0) {
        if (!why[0])
            snprintf(why, size, "%.200s does not match its sum", path);
        free(sum);
        close(fd);
        return NULL;
    }
    free(sum);
    /* by its name, which is its key: the loader takes an object already
     * loaded under the same name for it (a /proc/self/fd name, reused by
     * the next object, would hand back the previous one); between the check
     * and the load only this user can rename into the private directory */
    close(fd);
    void *handle = dlopen(path, RTLD_NOW | RTLD_LOCAL);
    if (!handle) {
        snprintf(why, size, "cannot load %.160s: %.80s", path, dlerror());
        return NULL;
    }
    const char *carried = dlsym(handle, "nl_formula_object_key");
    if (!carried || strcmp(carried, key) != 0) {
        snprintf(why, size, "%.200s is another formula's object", path);
        dlclose(handle);
        return NULL;
    }
    return handle;
}

/* runs argv with stdout and stderr into log_path; true when it exits 0 in time */
static bool run_compiler(char *const argv[], const char *log_path, char *why, size_t size)
{
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    pid_t pid;
    const int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) {
        snprintf(why, size, "cannot run the C compiler %.160s: %.80s", argv[0], strerror(rc));
        return false;
    }
    int status = 0;
    const double start = now_ms();
    for (;;) {
        const pid_t w = waitpid(pid, &status, WNOHANG);
        if (w == pid)
            break;
        if (w < 0 && errno != EINTR) {
            snprintf(why, size, "lost the C compiler %.160s: %.80s", argv[0], strerror(errno));
            return false;
        }
        if (now_ms() - start > COMPILE_TIMEOUT_MS) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            snprintf(why, size, "the C compiler %.200s took more than %d s", argv[0], COMPILE_TIMEOUT_MS / 1000);
            return false;
        }
        struct timespec ts = {0, 2000000};
        nanosleep(&ts, NULL);
    }
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
        char first[200] = "";
        FILE *f = NULL;
        nl_error log_err = {0};
        if (nl_fopen_regular(log_path, true, &f, &log_err) == NL_OK && f) {
            if (!fgets(first, sizeof first, f))
                first[0] = 0;
            fclose(f);
            first[strcspn(first, "\n")] = 0;
        }
        snprintf(why, size, "the C compiler %.120s failed%s%.150s", argv[0], first[0] ? ": " : "", first);
        return false;
    }
    return true;
}

static bool write_file(const char *path, const void *data, size_t n)
{
    const int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600); /* lint: a new file in the private cache */
    if (fd < 0)
        return false;
    const char *p = data;
    size_t done = 0;
    while (done < n) {
        const ssize_t w = write(fd, p + done, n - done);
        if (w <= 0)
            break;
        done += (size_t)w;
    }
    const bool ok = done == n && fsync(fd) == 0;
    return close(fd) == 0 && ok;
}

/* compiles source into the cache as `key` (temporary names, then renames) */
static bool compile_entry(const char *cc, const char *march, const char *dir, const char *key,
                          const char *source, char *why, size_t size)
{
    char tmp[4200], c_path[4300], so_path[4300], log_path[4300], sum_tmp[4300], so_final[4300],
        sum_final[4300];
    static unsigned counter;
    snprintf(tmp, sizeof tmp, "%s/.tmp-%ld-%u-%s", dir, (long)getpid(), __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED), key);
    snprintf(c_path, sizeof c_path, "%s.c", tmp);
    snprintf(so_path, sizeof so_path, "%s.so", tmp);
    snprintf(log_path, sizeof log_path, "%s.log", tmp);
    snprintf(sum_tmp, sizeof sum_tmp, "%s.sum", tmp);
    snprintf(so_final, sizeof so_final, "%s/%s.so", dir, key);
    snprintf(sum_final, sizeof sum_final, "%s/%s.sum", dir, key);
    if (!write_file(c_path, source, strlen(source))) {
        snprintf(why, size, "cannot write %.160s: %.80s", c_path, strerror(errno));
        return false;
    }
    /* the argument vector: fixed flags, the kernel set's, the files */
    char flags[512];
    snprintf(flags, sizeof flags, "%s %s", FIXED_FLAGS, march);
    char *argv[32];
    int argc = 0;
    argv[argc++] = (char *)cc;
    for (char *s = strtok(flags, " "); s && argc < 26; s = strtok(NULL, " "))
        argv[argc++] = s;
    argv[argc++] = "-o";
    argv[argc++] = so_path;
    argv[argc++] = c_path;
    argv[argc] = NULL;
    const bool ok = run_compiler(argv, log_path, why, size);
    unlink(log_path);
    if (!ok) {
        unlink(c_path);
        unlink(so_path);
        return false;
    }
    /* the source stays beside its object, for a reader (never loaded) */
    char c_final[4300];
    snprintf(c_final, sizeof c_final, "%s/%s.c", dir, key);
    if (rename(c_path, c_final) != 0) /* lint: within the private cache */
        unlink(c_path);
    /* the object's sum, then both under their names: a reader that finds
     * the object before its sum compiles again */
    size_t len = 0;
    int fd = -1;
    nl_error so_err = {0};
    if (nl_open_regular(so_path, false, &fd, &so_err) != NL_OK) {
        snprintf(why, size, "%.300s", so_err.msg);
        fd = -1;
    }
    char *bytes = fd >= 0 ? read_private_file(fd, so_path, &len, why, size) : NULL;
    if (fd >= 0)
        close(fd);
    if (!bytes) {
        unlink(so_path);
        return false;
    }
    char sum[66];
    nl_sha256_hex(bytes, len, sum);
    free(bytes);
    sum[64] = '\n';
    if (!write_file(sum_tmp, sum, 65) || rename(so_path, so_final) != 0 || /* lint: within the private cache */
        rename(sum_tmp, sum_final) != 0) { /* lint: within the private cache */
        snprintf(why, size, "cannot write the formula cache entry %.160s: %.80s", so_final, strerror(errno));
        unlink(so_path);
        unlink(sum_tmp);
        return false;
    }
    return true;
}

/* what identifies the compiler binary without running it */
static bool compiler_identity(const char *cc, char *out, size_t size, char *why, size_t why_size)
{
    struct stat st;
    if (cc[0] != '/' || stat(cc, &st) != 0 || !S_ISREG(st.st_mode) || access(cc, X_OK) != 0) {
        snprintf(why, why_size, "no C compiler at %.200s (the one normlab was built with)", cc);
        return false;
    }
    snprintf(out, size, "%s %lu %lu %ld %ld", cc, (unsigned long)st.st_dev, (unsigned long)st.st_ino,
             (long)st.st_size, (long)st.st_mtime);
    return true;
}

/* p's source for `block`, and its key: a SHA-256 of the source (without
 * its key), the flags, the compiler and the kernel set; NULL when out of
 * memory */
static char *keyed_source(nl_formula_plan *p, int block, const char *march, const char *identity,
                          const char *set, char key[65])
{
    char *source = nl_formula_codegen(p, block, "");
    if (!source)
        return NULL;
    const size_t size = strlen(source) + strlen(identity) + strlen(set) + 1024;
    char *keyed = malloc(size);
    if (keyed) {
        snprintf(keyed, size, "%s\n%s %s\n%s\n%s\n", source, FIXED_FLAGS, march, identity, set);
        nl_sha256_hex(keyed, strlen(keyed), key);
    }
    free(source);
    if (!keyed)
        return NULL;
    free(keyed);
    return nl_formula_codegen(p, block, key);
}

/* the passes that run native code, of *passes the layer runs (the
 * evaluation graph's only where running statistics exist) */
static int native_passes(const nl_formula_plan *p, int *passes)
{
    int native = 0;
    *passes = 0;
    const nl_fgraph *graphs[2] = {&p->train, &p->eval};
    for (int gi = 0; gi < (p->n_running ? 2 : 1); gi++) {
        const nl_fprogram *progs[2] = {&graphs[gi]->forward,
                                       graphs[gi]->has_backward ? &graphs[gi]->backward : NULL};
        for (int pi = 0; pi < 2; pi++)
            for (int si = 0; progs[pi] && si < progs[pi]->n_passes; si++) {
                ++*passes;
                native += progs[pi]->passes[si].compiled != NULL;
            }
    }
    return native;
}

void nl_formula_compile(nl_formula_plan *p, int block, const nl_formula_compile_options *opt,
                        nl_formula_compile_result *res)
{
    *res = (nl_formula_compile_result){0};
    const double start = now_ms();
    nl_formula_compiled_release(p);
    bool interpret = false;
    nl_error err = {0};
    if (nl_formula_mode_from_env(&interpret, &err) || interpret) {
        snprintf(res->why, sizeof res->why, "%.300s", interpret ? "NORMLAB_FORMULA=interpret" : err.msg);
        return;
    }
    const char *cc = opt && opt->cc ? opt->cc : NORMLAB_C_COMPILER;
    const char *set = opt ? opt->kernel_set : NULL;
    const char *march = march_of(set);
    if (!march) {
        snprintf(res->why, sizeof res->why, "no compiler flags for the kernel set %.200s", set ? set : "(none)");
        return;
    }
    char identity[4400], dir[4096];
    if (!compiler_identity(cc, identity, sizeof identity, res->why, sizeof res->why) ||
        !cache_dir(opt, dir, sizeof dir, res->why, sizeof res->why))
        return;
    char *source = keyed_source(p, block, march, identity, set, res->key);
    if (!source) {
        snprintf(res->why, sizeof res->why, "out of memory generating the formula's code");
        return;
    }
    char note[320];
    void *handle = load_entry(dir, res->key, note, sizeof note);
    res->from_cache = handle != NULL;
    if (!handle) {
        if (!compile_entry(cc, march, dir, res->key, source, res->why, sizeof res->why)) {
            free(source);
            return;
        }
        handle = load_entry(dir, res->key, res->why, sizeof res->why);
        if (!handle) {
            free(source);
            return;
        }
        if (note[0])
            snprintf(res->why, sizeof res->why, "%.250s: compiled again", note);
    }
    free(source);
    if (!attach(p, handle)) {
        detach(p);
        dlclose(handle);
        snprintf(res->why, sizeof res->why, "the compiled object %.200s lacks a pass", res->key);
        return;
    }
    p->compiled_block = block;
    p->compiled_object = handle;
    res->compiled = true;
    res->ms = now_ms() - start;
    /* a pass the generator could not express (more small values than a
     * pass's slots) runs on the interpreter: the record says so */
    int passes = 0;
    const int native = native_passes(p, &passes);
    if (native < passes)
        snprintf(res->why, sizeof res->why, "%d of %d passes interpreted (more small values than a "
                 "compiled pass takes, %d)", passes - native, passes, NL_FPASS_MAX_SLOTS);
}

void nl_formula_compiled_release(nl_formula_plan *p)
{
    if (!p || !p->compiled_object)
        return;
    detach(p);
    dlclose(p->compiled_object);
    p->compiled_object = NULL;
}

void nl_formula_kernels_record(const nl_backend *be, char *buf, size_t size)
{
    buf[0] = 0;
    if (!be->formula_compiled && !be->formula_interpreted)
        return;
    if (!be->formula_interpreted && be->formula_why[0])
        snprintf(buf, size, "compiled (%s)", be->formula_why);
    else if (!be->formula_interpreted)
        snprintf(buf, size, "compiled");
    else if (!be->formula_compiled)
        snprintf(buf, size, "interpreted: %s", be->formula_why);
    else
        snprintf(buf, size, "compiled %d layers, interpreted %d: %s", be->formula_compiled,
                 be->formula_interpreted, be->formula_why);
}
