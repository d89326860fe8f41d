/* `normlab bench --quick` on a small subset: the CSV has the documented
 * columns, the rows each section promises, and positive finite numbers.
 * Timings are never asserted: speed is measured by benchmarks, not tests. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench/bench.h"
#include "bench/fma_peak.h"
#include "bench/run_records.h"
#include "cpu/cpu.h"
#include "norm/registry.h"
#include "testutil.h"

static const char *header =
    "section,impl,setting,threads,model,norm,groups,batch,kernel,shape,mode,reps,calls,"
    "median_us,min_us,samples_per_s,median_ms,flops,gflops,ref_gflops,square_gflops,"
    "ceiling_samples_per_s,bytes_per_elem,gbps,copy_gbps,fraction,busy,flush_subnormals,"
    "cpu_model,isa,build_isa,l1d_kib,l2_kib,l3_kib,openblas_core,cpu_kernels,step_flops,"
    "peak_gflops,peak_share,fma_kind,fma_peak_gflops,fma_peak_share\n";

enum { SECTION, IMPL, SETTING, THREADS, MODEL, NORM, GROUPS, BATCH, KERNEL, SHAPE, MODE, REPS,
       CALLS, MEDIAN_US, MIN_US, SAMPLES, MEDIAN_MS, FLOPS, GFLOPS, REF_GFLOPS, SQUARE, CEILING,
       BYTES, GBPS, COPY_GBPS, FRACTION, BUSY, FLUSH, CPU_MODEL, ISA, BUILD_ISA, L1D, L2, L3,
       OPENBLAS_CORE, CPU_KERNELS, STEP_FLOPS, PEAK_GFLOPS, PEAK_SHARE, FMA_KIND,
       FMA_PEAK_GFLOPS, FMA_PEAK_SHARE, N_FIELDS };

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

/* experiments/bench/compare.py on the bench's CSV and a PyTorch CSV of one
 * training row at 1000 samples/s: both sides' shares of peak come from
 * normlab's FLOPs per sample and measured peak (the same FLOPs for both) */
static void check_compare_shares(double flops, double peak, double nl_share)
{
    char path[512], cmd[2048];
    snprintf(path, sizeof path, "%s/torch.csv", tmp);
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fprintf(f, "section,impl,setting,threads,model,norm,groups,batch,kernel,shape,mode,"
               "median_us,min_us,samples_per_s\n"
               "train,torch,default,2,mlp,batch,,8,train_step,,train,1,1,1000\n");
    ck_assert_int_eq(fclose(f), 0);
    snprintf(cmd, sizeof cmd,
             "cd %s && python3 %s/experiments/bench/compare.py bench.csv torch.csv --out cmp "
             "--no-plot > cmp.md 2> cmp.err",
             tmp, NORMLAB_SOURCE_DIR);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(path, sizeof path, "%s/cmp/ratios.csv", tmp);
    f = fopen(path, "r");
    ck_assert_msg(f, "no %s", path);
    char line[2048];
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_msg(strstr(line, ",ratio,normlab_share,torch_share\n"), "header: %s", line);
    int found = 0;
    while (fgets(line, sizeof line, f)) {
        char *fld[32];
        const int n = split(line, fld, 32);
        if (n < 17 || strcmp(fld[0], "train") || strcmp(fld[2], "batch"))
            continue;
        found++;
        ck_assert_double_eq_tol(strtod(fld[15], NULL), nl_share, 1e-4 * nl_share);
        const double torch_share = 1000.0 * flops / 1e9 / peak;
        ck_assert_double_eq_tol(strtod(fld[16], NULL), torch_share, 1e-4 * torch_share);
    }
    fclose(f);
    ck_assert_int_eq(found, 1);
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
    int sgemm = 0, copy = 0, norm = 0, layer = 0, train = 0, peaks = 0;
    double batch_norm_share = NAN, train_flops = NAN, train_peak = NAN;
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
        /* every row carries the measured peaks, at the bench's 2 threads: the
         * FMA peak of the kernel set's widest FMAs, and sgemm's */
        const double peak = positive(fld, PEAK_GFLOPS, desc);
        const double fma = positive(fld, FMA_PEAK_GFLOPS, desc);
        ck_assert_str_eq(fld[FMA_KIND], nl_fma_kind_name(nl_fma_kind_for(nl_cpu_kernels_isa())));
        if (strcmp(fld[SECTION], "sgemm") == 0) {
            sgemm++;
            positive(fld, FLOPS, desc);
            positive(fld, GFLOPS, desc);
        } else if (strcmp(fld[SECTION], "peak") == 0) {
            /* the probe on 1 thread and on the bench's 2: the second is the peak */
            ck_assert_str_eq(fld[SHAPE], "1024x1024x1024");
            ck_assert_msg(strcmp(fld[MODE], peaks ? "threads=2" : "threads=1") == 0, "%s", desc);
            peaks++;
            /* the CSV keeps 9 digits */
            ck_assert_double_eq_tol(positive(fld, FLOPS, desc), 2.0 * 1024 * 1024 * 1024, 100.0);
            if (peaks == 2)
                ck_assert_double_eq(positive(fld, GFLOPS, desc), peak);
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
            ck_assert_double_eq_tol(positive(fld, STEP_FLOPS, desc), 8 * flops, 1e-6 * flops);
            const double share = positive(fld, PEAK_SHARE, desc);
            ck_assert_double_eq_tol(share, positive(fld, GFLOPS, desc) / peak, 1e-6 * share);
            const double fma_share = positive(fld, FMA_PEAK_SHARE, desc);
            ck_assert_double_eq_tol(fma_share, positive(fld, GFLOPS, desc) / fma, 1e-6 * fma_share);
            if (strcmp(fld[NORM], "batch") == 0)
                batch_norm_share = share, train_flops = flops, train_peak = peak;
            positive(fld, CEILING, desc);
            positive(fld, FRACTION, desc);
        } else {
            ck_abort_msg("unknown section: %s", desc);
        }
    }
    fclose(f);
    ck_assert_int_eq(sgemm, 1);
    ck_assert_int_eq(peaks, 2);
    ck_assert_int_eq(copy, 1);
    ck_assert_int_eq(norm, 2 * 4); /* batch, group on (256, 1024) */
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(modes[i], 2);
    ck_assert_int_eq(layer, 4 * 2); /* fc1, fc2, fc3, classifier; fwd and bwd */
    ck_assert_int_eq(train, 2);     /* batch, group (no instance norm on the mlp) */
    check_compare_shares(train_flops, train_peak, batch_norm_share);
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
        if (strcmp(fld[SECTION], "sgemm") == 0 || strcmp(fld[SECTION], "peak") == 0)
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
        /* per window: 1 block of q, k, v, proj, fc1, fc2 (T*12*d^2 = 24576
         * multiply-adds), attention 2*T*T*d = 2048, the tied head T*d*V =
         * 1408: forward 2x, backward the linears' 2 products and attention's 4 */
        const double flops = positive(fld, FLOPS, desc);
        ck_assert_double_eq(flops, 2.0 * (24576 + 2048 + 1408) +
                                       2.0 * (2 * (24576 + 1408) + 2 * 2048));
        ck_assert_double_eq_tol(positive(fld, STEP_FLOPS, desc), flops * batch, 1e-6 * flops);
        positive(fld, PEAK_SHARE, desc);
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
        if (strcmp(fld[SECTION], "sgemm") == 0 || strcmp(fld[SECTION], "peak") == 0)
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

