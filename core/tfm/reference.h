/* The plain reference of the token ops (embedding, attention, GELU in
 * backend.h): one thread, straightforward loops, written to be read. The
 * tuned CPU kernels, and through them the CUDA ones, are tested against it
 * (tests/test_tfm_reference.c); nothing in a training run calls it.
 * Arguments as the ops of backend.h, on host memory; max_logit may be NULL
 * as there. Embedding backward keeps the op's float order exactly (a tuned
 * kernel must match it bit for bit); attention and GELU sum in double. */
#ifndef NL_TFM_REFERENCE_H
#define NL_TFM_REFERENCE_H

#include "backend.h"

void nl_embedding_reference_forward(int n, int t, int d, const int32_t *tokens,
                                    const float *token_table, const float *pos_table, float *y);
void nl_embedding_reference_backward(int n, int t, int d, int vocab, const int32_t *tokens,
                                     const float *dy, float *dtoken_table,
                                     bool accumulate_dtoken, float *dpos_table);

void nl_attention_reference_forward(const nl_attn_geom *g, const float *q, const float *k,
                                    const float *v, float *probs, float *y, float *max_logit);
void nl_attention_reference_backward(const nl_attn_geom *g, const float *q, const float *k,
                                     const float *v, const float *probs, const float *dy,
                                     float *dq, float *dk, float *dv);

/* one value, in double: the function and its derivative */
double nl_gelu_reference(nl_gelu_kind kind, double x);
double nl_gelu_reference_derivative(nl_gelu_kind kind, double x);
void nl_gelu_reference_forward(nl_gelu_kind kind, size_t count, const float *x, float *y);
void nl_gelu_reference_backward(nl_gelu_kind kind, size_t count, const float *x,
                                const float *dy, float *dx, bool accumulate_dx);

#endif
