/* `normlab bench --quick` on a small subset: the CSV has the documented
 * columns, the rows each section promises, and positive finite numbers.
 * Timings are never asserted: speed is measured by benchmarks, not tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "norm/registry.h"
#include "testutil.h"

static const char *header =
    "section,impl,setting,threads,model,norm,groups,batch,kernel,shape,mode,reps,calls,"
    "median_us,min_us,samples_per_s,median_ms,flops,gflops,ref_gflops,square_gflops,"
    "ceiling_samples_per_s,bytes_per_elem,gbps,copy_gbps,fraction,busy,flush_subnormals,"
    "cpu_model,isa,build_isa,l1d_kib,l2_kib,l3_kib,openblas_core,cpu_kernels\n";

enum { SECTION, IMPL, SETTING, THREADS, MODEL, NORM, GROUPS, BATCH, KERNEL, SHAPE, MODE, REPS,
       CALLS, MEDIAN_US, MIN_US, SAMPLES, MEDIAN_MS, FLOPS, GFLOPS, REF_GFLOPS, SQUARE, CEILING,
       BYTES, GBPS, COPY_GBPS, FRACTION, BUSY, FLUSH, CPU_MODEL, ISA, BUILD_ISA, L1D, L2, L3,
       OPENBLAS_CORE, CPU_KERNELS, N_FIELDS };

static char tmp[256];

static int normlab(const char *args)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "cd %s && %s %s > out.txt 2> err.txt", tmp, NORMLAB_BINARY, args);
    int status = system(cmd);
    ck_assert(WIFEXITED(status));
    return WEXITSTATUS(status);
}

/* splits a CSV line without quotes (the bench writes none) into fields */
static int split(char *line, char **fields, int max)
{
    int n = 0;
    line[strcspn(line, "\r\n")] = '\0';
    for (char *p = line;; p++) {
        if (n < max)
            fields[n] = p;
        n++;
        p = strchr(p, ',');
        if (!p)
            break;
        *p = '\0';
    }
    return n;
}

static double positive(char **f, int col, const char *line_desc)
{
    char *end;
    ck_assert_msg(f[col][0], "%s: column %d empty", line_desc, col);
    double v = strtod(f[col], &end);
    ck_assert_msg(*end == '\0' && isfinite(v) && v > 0, "%s: column %d is '%s'", line_desc, col,
                  f[col]);
    return v;
}