/* a small recurrent bench: a train_rnn row per cell, hidden size and
 * batch, sequences/s = batch / median step, FLOPs as the cells' products
 * count them (2-layer stack: the second layer reads the first's states) */
START_TEST(test_rnn_rows)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
    ck_assert_int_eq(normlab("bench --quick --threads 2 --model lstm,gru --hidden 8,12 "
                             "--layers 2 --context 5 --batch 1,3 --csv rnn.csv"),
                     0);
    char path[512];
    snprintf(path, sizeof path, "%s/rnn.csv", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "no %s", path);
    char line[2048];
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, header);
    int rows[NL_RNN_COUNT] = {0};
    while (fgets(line, sizeof line, f)) {
        char desc[2048];
        snprintf(desc, sizeof desc, "%s", line);
        char *fld[N_FIELDS + 1];
        ck_assert_msg(split(line, fld, N_FIELDS + 1) == N_FIELDS, "field count: %s", desc);
        if (strcmp(fld[SECTION], "sgemm") == 0 || strcmp(fld[SECTION], "peak") == 0)
            continue;
        ck_assert_str_eq(fld[SECTION], "train_rnn");
        const int cell = nl_name_lookup(&nl_rnn_cell_names, fld[MODEL]);
        ck_assert_msg(cell >= 0, "cell: %s", desc);
        ck_assert_str_eq(fld[NORM], "none");
        int hidden = 0, layers = 0, steps = 0, inputs = 0;
        ck_assert_msg(sscanf(fld[SHAPE], "H%d-L%d-T%d-I%d", &hidden, &layers, &steps, &inputs) == 4,
                      "shape: %s", desc);
        ck_assert_msg((hidden == 8 || hidden == 12) && layers == 2 && steps == 5 && inputs == 28,
                      "shape: %s", desc);
        const double batch = positive(fld, BATCH, desc);
        ck_assert_msg(batch == 1 || batch == 3, "batch: %s", desc);
        const double expect = batch / (positive(fld, MEDIAN_MS, desc) * 1e-3);
        ck_assert_msg(fabs(positive(fld, SAMPLES, desc) / expect - 1.0) < 1e-6, "seqs/s: %s",
                      desc);
        /* gates x hidden outputs per step; forward = input and recurrent
         * products of both layers and the classifier, training 3x that less
         * layer 1's input gradient */
        const double g = (cell == NL_RNN_LSTM ? 4.0 : 3.0) * hidden;
        const double l1_in = 2.0 * steps * g * 28, rec = 2.0 * steps * g * hidden;
        const double l2_in = 2.0 * steps * g * hidden, head = 2.0 * hidden * 10;
        const double flops = 3.0 * (l1_in + rec + l2_in + rec + head) - l1_in;
        ck_assert_msg(fabs(positive(fld, FLOPS, desc) / flops - 1.0) < 1e-9, "flops: %s", desc);
        ck_assert_msg(fld[CPU_MODEL][0] && fld[ISA][0] && fld[OPENBLAS_CORE][0],
                      "machine columns: %s", desc);
        rows[cell]++;
    }
    fclose(f);
    for (int c = 0; c < NL_RNN_COUNT; c++)
        ck_assert_int_eq(rows[c], 4);
}
END_TEST

