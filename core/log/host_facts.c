/* The host's CPU as the kernel describes it; see host_facts.h. The text is
 * parsed the same way whether it came from this machine or a snapshot, so
 * a snapshot exercises the reader normlab uses. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/number.h"
#include "log/files.h"
#include "log/host_facts.h"

/* the value after "key<blanks>:" at the start of line; NULL for another key */
static const char *field(const char *line, const char *key)
{
    const size_t n = strlen(key);
    if (strncmp(line, key, n) != 0)
        return NULL;
    const char *p = line + n;
    while (*p == ' ' || *p == '\t')
        p++;
    if (*p != ':')
        return NULL;
    p++;
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

static void copy_value(char *out, size_t size, const char *v)
{
    nl_copy_string(out, size, v);
    out[strcspn(out, "\n")] = '\0';
}

/* a count on the rest of the line; -1 when it is not one */
static int field_int(const char *v)
{
    char text[32];
    int n = -1;
    copy_value(text, sizeof text, v);
    return nl_parse_int(text, 0, 1 << 20, &n) ? n : -1;
}

/* /proc/cpuinfo: the first processor's identity and flags, every processor counted */
static void parse_cpuinfo(FILE *f, nl_host_facts *h)
{
    char *line = NULL;
    size_t cap = 0;
    bool first_done = false;
    while (getline(&line, &cap, f) > 0) {
        const char *v;
        if ((v = field(line, "processor"))) {
            first_done = h->cpus > 0;
            h->cpus++;
            continue;
        }
        if (first_done)
            continue;
        if ((v = field(line, "vendor_id")))
            copy_value(h->vendor, sizeof h->vendor, v);
        else if ((v = field(line, "cpu family")))
            h->family = field_int(v);
        else if ((v = field(line, "model name")))
            copy_value(h->model_name, sizeof h->model_name, v);
        else if ((v = field(line, "model")))
            h->model = field_int(v);
        else if ((v = field(line, "flags"))) {
            snprintf(h->flags, sizeof h->flags, " %s", v);
            const size_t n = strcspn(h->flags, "\n");
            snprintf(h->flags + n, sizeof h->flags - n, " ");
        }
    }
    free(line);
}

/* lscpu's "L2 cache: 1 MiB (2 instances)": one instance's size in KiB;
 * 0 when the line is not of that form */
static int lscpu_cache_kib(const char *v)
{
    char text[128], *save = NULL;
    copy_value(text, sizeof text, v);
    const char *size_word = strtok_r(text, " ", &save), *unit = strtok_r(NULL, " ", &save);
    const char *count = strtok_r(NULL, " ", &save);
    double size = 0;
    int instances = 1;
    if (!size_word || !unit || !nl_parse_finite(size_word, &size) || size < 0)
        return 0;
    if (count && (count[0] != '(' || !nl_parse_int(count + 1, 1, 1 << 20, &instances)))
        return 0;
    const double kib = !strcmp(unit, "KiB") ? size
                       : !strcmp(unit, "MiB") ? size * 1024
                       : !strcmp(unit, "GiB") ? size * 1024 * 1024
                                              : 0;
    return (int)(kib / instances);
}

static void parse_lscpu(FILE *f, nl_host_facts *h)
{
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) > 0) {
        const char *v;
        if ((v = field(line, "L1d cache")))
            h->l1d_kib = lscpu_cache_kib(v);
        else if ((v = field(line, "L2 cache")))
            h->l2_kib = lscpu_cache_kib(v);
        else if ((v = field(line, "L3 cache")))
            h->l3_kib = lscpu_cache_kib(v);
    }
    free(line);
}

/* sysfs: the cache of `level` (1: data, 2, 3) of CPU 0 in KiB */
static int sysfs_cache_kib(int level)
{
    for (int index = 0; index < 8; index++) {
        char path[128], text[32] = "";
        int found_level = 0, kib = 0;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/level", index);
        FILE *f = nl_fopen_system(path);
        if (!f)
            break;
        const bool ok = fscanf(f, "%d", &found_level) == 1;
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/type", index);
        if (!ok || found_level != level || !(f = nl_fopen_system(path)))
            continue;
        const bool typed = fscanf(f, "%31s", text) == 1;
        fclose(f);
        if (!typed || strcmp(text, "Instruction") == 0)
            continue;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu0/cache/index%d/size", index);
        if (!(f = nl_fopen_system(path)))
            continue;
        if (fscanf(f, "%dK", &kib) != 1)
            kib = 0;
        fclose(f);
        return kib;
    }
    return 0;
}

nl_code nl_host_facts_read(const char *snapshot, nl_host_facts *h, nl_error *err)
{
    memset(h, 0, sizeof *h);
    h->family = h->model = -1;
    if (!snapshot) {
        FILE *f = nl_fopen_system("/proc/cpuinfo");
        if (f) {
            parse_cpuinfo(f, h);
            fclose(f);
        }
        h->l1d_kib = sysfs_cache_kib(1);
        h->l2_kib = sysfs_cache_kib(2);
        h->l3_kib = sysfs_cache_kib(3);
        return NL_OK;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s.cpuinfo", snapshot);
    FILE *f = NULL;
    nl_code rc = nl_fopen_regular(path, false, &f, err);
    if (rc != NL_OK)
        return rc;
    parse_cpuinfo(f, h);
    fclose(f);
    if (!h->flags[0] || h->family < 0 || h->model < 0 || !h->vendor[0])
        return nl_fail(err, NL_ERR_DATA, "%s: not a /proc/cpuinfo (no vendor_id, cpu family, model and flags of a processor)", path);
    snprintf(path, sizeof path, "%s.lscpu", snapshot);
    f = NULL;
    rc = nl_fopen_regular(path, true, &f, err);
    if (rc != NL_OK)
        return rc;
    if (f) {
        parse_lscpu(f, h);
        fclose(f);
    }
    return NL_OK;
}

bool nl_host_has_flag(const nl_host_facts *h, const char *flag)
{
    char padded[64];
    snprintf(padded, sizeof padded, " %s ", flag);
    return strstr(h->flags, padded) != NULL;
}
