// ctest-labels: autocast
/* train.precision end to end against PyTorch: the quickstart CNN and the
 * synthetic LM trained 20 steps by `normlab run`, each step's training loss
 * inside the seed band of PyTorch's runs of the same config
 * (experiments/bench/torch_run.py: fp32, and bf16 under
 * torch.autocast("cpu", dtype=torch.bfloat16)) over 8 seeds, widened by the
 * case's margin. The configs, their settings and the bands come from
 * tests/fixtures/autocast_e2e.nlfx (tests/golden/make_autocast_e2e.py).
 *
 * Test case "fp32" checks the fp32 runs (normlab fp32 in PyTorch's fp32
 * band); "bf16" checks that normlab's bf16 run lies in PyTorch's bf16 band
 * and that it is not the fp32 run: somewhere in the 20 steps its loss
 * differs from normlab fp32's by at least a quarter of the smallest such
 * difference PyTorch's seeds show between bf16 and fp32 (the same seed, so
 * the same weights and batches), so ignoring the key cannot pass. A
 * quarter, because normlab's bf16 accumulates in fp32 and PyTorch's
 * convolutions and matmuls on a CPU without AVX-512 accumulate in bf16:
 * measured, normlab's largest difference was about half PyTorch's least
 * (CNN 2.3e-3 against 4.7e-3, LM 5.6e-5 against 9.3e-5).
 * CK_RUN_CASE=fp32 or bf16 runs one. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "testutil.h"

#define STEPS_MAX 64
#define FASHION_IMAGES "/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte"

/* The band's widening per case (nats), measured with the generator's
 * --measure 8: normlab fp32 with seeds 1-8 against PyTorch's fp32 band of
 * seeds 1-8, the farthest step of each seed outside the band:
 *   cnn: 0.05 0.28 0.89 0.22 0.46 0.19 0.16 0.15 (band width per step
 *        0.33-1.05 nats, median 0.55; 36 of 160 steps outside)
 *   lm:  0.002 0.001 0 0 0.030 0.006 0.008 0.040 (band width 0.03-0.22,
 *        median 0.14; 19 of 160 steps outside)
 * A ninth sample falls outside the range of eight at 2 steps in 9 even when
 * both sides draw from one distribution, so some widening is needed; the
 * margin is the second largest of the eight, the widening 7 of normlab's 8
 * fp32 seeds pass. The test runs the configs' seed, 1. */
static const struct {
    const char *name;
    double margin;
} margins[] = {
    {"cnn", 0.47},
    {"lm", 0.03},
};

static double margin_of(const char *name)
{
    for (size_t i = 0; i < sizeof margins / sizeof margins[0]; i++)
        if (strcmp(margins[i].name, name) == 0)
            return margins[i].margin;
    ck_abort_msg("case %s of the fixture has no margin in margins[]", name);
    return 0.0;
}

/* the fixture's i-th case name: "names" holds them separated by spaces */
static void case_name(const tu_fixture *fx, int index, char *name, size_t size)
{
    char names[256];
    tu_get_string(fx, "names", names, sizeof names);
    const char *p = names;
    for (int i = 0; i < index && p; i++) {
        p = strchr(p, ' ');
        p = p ? p + 1 : NULL;
    }
    ck_assert_msg(p, "the fixture names %d cases, not %d", index, index + 1);
    size_t n = strcspn(p, " ");
    ck_assert(n < size);
    memcpy(name, p, n);
    name[n] = '\0';
}

/* `normlab run` of the case at `precision` into tu_tmp/<precision>; its
 * per-step training losses into losses, their count returned */
static int normlab_losses(const tu_fixture *fx, const char *name, const char *precision,
                          double *losses)
{
    char config[256], settings[512], args[2048];
    snprintf(args, sizeof args, "%s.config", name);
    tu_get_string(fx, args, config, sizeof config);
    snprintf(args, sizeof args, "%s.set", name);
    tu_get_string(fx, args, settings, sizeof settings);
    int len = snprintf(args, sizeof args, "run %s/%s --quiet --threads 2 --out %s --set "
                       "train.precision=%s", NORMLAB_SOURCE_DIR, config, precision, precision);
    for (char *s = strtok(settings, " "); s; s = strtok(NULL, " "))
        len += snprintf(args + len, sizeof args - (size_t)len, " --set %s", s);
    ck_assert((size_t)len < sizeof args);
    const int status = tu_normlab(args);
    if (status != 0) {
        char *output = tu_normlab_output();
        ck_abort_msg("normlab %s: exit %d: %s", args, status, output);
    }
    char path[512];
    snprintf(path, sizeof path, "%s/metrics.csv", precision);
    char *text = tu_tmp_read(path);
    int n = 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        long step;
        double epoch, loss;
        char split[32];
        if (sscanf(line, "%ld,%lf,%31[^,],%lf", &step, &epoch, split, &loss) != 4 ||
            strcmp(split, "train") != 0)
            continue;
        ck_assert_msg(step == n + 1 && n < STEPS_MAX, "%s %s: train row of step %ld after %d",
                      name, precision, step, n);
        losses[n++] = loss;
    }
    free(text);
    return n;
}