/* the lstm with a normalizer inside its cell: rows per --norm naming it,
 * the in-cell step apart from the plain one, each normalizer's loss its
 * own model's (the normalized cells do not train the plain cell's way) */
START_TEST(test_rnn_norm_rows)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
    ck_assert_int_eq(normlab("bench --quick --threads 2 --model lstm --norm none,layer,rms,batch "
                             "--hidden 8 --context 5 --batch 3 --csv rnnnorm.csv"),
                     0);
    char path[512];
    snprintf(path, sizeof path, "%s/rnnnorm.csv", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "no %s", path);
    char line[2048];
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_str_eq(line, header);
    int rows[NL_NORM_COUNT] = {0};
    while (fgets(line, sizeof line, f)) {
        char desc[2048];
        snprintf(desc, sizeof desc, "%s", line);
        char *fld[N_FIELDS + 1];
        ck_assert_msg(split(line, fld, N_FIELDS + 1) == N_FIELDS, "field count: %s", desc);
        if (strcmp(fld[SECTION], "sgemm") == 0 || strcmp(fld[SECTION], "peak") == 0)
            continue;
        ck_assert_str_eq(fld[SECTION], "train_rnn");
        ck_assert_str_eq(fld[MODEL], "lstm");
        const int norm = nl_name_lookup(&nl_norm_names, fld[NORM]);
        ck_assert_msg(norm == NL_NORM_NONE || norm == NL_NORM_LAYER || norm == NL_NORM_RMS ||
                          norm == NL_NORM_BATCH,
                      "norm: %s", desc);
        ck_assert_str_eq(fld[KERNEL], norm == NL_NORM_NONE ? "train_step" : "train_step_in_cell");
        ck_assert_str_eq(fld[SHAPE], "H8-L1-T5-I28");
        positive(fld, SAMPLES, desc);
        rows[norm]++;
    }
    fclose(f);
    for (int k = 0; k < NL_NORM_COUNT; k++)
        ck_assert_int_eq(rows[k], k == NL_NORM_NONE || k == NL_NORM_LAYER || k == NL_NORM_RMS ||
                                          k == NL_NORM_BATCH);
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
        {"--model lstx --csv bad.csv", "'lstx' is not a bench model; accepted: mlp, cnn"},
        {"--model lstm --hidden 0 --csv bad.csv", "--hidden"},
        {"--model gru --hidden 8,x --csv bad.csv", "--hidden"},
        {"--model lstm --norm group --batch 4 --csv bad.csv",
         "normalizer 'group' has no form inside the recurrent cell; placement in_cell takes: "
         "layer | rms | batch"},
        {"--model lstm --norm batch --batch 1,4 --csv bad.csv", "batch 1): model: the recurrent "
                                                                 "cell's batch norm"},
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


/* ---- bench --run: the records reader, the refusals, one tiny run ---- */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert(f);
    fputs(text, f);
    fclose(f);
}

