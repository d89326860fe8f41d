/* Numbers are checked once (issue 69):
 *  - core/base/number.h's parser refuses empty text, blanks, junk, a sign
 *    on a count, overflow and values out of range, and takes the rest
 *    (--shard I/N's two numbers too);
 *  - every row of cmd/int_options.c's table (every integer option of every
 *    subcommand) is fed its boundaries through the binary: lo and hi are
 *    taken, lo-1, hi+1, 2^32+2, 2^63, -1, "", "1x" and " 1" refused with
 *    exit 2 and a message naming the option and its range;
 *  - an integer option parsed outside the table is caught two ways: no
 *    source file under core/ or cmd/ but the parser's calls strtol, atoi
 *    and kin (the lint below), and every option any subcommand's --help
 *    documents with a value is probed: one that takes "1" but refuses "x",
 *    "1.5", "1e3" and the like is an integer option and must have a row
 *    (the --help scan).
 *    A new option is thus tested as soon as it is documented. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/number.h"
#include "int_options.h"
#include "log/files.h"
#include "results/files.h"
#include "results/run_result.h"
#include "results/rundir.h"
#include "sweep/sweep.h"
#include "sweep/worklock.h"
#include "testutil.h"

START_TEST(test_parser_cases)
{
    static const struct {
        const char *text;
        long long lo, hi;
        bool ok;
        long long want;
    } cases[] = {
        {"0", 0, 10, true, 0},
        {"10", 0, 10, true, 10},
        {"11", 0, 10, false, 0},
        {"007", 0, 10, true, 7},
        {"", 0, 10, false, 0},
        {" 1", 0, 10, false, 0},
        {"1 ", 0, 10, false, 0},
        {"1x", 0, 10, false, 0},
        {"0x1", 0, 10, false, 0},
        {"1.0", 0, 10, false, 0},
        /* no sign on a count, not even one that changes nothing */
        {"-0", 0, 10, false, 0},
        {"+1", 0, 10, false, 0},
        {"-1", 0, 10, false, 0},
        {"-", -10, 10, false, 0},
        {"-1", -10, 10, true, -1},
        {"+1", -10, 10, true, 1},
        {"-0", -10, 10, true, 0},
        {"--1", -10, 10, false, 0},
        {"4294967298", 1, 1000, false, 0},
        {"9223372036854775807", 0, LLONG_MAX, true, LLONG_MAX},
        {"9223372036854775808", 0, LLONG_MAX, false, 0},
        {"-9223372036854775808", LLONG_MIN, LLONG_MAX, true, LLONG_MIN},
        {"-9223372036854775809", LLONG_MIN, LLONG_MAX, false, 0},
        {"99999999999999999999999", LLONG_MIN, LLONG_MAX, false, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        long long v = 42;
        const bool ok = nl_parse_ll(cases[i].text, cases[i].lo, cases[i].hi, &v);
        ck_assert_msg(ok == cases[i].ok, "'%s' in [%lld, %lld]: %s", cases[i].text, cases[i].lo,
                      cases[i].hi, ok ? "taken" : "refused");
        ck_assert_msg(v == (ok ? cases[i].want : 42), "'%s': %lld", cases[i].text, v);
    }
    int n = 5;
    ck_assert(!nl_parse_int("2147483648", 0, INT_MAX, &n) && n == 5);
    ck_assert(nl_parse_int("2147483647", 0, INT_MAX, &n) && n == INT_MAX);

    char buf[96];
    ck_assert_str_eq(nl_range_text(buf, sizeof buf, 1, 1000), "a whole number from 1 to 1000");
    ck_assert_str_eq(nl_range_text(buf, sizeof buf, 0, LLONG_MAX),
                     "a whole number from 0 to 9223372036854775807");
}
END_TEST

START_TEST(test_finite_cases)
{
    static const struct {
        const char *text;
        bool ok;
    } cases[] = {{"0.95", true}, {"1e-3", true}, {"-2", true}, {"1e-400", true}, {"", false},
                 {" 1", false},  {"1 ", false},  {"1x", false}, {"inf", false},  {"-inf", false},
                 {"nan", false}, {"1e400", false}, {"-1e400", false}, {"infinity", false}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        double v = 42;
        const bool ok = nl_parse_finite(cases[i].text, &v);
        ck_assert_msg(ok == cases[i].ok, "'%s': %s", cases[i].text, ok ? "taken" : "refused");
        ck_assert(ok ? isfinite(v) : v == 42);
    }
}
END_TEST