START_TEST(test_quick_csv)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
    ck_assert_int_eq(normlab("bench --quick --threads 2 --model mlp --norm batch,group,instance "
                             "--batch 8 --csv bench.csv"),
                     0);
    char path[512];
    snprintf(path, sizeof path, "%s/bench.csv", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "no %s", path);
    char line[2048];
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, header);
    int sgemm = 0, copy = 0, norm = 0, layer = 0, train = 0;
    int modes[4] = {0};
    while (fgets(line, sizeof line, f)) {
        char desc[2048];
        snprintf(desc, sizeof desc, "%s", line);
        char *fld[N_FIELDS + 1];
        ck_assert_msg(split(line, fld, N_FIELDS + 1) == N_FIELDS, "field count: %s", desc);
        ck_assert_str_eq(fld[IMPL], "normlab");
        ck_assert_msg(fld[SETTING][0], "no setting: %s", desc);
        ck_assert_int_eq((int)positive(fld, THREADS, desc), 2);
        positive(fld, REPS, desc);
        positive(fld, CALLS, desc);
        positive(fld, MEDIAN_US, desc);
        positive(fld, MIN_US, desc);
        ck_assert(strtod(fld[MIN_US], NULL) <= strtod(fld[MEDIAN_US], NULL));
        /* every row says what machine it ran on */
        ck_assert_str_eq(fld[BUSY], "0");
        ck_assert_str_eq(fld[FLUSH], "true");
        ck_assert_msg(fld[BUILD_ISA][0] && fld[OPENBLAS_CORE][0], "no build ISA or OpenBLAS core: %s",
                      desc);
        ck_assert_msg(strcmp(fld[CPU_KERNELS], nl_cpu_kernels_name()) == 0, "kernel set: %s",
                      desc);
        if (strcmp(fld[SECTION], "sgemm") == 0) {
            sgemm++;
            positive(fld, FLOPS, desc);
            positive(fld, GFLOPS, desc);
        } else if (strcmp(fld[SECTION], "copy") == 0) {
            copy++;
            ck_assert_str_eq(fld[SHAPE], "256x1024");
            positive(fld, GBPS, desc);
        } else if (strcmp(fld[SECTION], "norm") == 0) {
            norm++;
            const int kind = nl_name_lookup(&nl_norm_names, fld[NORM]);
            ck_assert_msg(kind >= 0, "unknown normalizer: %s", desc);
            const nl_norm_info *info = nl_norm_info_of((nl_norm_kind)kind);
            ck_assert_msg(info->features, "%s on features: %s", info->id.name, desc);
            ck_assert_str_eq(fld[SHAPE], "256x1024");
            if (info->keys & NL_NORM_KEY_GROUPS)
                ck_assert_int_eq((int)positive(fld, GROUPS, desc), 8);
            const char *names[] = {"fwd_train", "fwd_eval", "bwd", "fwd_bwd"};
            const double bytes[] = {8, 8, 12, 20};
            int m = -1;
            for (int i = 0; i < 4; i++)
                if (strcmp(fld[MODE], names[i]) == 0)
                    m = i;
            ck_assert_msg(m >= 0, "mode: %s", desc);
            modes[m]++;
            ck_assert_double_eq(positive(fld, BYTES, desc), bytes[m]);
            positive(fld, GBPS, desc);
            positive(fld, COPY_GBPS, desc);
            positive(fld, FRACTION, desc);
        } else if (strcmp(fld[SECTION], "layer") == 0) {
            layer++;
            ck_assert_str_eq(fld[MODEL], "mlp");
            ck_assert_int_eq((int)positive(fld, BATCH, desc), 8);
            positive(fld, FLOPS, desc);
            positive(fld, GFLOPS, desc);
            positive(fld, REF_GFLOPS, desc);
            positive(fld, SQUARE, desc);
            positive(fld, FRACTION, desc);
        } else if (strcmp(fld[SECTION], "train") == 0) {
            train++;
            ck_assert_str_eq(fld[MODEL], "mlp");
            ck_assert_int_eq((int)positive(fld, BATCH, desc), 8);
            positive(fld, SAMPLES, desc);
            positive(fld, MEDIAN_MS, desc);
            /* 784-256-256-256-10: 3x forward less fc1's input gradient, about 1.61 MFLOP */
            const double flops = positive(fld, FLOPS, desc);
            ck_assert_msg(fabs(flops - 1604608.0) < 1.0, "MLP FLOPs per sample %g", flops);
            positive(fld, CEILING, desc);
            positive(fld, FRACTION, desc);
        } else {
            ck_abort_msg("unknown section: %s", desc);
        }
    }
    fclose(f);
    ck_assert_int_eq(sgemm, 1);
    ck_assert_int_eq(copy, 1);
    ck_assert_int_eq(norm, 2 * 4); /* batch, group on (256, 1024) */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(modes[i], 2);
    ck_assert_int_eq(layer, 4 * 2); /* fc1, fc2, fc3, classifier; fwd and bwd */
    ck_assert_int_eq(train, 2);     /* batch, group (no instance norm on the mlp) */
}
END_TEST

START_TEST(test_cnn_flops_and_usage)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
    ck_assert_int_eq(normlab("bench --training --quick --threads 2 --model cnn --norm instance "
                             "--batch 2 --csv cnn.csv"),
                     0);
    char path[512];
    snprintf(path, sizeof path, "%s/cnn.csv", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "no %s", path);
    char line[2048];
    int train = 0;
    ck_assert(fgets(line, sizeof line, f));
    while (fgets(line, sizeof line, f)) {
        char *fld[N_FIELDS + 1];
        ck_assert_int_eq(split(line, fld, N_FIELDS + 1), N_FIELDS);
        if (strcmp(fld[SECTION], "train") != 0)
            continue;
        train++;
        ck_assert_str_eq(fld[NORM], "instance");
        /* conv1 225792 + conv2 3612672 + linear 31360 MACs; conv1 has no input gradient */
        const double flops = positive(fld, FLOPS, "cnn");
        ck_assert_msg(fabs(flops - 22767360.0) < 1.0, "CNN FLOPs per sample %g", flops);
        positive(fld, SAMPLES, "cnn");
    }
    fclose(f);
    ck_assert_int_eq(train, 1);

    ck_assert_int_eq(normlab("bench --norm bogus"), 2);
    ck_assert_int_eq(normlab("bench --batch 0"), 2);
    ck_assert_int_eq(normlab("bench --model resnet"), 2);
    ck_assert_int_eq(normlab("bench --help"), 0);
}
END_TEST