START_TEST(test_run_records)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp));
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.csv", tmp);
    /* log_every 10, eval_every 20, 60 steps: evaluations (0.5 s, and 0.25 s
     * in train mode) right after the train rows of steps 20 and 40; a step
     * takes 0.1 s; the columns in another order than normlab writes them */
    write_text(path, "split,step,loss,elapsed_s\n"
                     "test,0,2.3,0.5\n"
                     "test_trainmode,0,2.3,0.75\n"
                     "train,10,2.0,2.0\n" /* the first window: slow, left out */
                     "train,20,1.9,3.0\n"
                     "test,20,1.9,3.5\n"
                     "test_trainmode,20,1.9,3.75\n"
                     "train,30,1.8,4.75\n"
                     "train,40,1.7,5.75\n"
                     "test,40,1.7,6.25\n"
                     "train,50,1.6,7.25\n"
                     "train,60,1.5,8.25\n"
                     "test,60,1.5,8.75\n");
    nl_bench_run_records r;
    nl_error err = {0};
    ck_assert_int_eq(nl_bench_read_run_records(path, 0.0, &r, &err), NL_OK);
    ck_assert_int_eq(r.steps, 60);
    ck_assert_int_eq(r.train_rows, 6);
    ck_assert_int_eq(r.intervals, 5);
    ck_assert_int_eq(r.mixed, 0);
    ck_assert_int_eq(r.first_step, 10);
    ck_assert_int_eq(r.last_step, 60);
    ck_assert_int_eq(r.steady_steps, 50);
    ck_assert_double_eq_tol(r.steady_s, 5.0, 1e-9);
    ck_assert_double_eq_tol(r.eval_s, 1.25, 1e-9);
    ck_assert_double_eq_tol(r.wall_s, 8.75, 1e-9);
    ck_assert_double_eq_tol(nl_bench_steady_steps_per_s(&r), 10.0, 1e-9);
    /* skipping a third of the steps starts the span at step 20 */
    ck_assert_int_eq(nl_bench_read_run_records(path, 1.0 / 3.0, &r, &err), NL_OK);
    ck_assert_int_eq(r.first_step, 20);
    ck_assert_int_eq(r.steady_steps, 40);
    ck_assert_double_eq_tol(r.steady_s, 4.0, 1e-9);

    /* an evaluation in the middle of an interval (eval_every 15, log_every
     * 10): that interval is left out, the others count */
    write_text(path, "step,split,elapsed_s\n"
                     "10,train,1.0\n"
                     "20,train,2.0\n"
                     "25,test,3.0\n"
                     "30,train,3.5\n"
                     "40,train,4.5\n");
    ck_assert_int_eq(nl_bench_read_run_records(path, 0.0, &r, &err), NL_OK);
    ck_assert_int_eq(r.mixed, 1);
    ck_assert_int_eq(r.intervals, 2);
    ck_assert_int_eq(r.steady_steps, 20);
    ck_assert_double_eq_tol(r.steady_s, 2.0, 1e-9);

    const struct {
        const char *text, *says;
    } bad[] = {
        {"step,split,loss\n10,train,1\n", "elapsed_s"},
        {"step,split,elapsed_s\n10,train,1.0\n20,train,0.5\n", "backwards"},
        {"step,split,elapsed_s\n10,train,1.0\n20,train,x\n", "elapsed seconds"},
        {"step,split,elapsed_s\n10,train,1.0\n", "no steady state"},
        {"step,split,elapsed_s\n10,train,1.0\n15,test,1.5\n20,train,2.0\n", "no steady state"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_text(path, bad[i].text);
        memset(&err, 0, sizeof err);
        ck_assert_int_eq(nl_bench_read_run_records(path, 0.0, &r, &err), NL_ERR_DATA);
        ck_assert_msg(strstr(err.msg, bad[i].says), "case %zu: '%s' lacks '%s'", i, err.msg,
                      bad[i].says);
    }
    memset(&err, 0, sizeof err);
    ck_assert_int_ne(nl_bench_read_run_records("/nonexistent/metrics.csv", 0.0, &r, &err), NL_OK);
}
END_TEST

/* refusals: exit 2, a message naming the problem, nothing written */
START_TEST(test_run_usage)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp));
    char path[512];
    snprintf(path, sizeof path, "%s/experiment.yaml", tmp);
    write_text(path, "name: e\nbase:\n  model: {arch: mlp}\ngrid:\n  seed: [1, 2]\n");
    snprintf(path, sizeof path, "%s/exists", tmp);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    const char *smoke = NORMLAB_SOURCE_DIR "/configs/synthetic-smoke.yaml";
    /* CONFIG:NAME in a case: configs/NAME.yaml instead of the smoke config */
    const struct {
        const char *args, *says;
    } bad[] = {
        {"--run", "needs a value"},
        {"--torch --csv bad.csv", "belongs to --run"},
        {"--set train.steps=3 --csv bad.csv", "belongs to --run"},
        {"--run nonexistent.yaml --csv bad.csv --keep kept", "nonexistent.yaml"},
        {"--run experiment.yaml --csv bad.csv --keep kept", "an experiment file"},
        {"--run %s --model cnn --csv bad.csv --keep kept", "the step bench's"},
        {"--run %s --rounds 0 --csv bad.csv --keep kept", "--rounds"},
        {"--run %s --skip 1 --csv bad.csv --keep kept", "--skip"},
        {"--run %s --set model.norm.type=bogus --csv bad.csv --keep kept", "bogus"},
        {"--run %s --set train.checkpoint_every=10 --csv bad.csv --keep kept", "checkpoint"},
        {"--run %s --torch --set model.norm.type=dyt --csv bad.csv --keep kept", "dyt"},
        {"--run %s --torch --set model.norm.placement=after --csv bad.csv --keep kept",
         "placement"},
        {"--run %s --torch --peer nowhere.py --csv bad.csv --keep kept", "nowhere.py"},
        {"--run %s --keep exists --csv bad.csv", "exists"},
        /* the PyTorch script's rows: an architecture, a placement and an
         * in-cell normalizer it does not mirror */
        {"--run CONFIG:vit-fashion --torch --set model.arch=mixer --csv bad.csv --keep kept",
         "mirrors mlp, cnn, resnet, lm, vit, rnn and rnn_lm"},
        {"--run CONFIG:resnet-pre-layer --torch --set model.norm.type=dyt --csv bad.csv "
         "--keep kept", "mirrors none, batch, layer, group and rms"},
        {"--run CONFIG:lstm-ln-fashion --torch --set model.norm.type=batch --csv bad.csv "
         "--keep kept", "per-step recurrent batch norm"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char args[1024], given[512];
        const char *named = strstr(bad[i].args, "CONFIG:");
        if (named) {
            const int len = (int)strcspn(named + 7, " ");
            snprintf(given, sizeof given, "--run %s/configs/%.*s.yaml%s", NORMLAB_SOURCE_DIR, len,
                     named + 7, named + 7 + len);
        } else {
            snprintf(given, sizeof given, bad[i].args, smoke);
        }
        snprintf(args, sizeof args, "bench %s", given);
        ck_assert_msg(normlab(args) == 2, "%s: not exit 2", given);
        char msg[2048] = "";
        snprintf(path, sizeof path, "%s/err.txt", tmp);
        FILE *f = fopen(path, "r");
        ck_assert(f);
        msg[fread(msg, 1, sizeof msg - 1, f)] = '\0';
        fclose(f);
        ck_assert_msg(strstr(msg, bad[i].says), "%s: message '%s' lacks '%s'", given, msg,
                      bad[i].says);
        snprintf(path, sizeof path, "%s/bad.csv", tmp);
        ck_assert_msg(access(path, F_OK) != 0, "%s wrote bad.csv", given);
        snprintf(path, sizeof path, "%s/kept", tmp);
        ck_assert_msg(access(path, F_OK) != 0, "%s made its --keep directory", given);
    }
    ck_assert_int_eq(normlab("bench --run --help"), 0);
}
END_TEST