/* --shard I/N: two numbers in one value, read by the same parser */
START_TEST(test_shard_numbers)
{
    static const struct {
        const char *text;
        int index, count; /* 0: refused */
    } cases[] = {{"2/4", 2, 4},     {"4/4", 4, 4},      {"1/100000", 1, 100000}, {" 2/4", 0, 0},
                 {"2 /4", 0, 0},    {"2/ 4", 0, 0},     {"2/4 ", 0, 0},          {"+2/4", 0, 0},
                 {"2/+4", 0, 0},    {"-1/4", 0, 0},     {"0/4", 0, 0},           {"5/4", 0, 0},
                 {"2/100001", 0, 0}, {"4294967298/4", 0, 0}, {"2/4294967298", 0, 0},
                 {"2/18446744073709551620", 0, 0}, {"2", 0, 0}, {"/4", 0, 0}, {"2/", 0, 0}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        nl_shard sh = {0, 0};
        nl_error err = {0};
        const nl_code rc = nl_shard_parse(cases[i].text, &sh, &err);
        ck_assert_msg(rc == (cases[i].index ? NL_OK : NL_ERR_USAGE), "'%s': %s", cases[i].text, err.msg);
        ck_assert_msg(sh.index == cases[i].index && sh.count == cases[i].count, "'%s': %d/%d", cases[i].text,
                      sh.index, sh.count);
    }
}
END_TEST

/* what the binary is run as for a command of the table: "bench --run" needs
 * its config's name before its options (the file is never opened: the
 * parse stops first) */
static const char *invocation(const char *command)
{
    return !strcmp(command, "bench --run") ? "bench --run none.yaml" : command;
}

/* an option that cannot exist: an option's value taken, the parse goes on
 * to it and stops there, exit 2 naming it; a value refused, it is never
 * reached. Nothing runs either way. */
#define STOP "--zz-no-such-option"

/* `normlab PREFIX OPTION 'VALUE' --zz-no-such-option`: true when the
 * option took the value (the parse reached the stop); *out its output.
 * An option that acts at once and ends the command (plot's
 * --write-templates DIR: exit 0) took it too, where acting is allowed. */
static bool takes_acting(const char *prefix, const char *option, const char *value, bool may_act,
                         char **out)
{
    char args[3072];
    snprintf(args, sizeof args, "%s %s '%s' " STOP, prefix, option, value);
    const int rc = tu_normlab(args);
    *out = tu_normlab_output();
    ck_assert_msg(rc == 2 || (may_act && rc == 0), "normlab %s: exit %d\n%s", args, rc, *out);
    return rc == 0 || strstr(*out, STOP) != NULL;
}

static bool takes(const char *prefix, const char *option, const char *value, char **out)
{
    return takes_acting(prefix, option, value, false, out);
}

START_TEST(test_every_integer_option_at_its_bounds)
{
    tu_tmp_make("numbers");
    ck_assert_int_gt(nl_cmd_n_int_options, 0);
    for (int r = 0; r < nl_cmd_n_int_options; r++) {
        const nl_cmd_int_option *o = &nl_cmd_int_options[r];
        ck_assert_msg(o->lo <= o->hi && o->lo > LLONG_MIN, "%s %s", o->command, o->option);
        ck_assert_ptr_eq(nl_cmd_int_option_find(o->command, o->option), o);
        char lo[32], hi[32], below[32], above[32], range[96];
        snprintf(lo, sizeof lo, "%lld", o->lo);
        snprintf(hi, sizeof hi, "%lld", o->hi);
        snprintf(below, sizeof below, "%lld", o->lo - 1);
        /* hi + 1 without overflow: LLONG_MAX + 1 is 2^63 */
        snprintf(above, sizeof above, "%llu", (unsigned long long)o->hi + 1);
        nl_range_text(range, sizeof range, o->lo, o->hi);
        const char *values[] = {lo, hi, below, above, "4294967298", "9223372036854775808",
                                "-1", "", "1x", " 1"};
        for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
            const char *v = values[k];
            /* in range: lo, hi and what lies between (2^32+2 where hi is
             * 2^63-1); everything else here is refused */
            long long parsed;
            const bool good = k < 2 || (strspn(v, "0123456789") == strlen(v) && *v &&
                                        nl_parse_ll(v, LLONG_MIN, LLONG_MAX, &parsed) &&
                                        parsed >= o->lo && parsed <= o->hi);
            char *out = NULL;
            const bool took = takes(invocation(o->command), o->option, v, &out);
            char want[256];
            snprintf(want, sizeof want, "normlab %s: %s: '%s' is not %s", o->command, o->option, v,
                     range);
            if (good)
                ck_assert_msg(took && !strstr(out, "whole number"), "%s %s '%s' refused:\n%s",
                              o->command, o->option, v, out);
            else
                ck_assert_msg(!took && strstr(out, want), "%s %s '%s': wanted \"%s\", got:\n%s",
                              o->command, o->option, v, want, out);
            free(out);
        }
    }
    tu_tmp_remove();
}
END_TEST