/* a small lm (the rows, not the speed): one train_lm row per normalizer and
 * batch, saying the model and the machine */
static const char *lm_small = "--quick --threads 2 --model lm --d-model 16 --heads 2 --layers 1 "
                              "--context 8 --vocab 11 --batch 1,3";

/* reads lm.csv under tmp: counts[kind][b] rows of kind at batches 1 (b 0) and 3 (b 1) */
static void read_lm_rows(int counts[NL_NORM_COUNT][2], const char *placement)
{
    char path[512];
    snprintf(path, sizeof path, "%s/lm.csv", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "no %s", path);
    char line[2048];
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, header);
    memset(counts, 0, sizeof(int) * NL_NORM_COUNT * 2);
    while (fgets(line, sizeof line, f)) {
        char desc[2048];
        snprintf(desc, sizeof desc, "%s", line);
        char *fld[N_FIELDS + 1];
        ck_assert_msg(split(line, fld, N_FIELDS + 1) == N_FIELDS, "field count: %s", desc);
        if (strcmp(fld[SECTION], "sgemm") == 0)
            continue;
        ck_assert_str_eq(fld[SECTION], "train_lm");
        ck_assert_str_eq(fld[MODEL], "lm");
        ck_assert_str_eq(fld[SHAPE], "d16-h2-L1-T8-V11");
        ck_assert_str_eq(fld[MODE], placement);
        ck_assert_int_eq((int)positive(fld, THREADS, desc), 2);
        positive(fld, SAMPLES, desc);
        positive(fld, MEDIAN_MS, desc);
        positive(fld, MEDIAN_US, desc);
        /* tokens/s = context x windows per second of the median step */
        const double batch = positive(fld, BATCH, desc);
        const double expect = 8.0 * batch / (strtod(fld[MEDIAN_MS], NULL) * 1e-3);
        ck_assert_msg(fabs(strtod(fld[SAMPLES], NULL) / expect - 1.0) < 1e-6, "tokens/s: %s", desc);
        ck_assert_msg(fld[CPU_MODEL][0] && fld[ISA][0] && fld[OPENBLAS_CORE][0] &&
                          fld[BUILD_ISA][0],
                      "machine columns: %s", desc);
        ck_assert_msg(strcmp(fld[CPU_KERNELS], nl_cpu_kernels_name()) == 0, "kernel set: %s",
                      desc);
        const int kind = nl_name_lookup(&nl_norm_names, fld[NORM]);
        ck_assert_msg(kind >= 0, "unknown normalizer: %s", desc);
        ck_assert_msg(batch == 1 || batch == 3, "batch: %s", desc);
        counts[kind][batch == 3]++;
    }
    fclose(f);
}

START_TEST(test_lm_rows)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
    char args[512];
    int counts[NL_NORM_COUNT][2];
    /* named normalizers, another placement */
    snprintf(args, sizeof args, "bench %s --norm rms,none --placement post --csv lm.csv", lm_small);
    ck_assert_int_eq(normlab(args), 0);
    read_lm_rows(counts, "post");
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const bool named = k == NL_NORM_RMS || k == NL_NORM_NONE;
        ck_assert_int_eq(counts[k][0], named);
        ck_assert_int_eq(counts[k][1], named);
    }
    /* without --norm: every normalizer the registry places on tokens */
    snprintf(args, sizeof args, "bench %s --csv lm.csv", lm_small);
    ck_assert_int_eq(normlab(args), 0);
    read_lm_rows(counts, "pre");
    for (int k = 0; k < NL_NORM_COUNT; k++) {
        const bool tokens = nl_norm_info_of((nl_norm_kind)k)->tokens;
        ck_assert_msg(counts[k][0] == tokens && counts[k][1] == tokens, "%s: %d, %d rows",
                      nl_name_of(&nl_norm_names, k), counts[k][0], counts[k][1]);
    }
}
END_TEST