/* bench GIVEN exits 2 naming `says` (and `also`, unless NULL), writing nothing */
static void expect_refusal(const char *given, const char *says, const char *also)
{
    char args[1200], path[512], msg[4096] = "";
    snprintf(args, sizeof args, "bench %s", given);
    ck_assert_msg(normlab(args) == 2, "%s: not exit 2", given);
    snprintf(path, sizeof path, "%s/err.txt", tmp);
    FILE *f = fopen(path, "r");
    ck_assert(f);
    msg[fread(msg, 1, sizeof msg - 1, f)] = '\0';
    fclose(f);
    ck_assert_msg(strstr(msg, says), "%s: message '%s' lacks '%s'", given, msg, says);
    ck_assert_msg(!also || strstr(msg, also), "%s: message '%s' lacks '%s'", given, msg, also);
    snprintf(path, sizeof path, "%s/bad.csv", tmp);
    ck_assert_msg(access(path, F_OK) != 0, "%s wrote bad.csv", given);
    snprintf(path, sizeof path, "%s/kept", tmp);
    ck_assert_msg(access(path, F_OK) != 0, "%s made its --keep directory", given);
}

/* the PyTorch side's refusals, every --torch-mode of the table: an
 * unknown mode names them all; a Python without torch, or with a torch
 * older than the mode needs (a stand-in torch package of version 1.12.1,
 * older than every mode's minimum), or no --python and no .venv-peer, is
 * refused before anything is written, naming why and how to install the
 * peer. No real torch is needed: the stand-ins are python3 -S (no site
 * packages) with and without the stand-in on its path. */
START_TEST(test_run_peer_refusals)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp));
    char path[512], given[1024];
    const char *smoke = NORMLAB_SOURCE_DIR "/configs/synthetic-smoke.yaml";
    const char *peer = NORMLAB_SOURCE_DIR "/experiments/bench/torch_run.py";
    snprintf(path, sizeof path, "%s/old", tmp);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/old/torch", tmp);
    ck_assert_int_eq(mkdir(path, 0755), 0);
    snprintf(path, sizeof path, "%s/old/torch/__init__.py", tmp);
    write_text(path, "__version__ = '1.12.1+cpu'\n");
    snprintf(path, sizeof path, "%s/no-torch", tmp);
    write_text(path, "#!/bin/sh\nexec python3 -S \"$@\"\n");
    ck_assert_int_eq(chmod(path, 0755), 0);
    snprintf(path, sizeof path, "%s/old-torch", tmp);
    snprintf(given, sizeof given, "#!/bin/sh\nPYTHONPATH=%s/old exec python3 -S \"$@\"\n", tmp);
    write_text(path, given);
    ck_assert_int_eq(chmod(path, 0755), 0);

    snprintf(given, sizeof given, "--run %s --torch --torch-mode bogus --csv bad.csv --keep kept",
             smoke);
    for (int m = 0; m < nl_torch_mode_names.count; m++)
        expect_refusal(given, "'bogus'", nl_name_of(&nl_torch_mode_names, m));
    snprintf(given, sizeof given, "--run %s --torch-mode eager --csv bad.csv --keep kept", smoke);
    expect_refusal(given, "only with --torch", NULL);
    snprintf(given, sizeof given, "--run %s --torch --peer %s --csv bad.csv --keep kept", smoke,
             peer);
    expect_refusal(given, "no .venv-peer/bin/python", "requirements-peer.txt");
    for (int m = 0; m < nl_torch_mode_names.count; m++) {
        const char *mode = nl_name_of(&nl_torch_mode_names, m);
        snprintf(given, sizeof given, "--run %s --torch --torch-mode %s --python %s/no-torch "
                 "--peer %s --csv bad.csv --keep kept", smoke, mode, tmp, peer);
        expect_refusal(given, "has no torch", mode);
        snprintf(given, sizeof given, "--run %s --torch --torch-mode %s --python %s/old-torch "
                 "--peer %s --csv bad.csv --keep kept", smoke, mode, tmp, peer);
        expect_refusal(given, "1.12.1+cpu is older than", "requirements-peer.txt");
    }
}
END_TEST