/* the commands: `normlab --help`'s list, and those of the table (bench
 * --run is a mode of bench with a --help of its own) */
static int commands(char names[][32], int max)
{
    ck_assert_int_eq(tu_normlab("--help"), 0);
    char *help = tu_normlab_output();
    int n = 0;
    const char *p = strstr(help, "\ncommands:\n");
    ck_assert_ptr_nonnull(p);
    for (p = strchr(p + 1, '\n') + 1; !strncmp(p, "  ", 2) && n < max; p = strchr(p, '\n') + 1)
        sscanf(p, " %31s", names[n++]);
    free(help);
    for (int r = 0; r < nl_cmd_n_int_options; r++) {
        bool known = false;
        for (int i = 0; i < n; i++)
            known |= !strcmp(names[i], nl_cmd_int_options[r].command);
        if (!known && n < max)
            snprintf(names[n++], 32, "%s", nl_cmd_int_options[r].command);
    }
    return n;
}

START_TEST(test_help_documents_no_integer_option_outside_the_table)
{
    tu_tmp_make("numbers-help");
    char names[64][32];
    const int n = commands(names, 64);
    ck_assert_int_ge(n, 10);
    int probed = 0, integer = 0;
    for (int c = 0; c < n; c++) {
        char args[256];
        snprintf(args, sizeof args, "%.200s --help", invocation(names[c]));
        ck_assert_int_eq(tu_normlab(args), 0);
        char *help = tu_normlab_output();
        char seen[4096] = " ";
        /* "--option METAVAR" and "-j N": an option documented with a value */
        for (const char *p = help; (p = strchr(p, '-')); p++) {
            if ((p > help && !isspace((unsigned char)p[-1]) && p[-1] != '[') ||
                !(isalpha((unsigned char)p[1]) || p[1] == '-'))
                continue;
            char option[64], metavar[32];
            if (sscanf(p, "%63[-a-z] %31[A-Z_]", option, metavar) != 2 || option[strlen(option) - 1] == '-')
                continue;
            /* the metavar must be a word of its own ("--out DIR", not "--set KEY=VALUE") */
            const char *after = strstr(p, metavar) + strlen(metavar);
            if (isalnum((unsigned char)*after) || *after == '=')
                continue;
            char key[80];
            snprintf(key, sizeof key, " %s ", option);
            if (strstr(seen, key) || strlen(seen) + strlen(key) >= sizeof seen)
                continue;
            strcat(seen, key + 1);
            probed++;
            const char *prefix = invocation(names[c]);
            char *out = NULL;
            /* an integer option takes a small count and refuses the rest */
            bool takes_count = false;
            for (const char *const *v = (const char *const[]){"1", "2", "8", NULL}; *v && !takes_count; v++) {
                takes_count = takes_acting(prefix, option, *v, true, &out);
                free(out);
            }
            if (!takes_count)
                continue;
            /* and every other form a value of its own kind could take
             * (Slurm's --time 1:00 and 1-0, --mem 1G) */
            bool takes_other = false;
            for (const char *const *v = (const char *const[]){"x", "1.5", "1e3", "1:00", "1-0", "1G", NULL};
                 *v && !takes_other; v++) {
                takes_other = takes_acting(prefix, option, *v, true, &out);
                free(out);
            }
            if (takes_other)
                continue;
            integer++;
            ck_assert_msg(nl_cmd_int_option_find(names[c], option),
                          "normlab %s %s %s takes whole numbers but has no row in "
                          "cmd/int_options.c: its bounds are untested", names[c], option, metavar);
        }
        free(help);
    }
    /* the scan found the options (a --help reworded past this parser would
     * leave it checking nothing), and each row of the table is documented
     * (each option found is a row, so as many found as rows is all of them) */
    ck_assert_msg(probed >= 40 && integer == nl_cmd_n_int_options,
                  "%d options probed, %d integer, %d rows in the table", probed, integer,
                  nl_cmd_n_int_options);
    tu_tmp_remove();
}
END_TEST

