/* The library behind the layers' BLAS products (cpu/products.c): the choice
 * and its errors, the auto rule's boundary, every choice's products against
 * a plain double-precision sum, and through normlab run: the choice recorded
 * in summary.json, refused with exit 2 and nothing written when unknown, and
 * a run repeated under a choice giving the same numbers bit for bit. The
 * layers' goldens run again under NORMLAB_GEMM=onednn (the suites labelled
 * "kernels", tests/CMakeLists.txt). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cpu/cpu.h"
#include "testutil.h"

#ifdef NORMLAB_HAVE_ONEDNN
static const bool have_onednn = true;
#else
static const bool have_onednn = false;
#endif

START_TEST(test_choice_and_rule)
{
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_gemm_choose("openblas", &err), NL_OK);
    ck_assert(!nl_cpu_gemm_uses_onednn(4096, 4096, 4096));
    ck_assert_str_eq(nl_cpu_gemm_record(), "openblas");

    ck_assert_int_eq(nl_cpu_gemm_choose("auto", &err), NL_OK);
    /* the boundary: 16 rows and columns, 1.5 million flops */
    ck_assert(nl_cpu_gemm_uses_onednn(16, 16, 2930) == have_onednn);
    ck_assert(!nl_cpu_gemm_uses_onednn(16, 16, 2929));
    ck_assert(!nl_cpu_gemm_uses_onednn(15, 4096, 4096));
    ck_assert(!nl_cpu_gemm_uses_onednn(4096, 10, 4096)); /* a 10-class head */
    ck_assert(nl_cpu_gemm_uses_onednn(8192, 64, 64) == have_onednn);
    ck_assert_str_eq(nl_cpu_gemm_record(), have_onednn ? "auto" : "openblas");

    const nl_code onednn = nl_cpu_gemm_choose("onednn", &err);
    if (have_onednn) {
        ck_assert_int_eq(onednn, NL_OK);
        ck_assert(nl_cpu_gemm_uses_onednn(2, 2, 2));
        ck_assert_str_eq(nl_cpu_gemm_record(), "onednn");
    } else {
        ck_assert_int_eq(onednn, NL_ERR_USAGE);
        ck_assert_msg(strstr(err.msg, "built without oneDNN"), "%s", err.msg);
    }
    nl_error unknown = {0};
    ck_assert_int_eq(nl_cpu_gemm_choose("mkl", &unknown), NL_ERR_USAGE);
    ck_assert_msg(strstr(unknown.msg, "'mkl' is not a product library; accepted: auto, openblas"),
                  "%s", unknown.msg);
    ck_assert_int_eq(nl_cpu_gemm_choose("auto", &err), NL_OK);
}
END_TEST

/* C = alpha op(A) op(B) + beta C in double, row-major */
static void reference(bool ta, bool tb, int m, int n, int k, float alpha, const float *a, int lda,
                      const float *b, int ldb, float beta, float *c, int ldc)
{
    for (int i = 0; i < m; i++)
        for (int j = 0; j < n; j++) {
            double s = 0;
            for (int d = 0; d < k; d++)
                s += (double)(ta ? a[(size_t)d * lda + i] : a[(size_t)i * lda + d]) *
                     (tb ? b[(size_t)j * ldb + d] : b[(size_t)d * ldb + j]);
            c[(size_t)i * ldc + j] = (float)(alpha * s + beta * c[(size_t)i * ldc + j]);
        }
}

static void fill(float *p, size_t count, unsigned seed)
{
    for (size_t i = 0; i < count; i++)
        p[i] = (float)((i * 2654435761u + seed) % 2001u) * 1e-3f - 1.0f;
}

/* every choice, both transposes, beta 0 and 1, leading dimensions wider
 * than the rows, on shapes each side of the auto rule's boundary */
