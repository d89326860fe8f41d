/* libFuzzer harness: what `normlab export tensorboard DIR --out LOGDIR`
 * reads of a sweep or run directory, through what the command calls:
 * nl_tb_export (summary.csv by nl_results_load, each run's summary.json,
 * metrics.csv and series.csv, the varied keys as hyperparameters), writing
 * into ROOT/out, which the next input's fresh root removes. Input:
 * fuzz_sweep.h's (a mode byte, a file mask, the eight files; export reads
 * neither trace.csv, verdicts.csv nor the experiment file, which stay in
 * the input so that the two harnesses share their seeds); the mode's bits
 * here: bit 0: the single run's directory instead of the sweep; bit 1:
 * LOGDIR exists and holds a file (refused without --force); bit 2:
 * --force.
 *
 * Properties: bad input is an error value of exit status 2 with a
 * message (fuzz_check_error), never a crash, leak or undefined behaviour;
 * nothing outside LOGDIR is made, changed or removed (the root is listed
 * before and after: a run name in summary.csv such as "../x" must not
 * lead the event files out of LOGDIR); a LOGDIR that holds a file without
 * --force is refused with nothing written; what is written in LOGDIR is
 * event files only (NL_TB_RUN_FILE), each a whole sequence of TFRecord
 * records whose lengths and CRCs check, and the file that was there stays. */
#include "tensorboard/export.h"
#include "fuzz_sweep.h"

#define MODE_SINGLE 1u
#define MODE_NOT_EMPTY 2u
#define MODE_FORCE 4u
#define KEEP "keep"

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* a file of TFRecord records, each framed and checked as TensorBoard reads them */
static void check_events(const char *path)
{
    char *data = NULL;
    size_t len = 0;
    nl_error err = {0};
    FUZZ_REQUIRE(nl_read_file(path, &data, &len, &err) == NL_OK, "cannot read %s: %s", path, err.msg);
    const uint8_t *p = (const uint8_t *)data;
    size_t at = 0;
    int records = 0;
    while (at < len) {
        FUZZ_REQUIRE(len - at >= 12, "%s: a record header cut short at byte %zu", path, at);
        const uint64_t n = le64(p + at);
        FUZZ_REQUIRE(le32(p + at + 8) == nl_tb_masked_crc(nl_tb_crc32c(p + at, 8)), "%s: the length's CRC at %zu",
                     path, at);
        FUZZ_REQUIRE(n <= len - at - 12 && len - at - 12 - n >= 4, "%s: a record of %llu bytes at %zu in %zu",
                     path, (unsigned long long)n, at, len);
        FUZZ_REQUIRE(le32(p + at + 12 + n) == nl_tb_masked_crc(nl_tb_crc32c(p + at + 12, n)),
                     "%s: the data's CRC of the record at %zu", path, at);
        at += 12 + n + 4;
        records++;
    }
    FUZZ_REQUIRE(records > 0, "%s: no record (not even the version event)", path);
    free(data);
}

/* whether the listing holds the entry of rel, of type f, as it was */
static bool listed(const char *listing, const char *rel, const char *after)
{
    char head[1500];
    const int n = snprintf(head, sizeof head, "%s f ", rel);
    for (const char *line = listing; line && *line;) {
        const size_t len = strcspn(line, "\n");
        if (len > (size_t)n && !strncmp(line, head, (size_t)n)) {
            /* the same line in the listing after the call */
            for (const char *a = after; *a;) {
                const size_t alen = strcspn(a, "\n");
                if (alen == len && !memcmp(a, line, len))
                    return true;
                a += alen + (a[alen] == '\n');
            }
            return false;
        }
        line += len + (line[len] == '\n');
    }
    return false;
}

/* every file under rel (relative to ROOT's parent) that the export made is an event file: the
 * others (the one kept there, a run's files that a run name put there)
 * were there before, as they were */
static void check_logdir(const fuzz_sweep *s, const char *rel, const char *before, const char *after, int depth)
{
    char dir[1500];
    snprintf(dir, sizeof dir, "%s/%s", s->base, rel);
    DIR *d = opendir(dir);
    if (!d)
        return;
    for (struct dirent *e; (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char path[2048], child[1500];
        snprintf(child, sizeof child, "%s/%s", rel, e->d_name);
        snprintf(path, sizeof path, "%s/%s", s->base, child);
        struct stat st;
        FUZZ_REQUIRE(lstat(path, &st) == 0, "cannot stat %s", path);
        if (S_ISDIR(st.st_mode)) {
            if (depth < 64)
                check_logdir(s, child, before, after, depth + 1);
            continue;
        }
        FUZZ_REQUIRE(S_ISREG(st.st_mode), "%s: not a file", path);
        if (!strcmp(e->d_name, NL_TB_RUN_FILE))
            check_events(path);
        else
            FUZZ_REQUIRE(listed(before, child, after), "%s written in the logdir", path);
    }
    closedir(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_sweep s;
    if (!fuzz_sweep_make(&s, data, size))
        return 0;
    const bool force = s.mode & MODE_FORCE;
    char keep[500];
    snprintf(keep, sizeof keep, "%s/" KEEP, s.out);
    if (s.mode & MODE_NOT_EMPTY) {
        fuzz_sweep_mkdir(s.out);
        fuzz_write_file(s.out, KEEP, (const uint8_t *)"kept\n", 5, false);
    }
    const char *dir = s.mode & MODE_SINGLE ? s.run : s.sweep;

    char *before = fuzz_sweep_list(&s);
    nl_tb_export_report rep;
    nl_error err = {0};
    const nl_code rc = nl_tb_export(dir, s.out, force, NULL, &rep, &err);
    char *after = fuzz_sweep_list(&s);
    /* only LOGDIR changes; a refusal changes nothing where LOGDIR held a file */
    static const char *const out_only[] = {"root/out", NULL};
    const bool refused_whole = rc != NL_OK && (s.mode & MODE_NOT_EMPTY) && !force;
    fuzz_sweep_check_listing(before, after, refused_whole ? NULL : out_only, "normlab export");
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "nl_tb_export");
    } else {
        FUZZ_REQUIRE(force || !(s.mode & MODE_NOT_EMPTY), "a logdir holding a file written without --force");
        FUZZ_REQUIRE(rep.n_runs >= 0 && rep.n_pending >= 0 && rep.n_scalars >= 0, "%d runs, %d pending, %ld scalars",
                     rep.n_runs, rep.n_pending, rep.n_scalars);
    }
    check_logdir(&s, "root/out", before, after, 0);
    if (s.mode & MODE_NOT_EMPTY)
        FUZZ_REQUIRE(nl_path_exists(keep), "%s removed", keep);
    nl_buf_free(&rep.notes);
    free(before);
    free(after);
    return 0;
}