/* ---- the lint: integers are read by core/base/number.c alone ---- */

static const char *const parser_file = "core/base/number.c";
static const char *const banned[] = {"strtol", "strtoul", "strtoll", "strtoull", "strtoimax",
                                     "strtoumax", "atoi", "atol", "atoll"};

/* appends "FILE:LINE: NAME" to found for each call of a banned function in text */
static void scan(const char *rel, char *text, char *found, size_t size)
{
    tu_blank_c_comments(text, true);
    for (size_t b = 0; b < sizeof banned / sizeof banned[0]; b++) {
        const size_t len = strlen(banned[b]);
        for (const char *p = text; (p = strstr(p, banned[b])); p += len) {
            if (p > text && (isalnum((unsigned char)p[-1]) || p[-1] == '_'))
                continue;
            const char *q = p + len;
            while (*q == ' ')
                q++;
            if (*q != '(')
                continue;
            int line = 1;
            for (const char *c = text; c < p; c++)
                line += *c == '\n';
            const size_t used = strlen(found);
            snprintf(found + used, size - used, "  %s:%d: %s\n", rel, line, banned[b]);
        }
    }
}

/* every .c and .h under SOURCE/dir, but the parser's own file */
static int walk(const char *dir, char *found, size_t size)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", NORMLAB_SOURCE_DIR, dir);
    DIR *d = opendir(path);
    ck_assert_msg(d, "cannot open %s", path);
    int files = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.')
            continue;
        char rel[512], full[1024];
        snprintf(rel, sizeof rel, "%s/%s", dir, e->d_name);
        snprintf(full, sizeof full, "%s/%s", NORMLAB_SOURCE_DIR, rel);
        struct stat st;
        ck_assert(stat(full, &st) == 0);
        const size_t n = strlen(rel);
        if (S_ISDIR(st.st_mode)) {
            files += walk(rel, found, size);
        } else if (n > 2 && (!strcmp(rel + n - 2, ".c") || !strcmp(rel + n - 2, ".h")) &&
                   strcmp(rel, parser_file)) {
            char *text = NULL;
            nl_error err = {0};
            ck_assert_msg(nl_read_file(full, &text, NULL, &err) == NL_OK, "%s", err.msg);
            scan(rel, text, found, size);
            free(text);
            files++;
        }
    }
    closedir(d);
    return files;
}

START_TEST(test_lint_finds_a_call)
{
    char found[512] = "";
    char text[] = "x = strtol(v, &end, 10);\n/* atoi(s) */ \"atol(\" n = atoll (s); my_atoi(s); strtold(s);\n";
    scan("t.c", text, found, sizeof found);
    ck_assert_str_eq(found, "  t.c:1: strtol\n  t.c:2: atoll\n");
}
END_TEST

/* core/cuda's module (*.cu) is built apart and links nothing of core/:
 * its tuning variables are not options and stay outside the scan */
START_TEST(test_no_integer_read_outside_the_parser)
{
    static char found[16384];
    found[0] = '\0';
    const int files = walk("core", found, sizeof found) + walk("cmd", found, sizeof found);
    ck_assert_int_gt(files, 100);
    ck_assert_msg(!found[0], "integers read without core/base/number.h (nl_parse_ll / nl_parse_int):\n%s",
                  found);
}
END_TEST

/* ---- integers read back from run files ----
 * a metrics.csv row's step, a work-lock's generation and a lock holder's
 * pid go through the same parser: a sign, junk after the digits, a blank
 * before them or a value past the type's range is no value (the row or line
 * is skipped as an unreadable one is), where sscanf's "%ld" took "42x" as
 * 42, " 13" as 13, -12 as a step and 99999999999999999999 as LONG_MAX */