/* A stand-in for torch_run.py (no torch needed): eager at 10 steps per
 * 0.2 s, compile at 10 per 0.1 s with compile_s 12.5, max-autotune exit 3
 * (does not compile); the records as torch_run.py writes them. Its
 * --check reads the resolved config from stdin and refuses seed 7. */
static const char stand_in_peer[] =
    "import json, os, sys\n"
    "args = sys.argv[1:]\n"
    "if '--check' in args:\n"
    "    config = sys.stdin.read()\n"
    "    if 'eval_batch_size:' not in config:\n"
    "        sys.exit('stand-in: --check was not given the resolved config')\n"
    "    if 'seed: 7' in config:\n"
    "        sys.exit(print('stand-in: seed 7 is not mirrored', file=sys.stderr) or 2)\n"
    "    sys.exit(0)\n"
    "mode = args[args.index('--mode') + 1]\n"
    "if '--probe' in args:\n"
    "    sys.exit(0)\n"
    "if mode == 'max-autotune':\n"
    "    print('stand-in: max-autotune does not compile', file=sys.stderr)\n"
    "    sys.exit(3)\n"
    "out = args[args.index('--out') + 1]\n"
    "os.makedirs(out)\n"
    "window = {'eager': 0.2, 'compile': 0.1}[mode]\n"
    "with open(os.path.join(out, 'metrics.csv'), 'w') as f:\n"
    "    f.write('step,epoch,split,loss,accuracy,lr,elapsed_s\\n')\n"
    "    for k in range(1, 7):\n"
    "        f.write('%d,0,train,1,0.5,0.1,%.6f\\n' % (10 * k, window * k))\n"
    "with open(os.path.join(out, 'summary.json'), 'w') as f:\n"
    "    json.dump({'status': 'ok', 'impl': 'torch', 'mode': mode, 'threads': 1,\n"
    "               'compile_s': None if mode == 'eager' else 12.5}, f)\n";

/* --torch-mode best over two rounds against the stand-in: each mode that
 * runs has its rows (mode, steady rate, compile seconds), max-autotune is
 * left out after its exit 3 (one note, no row, the run goes on), the peer
 * is the faster mode on every row, and normlab's ratio is against it */
START_TEST(test_run_best_peer)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp));
    char path[512], line[4096];
    snprintf(path, sizeof path, "%s/peer.py", tmp);
    write_text(path, stand_in_peer);
    snprintf(path, sizeof path, "%s/python", tmp);
    write_text(path, "#!/bin/sh\nexec python3 \"$@\"\n");
    ck_assert_int_eq(chmod(path, 0755), 0);
    ck_assert_int_eq(normlab("bench --run " NORMLAB_SOURCE_DIR "/configs/synthetic-smoke.yaml "
                             "--set train.steps=60 --set train.log_every=10 --set train.eval_every=30 "
                             "--set data.shape=[256] --set model.widths=[256,256] "
                             "--set train.batch_size=128 --torch --python ./python --peer peer.py "
                             "--rounds 2 --threads 1 --csv run.csv"), 0);
    static char err[16384];
    snprintf(path, sizeof path, "%s/err.txt", tmp);
    FILE *f = fopen(path, "r");
    ck_assert(f);
    err[fread(err, 1, sizeof err - 1, f)] = '\0';
    fclose(f);
    const char *note = "torch max-autotune does not compile this model";
    const char *first = strstr(err, note);
    ck_assert_msg(first && !strstr(first + 1, note), "one left-out note: %s", err);
    snprintf(path, sizeof path, "%s/run.csv", tmp);
    f = fopen(path, "r");
    ck_assert(f);
    ck_assert(fgets(line, sizeof line, f));
    int torch_rows[NL_TORCH_MODE_COUNT] = {0}, normlab_rows = 0;
    while (fgets(line, sizeof line, f)) {
        char *fld[64];
        ck_assert_int_eq(split(line, fld, 64), 45);
        ck_assert_str_eq(fld[41], "compile"); /* peer_mode: the faster */
        positive(fld, 44, "fma_peak_share"); /* both sides' share of the FMA peak */
        const double per_s = atof(fld[15]);
        if (!strcmp(fld[1], "torch")) {
            const int mode = nl_name_lookup(&nl_torch_mode_names, fld[39]);
            ck_assert_msg(mode == NL_TORCH_EAGER || mode == NL_TORCH_COMPILE, "mode %s", fld[39]);
            torch_rows[mode]++;
            /* 10 steps of 128 samples per window */
            ck_assert_double_eq_tol(per_s, mode == NL_TORCH_EAGER ? 6400.0 : 12800.0, 1e-3);
            ck_assert_str_eq(fld[40], mode == NL_TORCH_EAGER ? "" : "12.500");
        } else {
            ck_assert_str_eq(fld[1], "normlab");
            normlab_rows++;
            ck_assert_str_eq(fld[39], "");
            ck_assert_double_eq_tol(atof(fld[22]), per_s / 12800.0, 1e-4 * per_s / 12800.0);
        }
    }
    fclose(f);
    ck_assert_int_eq(normlab_rows, 2);
    ck_assert_int_eq(torch_rows[NL_TORCH_EAGER], 2);
    ck_assert_int_eq(torch_rows[NL_TORCH_COMPILE], 2);
    ck_assert_int_eq(torch_rows[NL_TORCH_MAX_AUTOTUNE], 0);
}
END_TEST

