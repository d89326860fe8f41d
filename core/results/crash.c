/* A crashed run's record (crash.h). */
#include "results/crash.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/number.h"
#include "log/files.h"
#include "results/files.h"
#include "results/summary.h"
#include "results/summary_keys.h"

static const struct {
    int sig;
    const char *name, *what;
} crash_signals[] = {
    {SIGILL, "SIGILL", "illegal instruction"}, {SIGSEGV, "SIGSEGV", "segmentation fault"},
    {SIGBUS, "SIGBUS", "bus error"},           {SIGFPE, "SIGFPE", "arithmetic exception"},
    {SIGABRT, "SIGABRT", "aborted"},           {SIGSYS, "SIGSYS", "bad system call"},
    {SIGTRAP, "SIGTRAP", "trace trap"},
};
enum { N_CRASH_SIGNALS = sizeof crash_signals / sizeof crash_signals[0] };

bool nl_crash_signal(int sig)
{
    for (int i = 0; i < N_CRASH_SIGNALS; i++)
        if (crash_signals[i].sig == sig)
            return true;
    return false;
}

/* ---- the reason, without stdio: a signal handler formats it ---- */

static size_t put_text(char *buf, size_t size, size_t at, const char *s)
{
    while (*s && at + 1 < size)
        buf[at++] = *s++;
    buf[at < size ? at : size - 1] = '\0';
    return at;
}

static size_t put_number(char *buf, size_t size, size_t at, long v)
{
    char digits[24];
    int n = 0;
    unsigned long u = v < 0 ? 0UL - (unsigned long)v : (unsigned long)v;
    do
        digits[n++] = (char)('0' + u % 10);
    while ((u /= 10) && n < (int)sizeof digits);
    if (v < 0)
        at = put_text(buf, size, at, "-");
    char text[24];
    for (int i = 0; i < n; i++)
        text[i] = digits[n - 1 - i];
    text[n] = '\0';
    return put_text(buf, size, at, text);
}

size_t nl_crash_reason(char *buf, size_t size, int sig, long steps)
{
    if (!size)
        return 0;
    size_t at = put_text(buf, size, 0, NL_RUN_CRASHED_REASON ": ");
    int known = -1;
    for (int i = 0; i < N_CRASH_SIGNALS; i++)
        if (crash_signals[i].sig == sig)
            known = i;
    if (known >= 0) {
        at = put_text(buf, size, at, crash_signals[known].name);
        at = put_text(buf, size, at, " (");
        at = put_text(buf, size, at, crash_signals[known].what);
        at = put_text(buf, size, at, ")");
    } else {
        at = put_text(buf, size, at, "signal ");
        at = put_number(buf, size, at, sig);
    }
    if (steps >= 0) {
        at = put_text(buf, size, at, " after ");
        at = put_number(buf, size, at, steps);
        at = put_text(buf, size, at, steps == 1 ? " step" : " steps");
    }
    return at;
}

/* ---- where status and reason lie in a summary.json ---- */

/* The span of the string value of top-level `key` in text as
 * nl_run_summary_write lays it out: a line of its own, two spaces in (a
 * value's newline is escaped, so a name cannot fake one) */
static bool value_span(const char *text, const char *key, size_t *start, size_t *end)
{
    char pattern[64];
    snprintf(pattern, sizeof pattern, "\n  \"%s\": \"", key);
    const char *p = strstr(text, pattern);
    if (!p)
        return false;
    p += strlen(pattern);
    *start = (size_t)(p - text);
    for (; *p && *p != '"'; p++)
        if (*p == '\\' && p[1])
            p++;
    *end = (size_t)(p - text);
    return *p == '"';
}

/* a "running" summary split around its reason's value, its status made
 * failed: head (status rewritten) up to the reason's text, tail after it */
static nl_code split_running(const char *dir, const char *text, nl_buf *head, const char **tail,
                             nl_error *err)
{
    size_t s0, s1, r0, r1;
    if (!value_span(text, NL_SUMMARY_STATUS, &s0, &s1) || !value_span(text, NL_SUMMARY_REASON, &r0, &r1) ||
        s1 > r0)
        return nl_fail(err, NL_ERR_RUNTIME, "%s/" NL_RUN_SUMMARY_FILE " is not laid out as normlab "
                       "writes it: a crash cannot be recorded there", dir);
    nl_buf_printf(head, "%.*s%s%.*s", (int)s0, text, nl_run_status_name(NL_RUN_FAILED), (int)(r0 - s1),
                  text + s1);
    *tail = text + r1;
    return head->failed ? nl_fail(err, NL_ERR_NOMEM, "out of memory recording a crash") : NL_OK;
}