/* every step's loss within the seeds' [min - margin, max + margin] */
static void assert_in_band(const char *name, const char *precision, const double *losses,
                           int steps, const tu_tensor *band, double margin)
{
    const int seeds = band->dims[0];
    ck_assert_int_eq(band->dims[1], steps);
    const float *v = band->data;
    int outside = 0;
    double worst = 0.0;
    for (int s = 0; s < steps; s++) {
        double lo = INFINITY, hi = -INFINITY;
        for (int k = 0; k < seeds; k++) {
            lo = fmin(lo, v[k * steps + s]);
            hi = fmax(hi, v[k * steps + s]);
        }
        const double excess = fmax(fmax(lo - losses[s], losses[s] - hi), 0.0);
        worst = fmax(worst, excess);
        if (excess > margin) {
            outside++;
            fprintf(stderr, "%s %s step %d: loss %.5f, PyTorch's %d seeds %.5f..%.5f, margin %.4f\n",
                    name, precision, s + 1, losses[s], seeds, lo, hi, margin);
        }
    }
    printf("%s %s: %d steps, farthest outside PyTorch's band %.4f (margin %.4f)\n", name,
           precision, steps, worst, margin);
    ck_assert_msg(outside == 0, "%s %s: %d of %d steps outside PyTorch's band widened by %.4f",
                  name, precision, outside, steps, margin);
}

static const tu_tensor *band_of(const tu_fixture *fx, const char *name, const char *precision)
{
    char key[128];
    snprintf(key, sizeof key, "%s.torch_%s", name, precision);
    return tu_get(fx, key);
}

static int skip_without_data(void)
{
    if (access(FASHION_IMAGES, R_OK) == 0 || access(FASHION_IMAGES ".gz", R_OK) == 0)
        return 0;
    printf("skipped: no Fashion-MNIST at %s(.gz) (apt-get install dataset-fashion-mnist)\n",
           FASHION_IMAGES);
    return 77;
}

START_TEST(test_fp32)
{
    tu_fixture *fx = tu_fixture_load("autocast_e2e.nlfx");
    char name[64];
    case_name(fx, _i, name, sizeof name);
    tu_tmp_make("autocast-e2e");
    double losses[STEPS_MAX];
    const int steps = normlab_losses(fx, name, "fp32", losses);
    assert_in_band(name, "fp32", losses, steps, band_of(fx, name, "fp32"), margin_of(name));
    tu_tmp_remove();
    tu_fixture_free(fx);
}
END_TEST

START_TEST(test_bf16)
{
    tu_fixture *fx = tu_fixture_load("autocast_e2e.nlfx");
    char name[64];
    case_name(fx, _i, name, sizeof name);
    tu_tmp_make("autocast-e2e");
    double fp32[STEPS_MAX], bf16[STEPS_MAX];
    const int steps = normlab_losses(fx, name, "fp32", fp32);
    ck_assert_int_eq(normlab_losses(fx, name, "bf16", bf16), steps);
    assert_in_band(name, "bf16", bf16, steps, band_of(fx, name, "bf16"), margin_of(name));

    /* PyTorch's bf16 against its fp32, seed by seed: the largest relative
     * difference over the steps, and the smallest of those over the seeds */
    const tu_tensor *t32 = band_of(fx, name, "fp32"), *t16 = band_of(fx, name, "bf16");
    const float *a = t32->data, *b = t16->data;
    double torch_least = INFINITY;
    for (int k = 0; k < t32->dims[0]; k++) {
        double largest = 0.0;
        for (int s = 0; s < steps; s++)
            largest = fmax(largest, fabs(b[k * steps + s] - a[k * steps + s]) / a[k * steps + s]);
        torch_least = fmin(torch_least, largest);
    }
    double ours = 0.0;
    for (int s = 0; s < steps; s++)
        ours = fmax(ours, fabs(bf16[s] - fp32[s]) / fp32[s]);
    printf("%s: bf16 against fp32, largest relative loss difference %.3g (PyTorch's seeds: at "
           "least %.3g)\n", name, ours, torch_least);
    ck_assert_msg(ours >= 0.25 * torch_least,
                  "%s: normlab's bf16 losses differ from its fp32 ones by at most %.3g relative; "
                  "PyTorch's by at least %.3g: train.precision bf16 changed too little",
                  name, ours, torch_least);
    tu_tmp_remove();
    tu_fixture_free(fx);
}
END_TEST

int main(void)
{
    const int skip = skip_without_data();
    if (skip)
        return skip;
    char why[256];
    tu_fixture *fx = tu_fixture_read("autocast_e2e.nlfx", why, sizeof why);
    if (!fx) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    /* check's asserts (tu_get) work only inside a test: the count read directly */
    const tu_tensor *count = tu_find(fx, "cases");
    const int cases = count && count->dtype == 1 ? ((const int32_t *)count->data)[0] : 0;
    tu_fixture_free(fx);
    if (cases <= 0) {
        fprintf(stderr, "autocast_e2e.nlfx: no int32 tensor \"cases\"\n");
        return 1;
    }
    Suite *s = suite_create("autocast_e2e");
    TCase *tc32 = tcase_create("fp32");
    tcase_add_loop_test(tc32, test_fp32, 0, cases);
    suite_add_tcase(s, tc32);
    TCase *tc16 = tcase_create("bf16");
    tcase_add_loop_test(tc16, test_bf16, 0, cases);
    suite_add_tcase(s, tc16);
    return tu_run_suite(s);
}
