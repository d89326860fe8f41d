/* The convolution library's entry points in a build without oneDNN
 * (conv_onednn.h): nothing runs on it, every op answers that normlab's
 * own path runs. conv_onednn.c is the library's side. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu/conv_onednn.h"
#include "cpu/cpu.h"

#ifndef NORMLAB_HAVE_ONEDNN

const char *nl_cpu_onednn_version(void) { return NULL; }

nl_code nl_cpu_onednn_open(nl_conv_library choice, nl_cpu_onednn **out, nl_error *err)
{
    (void)choice;
    (void)err;
    *out = NULL;
    return NL_OK;
}

void nl_cpu_onednn_close(nl_cpu_onednn *state) { (void)state; }

const char *nl_cpu_onednn_kernels(const nl_cpu_onednn *state)
{
    (void)state;
    return NULL;
}

void nl_cpu_onednn_kernels_note(nl_backend *be, const char *name)
{
    (void)be;
    (void)name;
}

void nl_cpu_onednn_system_set(const nl_cpu_onednn_system *sys) { (void)sys; }

bool nl_cpu_onednn_runs(const nl_backend *be, const nl_conv_geom *g)
{
    (void)be;
    (void)g;
    return false;
}

bool nl_cpu_onednn_chosen(const nl_backend *be, const nl_conv_geom *g)
{
    (void)be;
    (void)g;
    return false;
}

int nl_cpu_onednn_block(const nl_backend *be)
{
    (void)be;
    return 0;
}

size_t nl_cpu_onednn_conv_workspace(nl_backend *be, const nl_conv_geom *g, int n)
{
    (void)be;
    (void)g;
    (void)n;
    return 0;
}

bool nl_cpu_onednn_conv_forward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                                const float *weight, const float *bias, float *y,
                                void *workspace, size_t workspace_bytes)
{
    (void)be, (void)g, (void)n, (void)x, (void)weight, (void)bias, (void)y, (void)workspace;
    (void)workspace_bytes;
    return false;
}

bool nl_cpu_onednn_conv_backward(nl_backend *be, const nl_conv_geom *g, int n, const float *x,
                                 const float *weight, const float *dy, float *dx,
                                 bool accumulate_dx, float *dweight, float *dbias,
                                 void *workspace, size_t workspace_bytes)
{
    (void)be, (void)g, (void)n, (void)x, (void)weight, (void)dy, (void)dx;
    (void)accumulate_dx, (void)dweight, (void)dbias, (void)workspace, (void)workspace_bytes;
    return false;
}


#endif