START_TEST(test_products_match_reference)
{
    static const int shapes[][3] = {{2, 10, 256}, {16, 16, 2930}, {128, 64, 64}, {64, 256, 300},
                                    {300, 17, 33}};
    static const char *const choices[] = {"openblas", "auto", "onednn"};
    for (size_t ci = 0; ci < sizeof choices / sizeof choices[0]; ci++) {
        nl_error err = {0};
        if (nl_cpu_gemm_choose(choices[ci], &err) != NL_OK)
            continue; /* onednn in a build without it: test_choice_and_rule */
        for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++)
            for (int form = 0; form < 8; form++) {
                const bool ta = form & 1, tb = form & 2;
                const float beta = (form & 4) ? 1.0f : 0.0f;
                const int m = shapes[si][0], n = shapes[si][1], k = shapes[si][2];
                const int lda = (ta ? m : k) + 3, ldb = (tb ? k : n) + 5, ldc = n + 7;
                float *a = malloc(sizeof(float) * (size_t)lda * (ta ? k : m));
                float *b = malloc(sizeof(float) * (size_t)ldb * (tb ? n : k));
                float *c = malloc(sizeof(float) * (size_t)ldc * m);
                float *want = malloc(sizeof(float) * (size_t)ldc * m);
                fill(a, (size_t)lda * (ta ? k : m), 1);
                fill(b, (size_t)ldb * (tb ? n : k), 2);
                fill(c, (size_t)ldc * m, 3);
                memcpy(want, c, sizeof(float) * (size_t)ldc * m);
                nl_cpu_sgemm(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, beta, c, ldc);
                reference(ta, tb, m, n, k, 0.5f, a, lda, b, ldb, beta, want, ldc);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        const float got = c[(size_t)i * ldc + j], w = want[(size_t)i * ldc + j];
                        ck_assert_msg(fabsf(got - w) <= 1e-5f * k + 1e-5f * fabsf(w),
                                      "%s %dx%dx%d form %d at (%d,%d): %g against %g",
                                      choices[ci], m, n, k, form, i, j, got, w);
                    }
                /* the padding past each row is not written */
                for (int i = 0; i < m; i++)
                    for (int j = n; j < ldc; j++)
                        ck_assert(c[(size_t)i * ldc + j] == want[(size_t)i * ldc + j]);
                free(a), free(b), free(c), free(want);
            }
    }
    nl_error err = {0};
    ck_assert_int_eq(nl_cpu_gemm_choose("auto", &err), NL_OK);
}
END_TEST

static int run_in_tmp(const char *env, const char *out, const char *log)
{
    char cmd[2048];
    snprintf(cmd, sizeof cmd,
             "cd %s && %s %s run %s/configs/lm-synthetic.yaml "
             "--set train.steps=4 --set train.batch_size=8 --set train.log_every=1 "
             "--set train.eval_every=4 --set data.test_size=1024 --threads 2 --quiet "
             "--out %s > %s 2>&1",
             tu_tmp, env, NORMLAB_BINARY, NORMLAB_SOURCE_DIR, out, log);
    return WEXITSTATUS(system(cmd));
}

/* metrics.csv without its elapsed_s column, the one a rerun may change */
static char *numbers_of(const char *run)
{
    char name[256];
    snprintf(name, sizeof name, "%s/metrics.csv", run);
    char *text = tu_tmp_read(name);
    const char *header_end = strchr(text, '\n');
    ck_assert_ptr_nonnull(header_end);
    int column = 0, elapsed = -1;
    for (const char *p = text; p < header_end; p++)
        if (*p == ',')
            column++;
        else if (elapsed < 0 && strncmp(p, "elapsed_s", 9) == 0)
            elapsed = column;
    ck_assert_int_ge(elapsed, 0);
    char *kept = malloc(strlen(text) + 1), *w = kept;
    column = 0;
    for (const char *p = text; *p; p++) {
        if (*p == '\n')
            column = -1;
        if (*p == ',')
            column++;
        if (column != elapsed || *p == '\n')
            *w++ = *p;
        if (*p == '\n')
            column = 0;
    }
    *w = '\0';
    free(text);
    return kept;
}

START_TEST(test_command_line)
{
    tu_tmp_make("products");
    ck_assert_int_eq(run_in_tmp("NORMLAB_GEMM=mkl", "refused", "refused.txt"), 2);
    char *log = tu_tmp_read("refused.txt");
    ck_assert_msg(strstr(log, "NORMLAB_GEMM 'mkl' is not a product library; accepted: auto"),
                  "%s", log);
    free(log);
    char path[512];
    snprintf(path, sizeof path, "%s/refused", tu_tmp);
    ck_assert_msg(access(path, F_OK) != 0, "the refused run wrote %s", path);

    const char *choice = have_onednn ? "onednn" : "openblas";
    char env[64];
    snprintf(env, sizeof env, "NORMLAB_GEMM=%s", choice);
    ck_assert_int_eq(run_in_tmp(env, "a", "a.txt"), 0);
    ck_assert_int_eq(run_in_tmp(env, "b", "b.txt"), 0);
    char *summary = tu_tmp_read("a/summary.json"), want[64];
    snprintf(want, sizeof want, "\"products\": \"%s\"", choice);
    ck_assert_msg(strstr(summary, want), "summary.json lacks %s", want);
    free(summary);
    char *first = numbers_of("a"), *second = numbers_of("b");
    ck_assert_str_eq(first, second);
    free(first), free(second);
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("products");
    TCase *tc = tcase_create("products");
    tcase_add_test(tc, test_choice_and_rule);
    tcase_add_test(tc, test_products_match_reference);
    tcase_add_test(tc, test_command_line);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