/* the PyTorch script has the last word on what it mirrors: bench --run
 * pipes it the resolved config (--check), and a refusal there is bench's,
 * exit 2 with the script's reason and nothing written */
START_TEST(test_run_peer_check)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp));
    char path[512];
    snprintf(path, sizeof path, "%s/peer.py", tmp);
    write_text(path, stand_in_peer);
    snprintf(path, sizeof path, "%s/python", tmp);
    write_text(path, "#!/bin/sh\nexec python3 \"$@\"\n");
    ck_assert_int_eq(chmod(path, 0755), 0);
    expect_refusal("--run " NORMLAB_SOURCE_DIR "/configs/synthetic-smoke.yaml --set seed=7 "
                   "--torch --python ./python --peer peer.py --csv bad.csv --keep kept",
                   "stand-in: seed 7 is not mirrored", "does not mirror this config");
}
END_TEST

/* one round of a small run (no PyTorch): the rows and the kept records
 * agree; no time is asserted. metrics.csv counts milliseconds, so the
 * steps are made big enough (~3 ms) that an interval of ten lasts a few */
START_TEST(test_run_round)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp));
    ck_assert_int_eq(normlab("bench --run " NORMLAB_SOURCE_DIR "/configs/synthetic-smoke.yaml "
                             "--set train.steps=60 --set train.log_every=10 --set train.eval_every=30 "
                             "--set data.shape=[256] --set model.widths=[256,256] "
                             "--set train.batch_size=128 "
                             "--rounds 1 --threads 1 --csv run.csv --keep kept"), 0);
    char path[512], line[2048];
    snprintf(path, sizeof path, "%s/run.csv", tmp);
    FILE *f = fopen(path, "r");
    ck_assert(f);
    ck_assert(fgets(line, sizeof line, f));
    ck_assert_msg(strstr(line, "section,impl,round,order,config,model,norm,batch") == line,
                  "header: %s", line);
    ck_assert(strstr(line, "steady_per_s") && strstr(line, "openblas_core") &&
              strstr(line, "cpu_model") && strstr(line, "isa"));
    ck_assert(fgets(line, sizeof line, f));
    char *fld[64];
    ck_assert_int_eq(split(line, fld, 64), 45);
    ck_assert_str_eq(fld[0], "run");
    ck_assert_str_eq(fld[1], "normlab");
    ck_assert_str_eq(fld[5], "mlp");
    ck_assert_str_eq(fld[6], "batch");
    ck_assert_str_eq(fld[7], "128");
    ck_assert_str_eq(fld[9], "1");   /* threads */
    ck_assert_str_eq(fld[10], "60"); /* steps */
    ck_assert_str_eq(fld[11], "10"); /* the steady span opens after the first window */
    ck_assert_str_eq(fld[12], "60");
    ck_assert_str_eq(fld[13], "50");
    positive(fld, 14, "steady_s");
    const double per_s = positive(fld, 15, "steady_per_s");
    const double step_ms = positive(fld, 16, "step_ms");
    ck_assert_double_eq_tol(per_s * step_ms / 1e3, 128.0, 1e-3); /* samples per step */
    positive(fld, 20, "process_s");
    positive(fld, 21, "process_cpu_s");
    /* FLOPs per step, 128 samples of 256 -> 256 -> 256 -> 4: fc1 forward and
     * weight gradient (its input is the data), fc2 forward, weight and input
     * gradients, the classifier's the same */
    const double step_flops = positive(fld, 35, "step_flops");
    ck_assert_double_eq(step_flops, 128.0 * (2 * 2 * 65536 + 3 * 2 * 65536 + 3 * 2 * 256 * 4));
    const double gflops = positive(fld, 36, "gflops");
    ck_assert_double_eq_tol(gflops, per_s / 128.0 * step_flops / 1e9, 1e-5 * gflops);
    const double share = positive(fld, 38, "peak_share");
    ck_assert_double_eq_tol(share, gflops / positive(fld, 37, "peak_gflops"), 1e-5 * share);
    /* torch_mode, compile_s, peer_mode: empty without --torch */
    ck_assert_str_eq(fld[39], "");
    ck_assert_str_eq(fld[40], "");
    ck_assert_str_eq(fld[41], "");
    /* the FMA peak at the run's 1 thread, and the share of it */
    ck_assert_str_eq(fld[42], nl_fma_kind_name(nl_fma_kind_for(nl_cpu_kernels_isa())));
    const double fma_share = positive(fld, 44, "fma_peak_share");
    ck_assert_double_eq_tol(fma_share, gflops / positive(fld, 43, "fma_peak_gflops"),
                            1e-5 * fma_share);
    ck_assert(!fgets(line, sizeof line, f));
    fclose(f);
    /* the kept run is the one the row read */
    nl_bench_run_records r;
    nl_error err = {0};
    snprintf(path, sizeof path, "%s/kept/normlab-1/metrics.csv", tmp);
    ck_assert_int_eq(nl_bench_read_run_records(path, 0.1, &r, &err), NL_OK);
    ck_assert_int_eq(r.steady_steps, 50);
    snprintf(path, sizeof path, "%s/kept/config.yaml", tmp);
    ck_assert_msg(access(path, R_OK) == 0, "no resolved config kept");
}
END_TEST