nl_code nl_summary_record_crash(const char *dir, int sig, nl_error *err)
{
    char *text = NULL;
    if (nl_summary_read(dir, &text) != NL_SUMMARY_RUNNING) {
        free(text);
        return NL_OK;
    }
    nl_buf out = {0};
    const char *tail;
    nl_code rc = split_running(dir, text, &out, &tail, err);
    if (rc == NL_OK) {
        char reason[160];
        nl_crash_reason(reason, sizeof reason, sig, -1);
        nl_buf_printf(&out, "%s%s", reason, tail);
        char path[1100];
        nl_path_join(path, sizeof path, dir, NL_RUN_SUMMARY_FILE);
        rc = out.failed ? nl_fail(err, NL_ERR_NOMEM, "out of memory recording a crash")
                        : nl_write_atomic(path, out.data, out.len, err);
    }
    nl_buf_free(&out);
    free(text);
    return rc;
}

/* ---- the record a run prepares for its own crash ---- */

static struct {
    volatile sig_atomic_t armed;
    char path[1100], tmp[1140];
    nl_buf head;
    char *tail;
    size_t tail_len;
    const long *steps;
} record;

void nl_crash_record_disarm(void)
{
    record.armed = 0;
    nl_buf_free(&record.head);
    free(record.tail);
    record.tail = NULL;
}

nl_code nl_crash_record_arm(const char *dir, const long *steps, nl_error *err)
{
    nl_crash_record_disarm();
    char *text = NULL;
    if (nl_summary_read(dir, &text) != NL_SUMMARY_RUNNING) {
        free(text);
        return nl_fail(err, NL_ERR_RUNTIME, "%s/" NL_RUN_SUMMARY_FILE " does not say running: no crash "
                       "record prepared", dir);
    }
    const char *tail;
    nl_code rc = split_running(dir, text, &record.head, &tail, err);
    if (rc == NL_OK && !(record.tail = strdup(tail)))
        rc = nl_fail(err, NL_ERR_NOMEM, "out of memory preparing a crash record");
    free(text);
    if (rc != NL_OK) {
        nl_crash_record_disarm();
        return rc;
    }
    record.tail_len = strlen(record.tail);
    nl_path_join(record.path, sizeof record.path, dir, NL_RUN_SUMMARY_FILE);
    /* nl_write_atomic's temporary name, which a sweep's clean-up knows */
    snprintf(record.tmp, sizeof record.tmp, "%s.tmp.%ld", record.path, (long)getpid());
    record.steps = steps;
    record.armed = 1;
    return NL_OK;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        const ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

void nl_crash_record_write(int sig)
{
    if (!record.armed)
        return;
    record.armed = 0; /* once: a second fault in here writes nothing more */
    const int saved = errno;
    char reason[160];
    const size_t n = nl_crash_reason(reason, sizeof reason, sig, record.steps ? *record.steps : -1);
    /* lint: a signal handler's write, async-signal-safe calls only (nl_write_atomic allocates); no link followed */
    const int fd = open(record.tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0666); /* lint: as above */
    if (fd >= 0) {
        bool ok = write_all(fd, record.head.data, record.head.len) && write_all(fd, reason, n) &&
                  write_all(fd, record.tail, record.tail_len);
        ok = fsync(fd) == 0 && ok;
        close(fd);
        if (!ok || rename(record.tmp, record.path) != 0) /* lint: the handler's own temporary, as above */
            unlink(record.tmp);
    }
    errno = saved;
}

/* ---- the test hook ---- */

static int hook_signal;
static long hook_step = -1;
static bool hook_unhandled;

static void hook_read(void)
{
    const char *v = getenv("NORMLAB_TEST_CRASH");
    const char *colon = v ? strchr(v, ':') : NULL;
    if (!colon)
        return;
    for (int i = 0; i < N_CRASH_SIGNALS; i++)
        if (strlen(crash_signals[i].name) == (size_t)(colon - v) &&
            !strncmp(v, crash_signals[i].name, (size_t)(colon - v))) {
            /* STEP, then nothing or ":unhandled" */
            char digits[24] = "";
            const size_t len = strcspn(colon + 1, ":");
            const char *rest = colon + 1 + len;
            const bool unhandled = !strcmp(rest, ":unhandled");
            long long step = -1;
            if (len < sizeof digits)
                memcpy(digits, colon + 1, len);
            if ((*rest == '\0' || unhandled) && nl_parse_ll(digits, 0, LONG_MAX, &step)) {
                hook_signal = crash_signals[i].sig;
                hook_step = (long)step;
                hook_unhandled = unhandled;
            }
        }
}

void nl_crash_test_hook(long steps)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, hook_read);
    if (hook_step < 0 || steps != hook_step)
        return;
    if (hook_unhandled) /* as a fault where the handler finds no stack to run on */
        signal(hook_signal, SIG_DFL);
    raise(hook_signal);
}