static long progress_of(const char *rows, long *test_step, double *train_loss)
{
    char text[1024], dir[400];
    snprintf(text, sizeof text, "step,epoch,split,loss,accuracy\n%s", rows);
    tu_tmp_write("r/metrics.csv", text);
    snprintf(dir, sizeof dir, "%s/r", tu_tmp);
    nl_run_progress p;
    nl_read_run_progress(dir, &p);
    *test_step = p.last_test_step;
    *train_loss = p.last_train_loss;
    return p.last_step;
}

static long generation_of(const char *line)
{
    char dir[400];
    tu_tmp_write("r/" NL_RUN_WORKLOCK, line);
    snprintf(dir, sizeof dir, "%s/r", tu_tmp);
    return nl_worklock_generation(dir);
}

static nl_run_writer holder_of(const char *line)
{
    char path[400];
    tu_tmp_write("holder", line);
    snprintf(path, sizeof path, "%s/holder", tu_tmp);
    const int fd = open(path, O_RDONLY);
    ck_assert(fd >= 0);
    nl_run_writer w = {0};
    nl_lock_holder_read(fd, &w);
    close(fd);
    return w;
}

START_TEST(test_run_file_integers)
{
    tu_tmp_make("numbers-runfiles");
    char dir[400];
    snprintf(dir, sizeof dir, "%s/r", tu_tmp);
    ck_assert_int_eq(mkdir(dir, 0755), 0);
    long test_step;
    double loss;
    /* valid rows read as before */
    ck_assert_int_eq(progress_of("4,0,train,0.5,0.8\n6,0,test,0.4,0.7\n", &test_step, &loss), 6);
    ck_assert_int_eq(test_step, 6);
    ck_assert(loss == 0.5);
    /* each bad step a row of its own, after the valid ones: none is read */
    static const char *const bad_steps[] = {"9x", "-12", "+13", " 13", "99999999999999999999", "0x10", ""};
    for (size_t i = 0; i < sizeof bad_steps / sizeof bad_steps[0]; i++) {
        char rows[256];
        snprintf(rows, sizeof rows, "4,0,train,0.5,0.8\n6,0,test,0.4,0.7\n%s,0,test,0.1,0.9\n%s,0,train,0.1,0.9\n",
                 bad_steps[i], bad_steps[i]);
        const long last = progress_of(rows, &test_step, &loss);
        ck_assert_msg(last == 6 && test_step == 6 && loss == 0.5, "step '%s': last step %ld, test step %ld, loss %g",
                      bad_steps[i], last, test_step, loss);
    }
    /* a work-lock's generation */
    ck_assert_int_eq(generation_of("7 claimed 123 host\n"), 7);
    static const char *const bad_generations[] = {"12abc claimed 1 h\n", "-3 claimed 1 h\n", "+3 claimed 1 h\n",
                                                  "99999999999999999999 claimed 1 h\n", "7\n"};
    for (size_t i = 0; i < sizeof bad_generations / sizeof bad_generations[0]; i++)
        ck_assert_msg(generation_of(bad_generations[i]) == 0, "'%s': generation %ld", bad_generations[i],
                      generation_of(bad_generations[i]));
    /* a lock holder's pid */
    nl_run_writer w = holder_of("42 nodeA\n");
    ck_assert_int_eq(w.pid, 42);
    ck_assert_str_eq(w.host, "nodeA");
    w = holder_of("42\n");
    ck_assert_int_eq(w.pid, 42);
    ck_assert_str_eq(w.host, "");
    static const char *const bad_holders[] = {"-5 nodeA\n", "42x nodeA\n", "99999999999 nodeA\n", "+42 nodeA\n"};
    for (size_t i = 0; i < sizeof bad_holders / sizeof bad_holders[0]; i++) {
        w = holder_of(bad_holders[i]);
        ck_assert_msg(w.pid == 0 && !w.host[0], "'%s': pid %ld, host '%s'", bad_holders[i], (long)w.pid, w.host);
    }
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("numbers");
    TCase *tc = tcase_create("numbers");
    tcase_set_timeout(tc, 600);
    tcase_add_test(tc, test_parser_cases);
    tcase_add_test(tc, test_finite_cases);
    tcase_add_test(tc, test_shard_numbers);
    tcase_add_test(tc, test_every_integer_option_at_its_bounds);
    tcase_add_test(tc, test_help_documents_no_integer_option_outside_the_table);
    tcase_add_test(tc, test_lint_finds_a_call);
    tcase_add_test(tc, test_no_integer_read_outside_the_parser);
    tcase_add_test(tc, test_run_file_integers);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