/* a small vit: one train_vit row per batch, images/s = batch / median step */
START_TEST(test_vit_rows)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
    ck_assert_int_eq(normlab("bench --quick --threads 2 --model vit --d-model 16 --heads 2 "
                             "--layers 1 --patch 14 --norm layer --batch 1,3 --csv vit.csv"),
                     0);
    char path[512];
    snprintf(path, sizeof path, "%s/vit.csv", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "no %s", path);
    char line[2048];
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, header);
    int rows = 0;
    while (fgets(line, sizeof line, f)) {
        char desc[2048];
        snprintf(desc, sizeof desc, "%s", line);
        char *fld[N_FIELDS + 1];
        ck_assert_msg(split(line, fld, N_FIELDS + 1) == N_FIELDS, "field count: %s", desc);
        if (strcmp(fld[SECTION], "sgemm") == 0)
            continue;
        ck_assert_str_eq(fld[SECTION], "train_vit");
        ck_assert_str_eq(fld[MODEL], "vit");
        ck_assert_str_eq(fld[NORM], "layer");
        ck_assert_str_eq(fld[SHAPE], "d16-h2-L1-P14");
        const double batch = positive(fld, BATCH, desc);
        const double expect = batch / (positive(fld, MEDIAN_MS, desc) * 1e-3);
        ck_assert_msg(fabs(positive(fld, SAMPLES, desc) / expect - 1.0) < 1e-6, "images/s: %s",
                      desc);
        rows++;
    }
    fclose(f);
    ck_assert_int_eq(rows, 2);
}
END_TEST

/* bad lm options: exit 2, a message naming the option, no CSV */
START_TEST(test_lm_usage)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
    const struct {
        const char *args, *says;
    } bad[] = {
        {"--model lm --heads 3 --csv bad.csv", "heads 3"},
        {"--model lm --placement before --csv bad.csv", "placement 'before'"},
        {"--model lm --placement sideways --csv bad.csv", "sideways"},
        {"--model lm --norm instance --csv bad.csv", "instance"},
        {"--model lm --d-model 0 --csv bad.csv", "--d-model"},
        {"--model lm --vocab 1 --csv bad.csv", "--vocab"},
        {"--model lm --context x --csv bad.csv", "--context"},
        {"--model lm --layers --csv bad.csv", "--layers"},
        {"--model vit --patch 5 --csv bad.csv", "patch side 5 does not divide the 28x28"},
        {"--model vit --norm instance --csv bad.csv", "instance"},
        {"--model vit --patch 0 --csv bad.csv", "--patch"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[256];
        snprintf(args, sizeof args, "bench %s", bad[i].args);
        ck_assert_msg(normlab(args) == 2, "%s: not exit 2", bad[i].args);
        char path[512], msg[1024] = "";
        snprintf(path, sizeof path, "%s/err.txt", tmp);
        FILE *f = fopen(path, "r");
        ck_assert(f);
        const size_t got = fread(msg, 1, sizeof msg - 1, f);
        msg[got] = '\0';
        fclose(f);
        ck_assert_msg(strstr(msg, bad[i].says), "%s: message '%s' lacks '%s'", bad[i].args, msg,
                      bad[i].says);
        snprintf(path, sizeof path, "%s/bad.csv", tmp);
        ck_assert_msg(access(path, F_OK) != 0, "%s wrote %s", bad[i].args, path);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_quick_csv);
    tcase_add_test(tc, test_cnn_flops_and_usage);
    tcase_add_test(tc, test_lm_rows);
    tcase_add_test(tc, test_lm_usage);
    tcase_add_test(tc, test_vit_rows);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
