/* The CUDA backend is a module (libnormlab_cuda.so) that
 * core/device/device.c loads on first use: a process that never asks for a GPU must not map
 * cuBLAS or the CUDA runtime (they cost every CPU run ~0.15 s and ~220 MB
 * at start), one that asks must get the same answer from every thread at
 * once (runs of a --one-process sweep), and a build without CUDA says so. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "device/device.h"
#include "log/files.h"
#include "testutil.h"

/* whether a mapped file's path contains `part` */
static bool mapped(const char *part)
{
    FILE *f = fopen("/proc/self/maps", "r");
    ck_assert(f);
    char line[4096];
    bool found = false;
    while (!found && fgets(line, sizeof line, f))
        found = strstr(line, part) != NULL;
    fclose(f);
    return found;
}

enum { THREADS = 4 };

typedef struct {
    char text[512];
    int usable;
} described;

static void *describe_in_thread(void *arg)
{
    described *d = arg;
    d->usable = nl_backend_cuda_describe(d->text, sizeof d->text);
    return NULL;
}

START_TEST(test_cuda_loaded_only_when_asked)
{
    nl_backend *be = NULL;
    nl_error err = {0};
    ck_assert_int_eq(nl_backend_open(NL_DEVICE_CPU, NULL, &be, &err), NL_OK);
    nl_backend_close(be);
    /* a CPU backend: nothing of CUDA in this process */
    ck_assert_msg(!mapped("libcublas") && !mapped("libcudart") && !mapped("libnormlab_cuda"),
                  "a process that asked for no GPU has CUDA libraries mapped");

    if (!nl_backend_cuda_built()) {
        char text[512];
        ck_assert_int_eq(nl_backend_cuda_describe(text, sizeof text), 0);
        ck_assert_msg(strstr(text, "not built"), "%s", text);
        ck_assert_int_eq(nl_backend_open(NL_DEVICE_CUDA, NULL, &be, &err), NL_ERR_UNSUPPORTED);
        ck_assert_msg(strstr(err.msg, "built without CUDA"), "%s", err.msg);
        return;
    }

    /* the first questions, from several threads at once, load it once */
    pthread_t threads[THREADS];
    described d[THREADS];
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_create(&threads[t], NULL, describe_in_thread, &d[t]), 0);
    for (int t = 0; t < THREADS; t++)
        ck_assert_int_eq(pthread_join(threads[t], NULL), 0);
    for (int t = 1; t < THREADS; t++) {
        ck_assert_str_eq(d[t].text, d[0].text);
        ck_assert_int_eq(d[t].usable, d[0].usable);
    }
    ck_assert_msg(d[0].text[0], "an empty description");
    if (strstr(d[0].text, "could not be loaded")) {
        /* the CUDA libraries are missing here: a GPU run says why */
        ck_assert(!d[0].usable);
        ck_assert_int_eq(nl_backend_open(NL_DEVICE_CUDA, NULL, &be, &err), NL_ERR_UNSUPPORTED);
        ck_assert_msg(strstr(err.msg, "could not be loaded"), "%s", err.msg);
        return;
    }
    ck_assert_msg(mapped("libnormlab_cuda"), "described (%s) without the module", d[0].text);
    ck_assert_msg(strstr(d[0].text, "libnormlab_cuda.so]"), "the module's file is not named: %s",
                  d[0].text);
    nl_error cuda_err = {0};
    const nl_code rc = nl_backend_open(NL_DEVICE_CUDA, NULL, &be, &cuda_err);
    if (d[0].usable) {
        ck_assert_msg(rc == NL_OK, "%s", cuda_err.msg);
        ck_assert_int_eq(be->device, NL_DEVICE_CUDA);
        nl_backend_close(be);
    } else {
        /* no usable GPU: refused with the reason, not a crash */
        ck_assert_int_ne(rc, NL_OK);
        ck_assert_msg(cuda_err.msg[0], "refused without a reason");
    }
}
END_TEST

/* NORMLAB_CUDA_MODULE names the module (binaries copied to a GPU machine):
 * a wrong name is reported where the GPU is asked about, and a GPU run is
 * refused, exit status 2, with nothing written; CPU runs do not care */
START_TEST(test_module_named_by_environment)
{
    if (!nl_backend_cuda_built())
        return;
    tu_tmp_make("backend_module");
    tu_tmp_write("c.yaml", "data: {dataset: synthetic, train_size: 64, test_size: 32}\n"
                           "model: {arch: mlp, widths: [8]}\n"
                           "train: {batch_size: 8, steps: 4, eval_every: 4}\n");
    ck_assert_int_eq(setenv("NORMLAB_CUDA_MODULE", "/nonexistent/libnormlab_cuda.so", 1), 0);
    ck_assert_int_eq(tu_normlab("--version"), 0);
    char *out = tu_normlab_output();
    ck_assert_msg(strstr(out, "cuda: built, but its module could not be loaded") &&
                      strstr(out, "/nonexistent/libnormlab_cuda.so"),
                  "%s", out);
    free(out);
    ck_assert_int_eq(tu_normlab("run c.yaml --device cuda --out gpu"), 2);
    out = tu_normlab_output();
    ck_assert_msg(strstr(out, "NORMLAB_CUDA_MODULE") && strstr(out, "device: cpu"), "%s", out);
    free(out);
    char gpu_dir[512];
    snprintf(gpu_dir, sizeof gpu_dir, "%s/gpu", tu_tmp);
    ck_assert(!nl_path_exists(gpu_dir));
    ck_assert_int_eq(tu_normlab("run c.yaml --out cpu"), 0);
    ck_assert_int_eq(unsetenv("NORMLAB_CUDA_MODULE"), 0);
#ifdef NORMLAB_CUDA_MODULE
    /* unset, a binary copied elsewhere with its module finds it beside it */
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "cd %s && mkdir copied && cp %s copied/normlab && cp %s copied/ && "
             "copied/normlab --version > out.txt 2>&1",
             tu_tmp, NORMLAB_BINARY, NORMLAB_CUDA_MODULE);
    ck_assert_int_eq(system(cmd), 0);
    out = tu_normlab_output();
    char want[600];
    snprintf(want, sizeof want, "[%s/copied/libnormlab_cuda.so]", tu_tmp);
    ck_assert_msg(strstr(out, want), "want %s in: %s", want, out);
    free(out);
#endif
    tu_tmp_remove();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("backend_module");
    TCase *tc = tcase_create("module");
    tcase_add_test(tc, test_cuda_loaded_only_when_asked);
    tcase_add_test(tc, test_module_named_by_environment);
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
