/* The plain reference of the token ops (embedding, attention, GELU and the
 * ViT's patch, position, class-token and pooling ops in backend.h): one thread, straightforward loops, written to be read. The
 * tuned CPU kernels, and through them the CUDA ones, are tested against it
 * (tests/test_tfm_reference.c); nothing in a training run calls it.
 * Arguments as the ops of backend.h, on host memory; max_logit may be NULL
 * as there. Embedding backward keeps the op's float order exactly (a tuned
 * kernel must match it bit for bit); attention and GELU sum in double. */
#ifndef NL_TFM_REFERENCE_H
#define NL_TFM_REFERENCE_H

#include "backend/backend.h"

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

/* images as tokens (the ViT), as the ops of backend.h; the position and
 * class-token gradients keep the ops' float order exactly, the rest is
 * exact (copies) or one float division */
void nl_patchify_reference_forward(int n, int c, int h, int w, int p, const float *x, float *y);
void nl_patchify_reference_backward(int n, int c, int h, int w, int p, const float *dy,
                                    float *dx, bool accumulate_dx);
void nl_pos_add_reference_forward(int n, int t, int d, const float *x, const float *pos,
                                  float *y);
void nl_pos_add_reference_backward(int n, int t, int d, const float *dy, float *dx,
                                   bool accumulate_dx, float *dpos);
void nl_cls_prepend_reference_forward(int n, int t, int d, const float *x, const float *cls,
                                      float *y);
void nl_cls_prepend_reference_backward(int n, int t, int d, const float *dy, float *dx,
                                       bool accumulate_dx, float *dcls);
void nl_token_pool_reference_forward(nl_token_pool kind, int n, int t, int d, const float *x,
                                     float *y);
void nl_token_pool_reference_backward(nl_token_pool kind, int n, int t, int d, const float *dy,
                                      float *dx, bool accumulate_dx);

#endif
