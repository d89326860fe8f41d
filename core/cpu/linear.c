/* Linear layer on OpenBLAS: y = x W^T + b with W (out, in), row-major. */
#include <cblas.h>
#include <string.h>

#include "cpu/cpu.h"

void nl_cpu_linear_forward(nl_backend *be, int n, int in, int out, const float *x,
                           const float *weight, const float *bias, float *y)
{
    (void)be;
    float beta = 0.0f;
    if (bias) {
        /* starting y at the bias lets sgemm add the product in its own pass */
        for (int i = 0; i < n; i++)
            memcpy(y + (size_t)i * out, bias, (size_t)out * sizeof *y);
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, weight, in, beta,
                y, out);
}

void nl_cpu_linear_backward(nl_backend *be, int n, int in, int out, const float *x,
                            const float *weight, const float *dy, float *dx, bool accumulate_dx,
                            float *dweight, float *dbias)
{
    (void)be;
    if (dx)
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, in, out, 1.0f, dy, out, weight,
                    in, accumulate_dx ? 1.0f : 0.0f, dx, in);
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, out, in, n, 1.0f, dy, out, x, in, 0.0f,
                dweight, in);
    if (dbias) {
        /* summed over the batch in row order: independent of thread count */
        #pragma omp parallel for schedule(static) if ((long)n * out >= NL_PARALLEL_MIN)
        for (int j = 0; j < out; j++) {
            float s = 0.0f;
            for (int i = 0; i < n; i++)
                s += dy[(size_t)i * out + j];
            dbias[j] = s;
        }
    }
}