/* every option the help's synopsis names is one the parser knows (the
 * options are tables in cmd/bench_options.c): a flag is taken (the next
 * argument is the one refused), an option with a value asks for it */
/* The machine columns on every host met (tests/fixtures/hosts) and this
 * one: the model name as the kernel gives it, an extension in `isa`
 * exactly where the kernel shows it, and the caches in order of level
 * (a recording's from lscpu, one instance each). */
static void machine_columns_on_host(const char *name, const nl_host_facts *h, bool recorded,
                                    void *ctx)
{
    (void)ctx;
    nl_bench_machine m;
    nl_bench_machine_of_host(h, &m);
    ck_assert_str_eq(m.cpu_model, h->model_name);
    char isa[sizeof m.isa + 2];
    snprintf(isa, sizeof isa, "+%s+", m.isa);
    static const char *const shown[] = {"avx512f", "avx2", "fma", "sse4_2"};
    for (size_t i = 0; i < sizeof shown / sizeof shown[0]; i++) {
        char want[32];
        snprintf(want, sizeof want, "+%s+", shown[i]);
        ck_assert_msg((strstr(isa, want) != NULL) == nl_host_has_flag(h, shown[i]),
                      "%s: isa '%s' and the kernel's %s disagree", name, m.isa, shown[i]);
    }
    if (recorded)
        ck_assert_msg(m.l1d_kib > 0 && m.l1d_kib < m.l2_kib && m.l2_kib < m.l3_kib,
                      "%s: caches %d, %d, %d KiB", name, m.l1d_kib, m.l2_kib, m.l3_kib);
    printf("%s: %s, %s, caches %d/%d/%d KiB\n", name, m.cpu_model, m.isa, m.l1d_kib, m.l2_kib,
           m.l3_kib);
}

START_TEST(test_machine_on_every_host)
{
    ck_assert_int_ge(tu_each_host(machine_columns_on_host, NULL), 2);
}
END_TEST

START_TEST(test_help_options_parse)
{
    snprintf(tmp, sizeof tmp, "/tmp/normlab-bench-XXXXXX");
    ck_assert(mkdtemp(tmp) != NULL);
    ck_assert_int_eq(normlab("bench --help"), 0);
    char path[512];
    snprintf(path, sizeof path, "%s/out.txt", tmp);
    FILE *f = fopen(path, "r");
    ck_assert_msg(f, "no %s", path);
    char synopsis[4096] = "";
    char line[512];
    /* the synopsis: the lines before the first blank one */
    while (fgets(line, sizeof line, f) && strcmp(line, "\n") != 0)
        strncat(synopsis, line, sizeof synopsis - strlen(synopsis) - 1);
    fclose(f);
    int options = 0;
    for (char *at = strstr(synopsis, "[--"); at; at = strstr(at + 1, "[--")) {
        char option[64];
        const size_t len = strcspn(at + 1, " ]");
        ck_assert(len < sizeof option);
        memcpy(option, at + 1, len);
        option[len] = '\0';
        const bool takes_value = at[1 + len] == ' ';
        char args[128], want[160];
        snprintf(args, sizeof args, takes_value ? "bench %s" : "bench %s --bogus", option);
        snprintf(want, sizeof want, takes_value ? "%s needs a value" : "unexpected argument '--bogus'",
                 option);
        ck_assert_int_eq(normlab(args), 2);
        snprintf(path, sizeof path, "%s/err.txt", tmp);
        f = fopen(path, "r");
        ck_assert_msg(f, "no %s", path);
        ck_assert(fgets(line, sizeof line, f));
        fclose(f);
        ck_assert_msg(strstr(line, want), "%s: %s (wanted '%s')", args, line, want);
        options++;
    }
    ck_assert_int_ge(options, 20);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("bench");
    TCase *tc = tcase_create("bench");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_quick_csv);
    tcase_add_test(tc, test_machine_on_every_host);
    tcase_add_test(tc, test_cnn_flops_and_usage);
    tcase_add_test(tc, test_help_options_parse);
    tcase_add_test(tc, test_lm_rows);
    tcase_add_test(tc, test_lm_usage);
    tcase_add_test(tc, test_vit_rows);
    tcase_add_test(tc, test_rnn_rows);
    tcase_add_test(tc, test_rnn_norm_rows);
    tcase_add_test(tc, test_run_records);
    tcase_add_test(tc, test_run_usage);
    tcase_add_test(tc, test_run_peer_refusals);
    tcase_add_test(tc, test_run_best_peer);
    tcase_add_test(tc, test_run_peer_check);
    tcase_add_test(tc, test_run_round);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
