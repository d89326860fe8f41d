// ctest-labels: kernels
/* The channel-blocked normalizers (core/cpu/norm_blocked.c) with operands
 * in a 16-bit storage type, each row of base/storage.def with conversions
 * in turn (bf16, fp16; nl_norm_geom.io: x, y, dx, dy as uint16_t words)
 * compute, bit for bit, what the fp32 kernels compute on the widened values
 * with the 16-bit outputs then rounded to nearest even (the table's scalar
 * reference, base/precision.h): the conversions happen at the loads and
 * stores alone. For B = 8 and 16, batch statistics and per-sample
 * groups (layer, group, instance; centred and RMS), affine none, full and
 * scale only, shapes with odd n and hw and more than one chunk of pixels,
 * every op the precision pass gives 16-bit operands (norm_forward,
 * norm_forward_eval, norm_forward_act with and without the residual add,
 * norm_backward, norm_backward_act; dx written and accumulated, dskip
 * written, accumulated, or alone) runs once in fp32 on inputs exact in the
 * type and once under each of the 16 masks (DX never with an accumulated
 * dx), and every output must match: y and dx after rounding where the mask
 * stores them, the statistics, the running statistics, dgamma, dbeta and
 * dskip exactly. The fp32 outputs are checked to round differently from
 * truncation in many places, so that a store that truncated would fail.
 * And special values (ties, NaN, infinities, the largest finite values,
 * subnormals, -0, fp16's range edges) pass through a store and a load as
 * the scalar reference converts them. Each kernel set runs it (F16C in
 * x86-64-v3 and up, the scalar lanes in x86-64). */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/precision.h"
#include "norm_blocked_cases.h"
#include "testutil.h"

enum {
    X = NL_IO_MASK(NL_IO_X),
    Y = NL_IO_MASK(NL_IO_Y),
    DX = NL_IO_MASK(NL_IO_DX),
    DY = NL_IO_MASK(NL_IO_DY)
};

/* the 16-bit storage type under test: each test runs once per row of
 * base/storage.def with conversions (16-bit types) */
static nl_storage type;

static void set_type(int k)
{
    int seen = 0;
    for (int t = 0; t < NL_STORAGE_COUNT; t++)
        if (nl_storage_table[t].word && seen++ == k)
            type = (nl_storage)t;
}

static int narrow_types(void)
{
    int n = 0;
    for (int t = 0; t < NL_STORAGE_COUNT; t++)
        n += nl_storage_table[t].word != NULL;
    return n;
}

/* g's operands in mask stored in the type under test, the rest fp32 */
static void set_io(nl_norm_geom *g, unsigned mask)
{
    for (int k = 0; k < NL_IO_OPERANDS; k++)
        g->io[k] = (unsigned char)(mask & NL_IO_MASK(k) ? type : NL_STORAGE_FP32);
}

typedef struct {
    int n, c, hw;
} shape;

/* odd n and hw, one pixel, more than one 32-pixel chunk with a ragged tail */
static const shape shapes[] = {{1, 16, 1}, {3, 16, 5}, {2, 32, 33}, {5, 48, 9}, {1, 32, 70}};
enum { N_SHAPES = sizeof shapes / sizeof shapes[0] };

typedef nb_variant variant;

static size_t value_count(const shape *s) { return (size_t)s->n * s->c * s->hw; }

static uint16_t word_of(float v) { return nl_storage_table[type].word(v); }
static float widen(uint16_t h) { return nl_storage_table[type].value(h); }
static float round_to_type(float v) { return nl_round_to(nl_storage_table[type].rounds, v); }

/* an operand as the kernel reads it: a float copy, or (16-bit) the words
 * of values already exact in the type */
static void *stored(const float *v, size_t count, bool bf16)
{
    if (!bf16) {
        float *f = malloc(count * sizeof(float));
        memcpy(f, v, count * sizeof(float));
        return f;
    }
    uint16_t *h = malloc(count * sizeof(uint16_t));
    for (size_t k = 0; k < count; k++) {
        h[k] = word_of(v[k]);
        if (nl_float_bits(widen(h[k])) != nl_float_bits(v[k])) /* ck records every assert */
            ck_abort_msg("input [%zu] %.9g is not %s-exact", k, (double)v[k],
                         nl_storage_table[type].name);
    }
    return h;
}

/* an output as fp32 values, widened where it is stored 16-bit */
static void widened(const void *p, size_t count, bool bf16, float *out)
{
    if (!bf16)
        memcpy(out, p, count * sizeof(float));
    else
        for (size_t k = 0; k < count; k++)
            out[k] = widen(((const uint16_t *)p)[k]);
}

/* every output of one run, one after the other; round: the io bit that
 * stores the output 16-bit (0: always fp32) */
enum { MAX_OUTPUTS = 64 };
typedef struct {
    const char *name[MAX_OUTPUTS];
    unsigned round[MAX_OUTPUTS];
    size_t at[MAX_OUTPUTS], len[MAX_OUTPUTS];
    int count;
    float *data;
    size_t used, cap;
} results;

static void emit(results *r, const char *name, unsigned round, const float *v, size_t len)
{
    ck_assert_int_lt(r->count, MAX_OUTPUTS);
    if (r->used + len > r->cap) {
        r->cap = 2 * (r->used + len);
        r->data = realloc(r->data, r->cap * sizeof(float));
    }
    memcpy(r->data + r->used, v, len * sizeof(float));
    r->name[r->count] = name;
    r->round[r->count] = round;
    r->at[r->count] = r->used;
    r->len[r->count++] = len;
    r->used += len;
}

/* an output stored 16-bit where io has its bit */
static void emit_stored(results *r, const char *name, unsigned bit, unsigned io, const void *p,
                        size_t len)
{
    float *v = malloc(len * sizeof(float));
    widened(p, len, io & bit, v);
    emit(r, name, bit, v, len);
    free(v);
}

/* the inputs, in the blocked layout, every value x, dy and y take exact in the type */
typedef struct {
    float *x, *dy, *skip, *dx0, *dskip0, *gamma, *beta, *run_mean, *run_var;
    float *mean, *rstd; /* the statistics the backward takes: the fp32 forward's */
    float *y_act;       /* norm_backward_act's y: the fp32 forward_act's, rounded */
} inputs;

static nl_norm_geom geom_of(const shape *s, const variant *v, int b, unsigned io)
{
    nl_norm_geom g = {.n = s->n, .c = s->c, .hw = s->hw, .groups = v->groups,
                      .center = v->center, .eps = 1e-5f,
                      .stats_precision = NL_PRECISION_FP32, .block = b};
    set_io(&g, io);
    return g;
}

static void round_all(float *v, size_t count)
{
    for (size_t k = 0; k < count; k++)
        v[k] = round_to_type(v[k]);
}

static inputs make_inputs(const shape *s, uint64_t seed)
{
    const size_t count = value_count(s), c = (size_t)s->c, stats = (size_t)s->n * s->c;
    inputs in;
    float **all[] = {&in.x, &in.dy, &in.skip, &in.dx0, &in.dskip0, &in.y_act};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        *all[k] = malloc(count * sizeof(float));
    float **per_c[] = {&in.gamma, &in.beta, &in.run_mean, &in.run_var};
    for (size_t k = 0; k < sizeof per_c / sizeof per_c[0]; k++)
        *per_c[k] = malloc(c * sizeof(float));
    in.mean = malloc(stats * sizeof(float));
    in.rstd = malloc(stats * sizeof(float));
    nb_fill_inputs(seed, count, c, in.x, in.dy, in.skip, in.dx0, in.dskip0, in.gamma, in.beta,
                   in.run_mean, in.run_var);
    round_all(in.x, count);
    round_all(in.dy, count);
    return in;
}

static void free_inputs(inputs *in)
{
    float *all[] = {in->x,        in->dy,      in->skip,  in->dx0,  in->dskip0, in->gamma,
                    in->beta,     in->run_mean, in->run_var, in->mean, in->rstd,   in->y_act};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free(all[k]);
}

/* the fp32 forward_act's y, rounded (the y a backward reads as bf16 is the
 * forward's rounded output), and the fp32 forward's statistics */
static void make_refs(nl_backend *be, const shape *s, const variant *vr, int b, inputs *in)
{
    const nl_norm_geom g = geom_of(s, vr, b, 0);
    const float *gamma = vr->affine ? in->gamma : NULL, *beta = vr->affine == 1 ? in->beta : NULL;
    const size_t count = value_count(s), stats = (size_t)s->n * s->c;
    float *y = malloc(count * sizeof(float)), *mean = malloc(stats * sizeof(float));
    float *rstd = malloc(stats * sizeof(float));
    be->ops->norm_forward(be, &g, in->x, gamma, beta, y, in->mean, in->rstd, NULL, NULL, NULL);
    be->ops->norm_forward_act(be, &g, in->x, gamma, beta, in->skip, in->y_act, mean, rstd, NULL,
                              NULL, NULL);
    round_all(in->y_act, count);
    free(y);
    free(mean);
    free(rstd);
}

/* the forwards under io: y, the statistics and the running statistics */
static void run_forwards(nl_backend *be, const shape *s, const variant *vr, int b, unsigned io,
                         const inputs *in, results *r)
{
    const nl_ops *ops = be->ops;
    const nl_norm_geom g = geom_of(s, vr, b, io);
    const size_t count = value_count(s), c = (size_t)s->c;
    const size_t stats = (size_t)nl_norm_stat_groups(&g);
    const float *gamma = vr->affine ? in->gamma : NULL, *beta = vr->affine == 1 ? in->beta : NULL;
    const float momentum = 0.25f;
    void *x = stored(in->x, count, io & X);
    float *y = malloc(count * sizeof(float)); /* room for either storage */
    float *mean = malloc(stats * sizeof(float)), *rstd = malloc(stats * sizeof(float));
    float *rm = malloc(c * sizeof(float)), *rv = malloc(c * sizeof(float));

    /* norm_forward, then norm_forward_act without and with the residual add */
    static const char *names[] = {"forward y", "forward_act y", "forward_act y (skip)"};
    for (int k = 0; k < 3; k++) {
        memcpy(rm, in->run_mean, c * sizeof(float));
        memcpy(rv, in->run_var, c * sizeof(float));
        float *rmp = vr->running ? rm : NULL, *rvp = vr->running ? rv : NULL;
        if (k == 0)
            ops->norm_forward(be, &g, x, gamma, beta, y, mean, rstd, rmp, rvp, &momentum);
        else
            ops->norm_forward_act(be, &g, x, gamma, beta, k == 2 ? in->skip : NULL, y, mean,
                                  rstd, rmp, rvp, &momentum);
        emit_stored(r, names[k], Y, io, y, count);
        emit(r, "save_mean", 0, mean, stats);
        emit(r, "save_rstd", 0, rstd, stats);
        if (vr->running) {
            emit(r, "running_mean", 0, rm, c);
            emit(r, "running_var", 0, rv, c);
        }
    }
    /* per-channel statistics given (g->groups unused) */
    ops->norm_forward_eval(be, &g, x, gamma, beta, in->run_mean, in->run_var, y);
    emit_stored(r, "forward_eval y", Y, io, y, count);
    free(x);
    float *all[] = {y, mean, rstd, rm, rv};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free(all[k]);
}

/* the backwards under io (DX left out where dx is accumulated): dx, dskip,
 * dgamma, dbeta; dy is checked unchanged */
static void run_backwards(nl_backend *be, const shape *s, const variant *vr, int b, unsigned io,
                          const inputs *in, results *r)
{
    const nl_ops *ops = be->ops;
    const size_t count = value_count(s), c = (size_t)s->c;
    const float *gamma = vr->affine ? in->gamma : NULL, *beta = vr->affine == 1 ? in->beta : NULL;
    void *x = stored(in->x, count, io & X), *dy = stored(in->dy, count, io & DY);
    void *dy_before = stored(in->dy, count, io & DY);
    void *y = stored(in->y_act, count, io & Y);
    float *dx = malloc(count * sizeof(float)), *dskip = malloc(count * sizeof(float));
    float *dg = malloc(c * sizeof(float)), *db = malloc(c * sizeof(float));
    const size_t dy_bytes = count * (io & DY ? sizeof(uint16_t) : sizeof(float));

    for (int accumulate = 0; accumulate < 2; accumulate++) {
        const unsigned io_op = accumulate ? io & ~(unsigned)DX : io;
        const nl_norm_geom g = geom_of(s, vr, b, io_op);
        void *ws = malloc(ops->norm_backward_workspace(be, &g) + 1);
        memcpy(dx, in->dx0, count * sizeof(float));
        ops->norm_backward(be, &g, x, dy, gamma, in->mean, in->rstd, dx, accumulate,
                           gamma ? dg : NULL, beta ? db : NULL, ws);
        emit_stored(r, accumulate ? "backward dx accumulated" : "backward dx",
                    accumulate ? 0 : DX, io_op, dx, count);
        if (gamma)
            emit(r, "backward dgamma", 0, dg, c);
        if (beta)
            emit(r, "backward dbeta", 0, db, c);
        free(ws);
    }
    /* the fused ReLU's backward: dx and dskip written, dx accumulated and
     * dskip written, dskip alone (accumulated) */
    for (int k = 0; k < 3; k++) {
        const bool accumulate_dx = k == 1, accumulate_dskip = k != 1, no_dx = k == 2;
        const unsigned io_op = accumulate_dx ? io & ~(unsigned)DX : io;
        const nl_norm_geom g = geom_of(s, vr, b, io_op);
        void *ws = malloc(ops->norm_backward_workspace(be, &g) + 1);
        memcpy(dx, in->dx0, count * sizeof(float));
        memcpy(dskip, in->dskip0, count * sizeof(float));
        ops->norm_backward_act(be, &g, x, y, dy, gamma, in->mean, in->rstd, no_dx ? NULL : dx,
                               accumulate_dx, dskip, accumulate_dskip, gamma ? dg : NULL,
                               beta ? db : NULL, ws);
        ck_assert_msg(memcmp(dy, dy_before, dy_bytes) == 0, "norm_backward_act wrote dy");
        if (!no_dx)
            emit_stored(r, accumulate_dx ? "backward_act dx accumulated" : "backward_act dx",
                        accumulate_dx ? 0 : DX, io_op, dx, count);
        emit(r, accumulate_dskip ? "backward_act dskip accumulated" : "backward_act dskip", 0,
             dskip, count);
        if (gamma)
            emit(r, "backward_act dgamma", 0, dg, c);
        if (beta)
            emit(r, "backward_act dbeta", 0, db, c);
        free(ws);
    }
    void *all[] = {x, dy, dy_before, y, dx, dskip, dg, db};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free(all[k]);
}

/* the 16-bit run against the fp32 one: entry by entry, the fp32 value
 * rounded where io stores the output 16-bit, the same bits */
static void assert_matches(const results *want, const results *got, unsigned io,
                           const char *context)
{
    ck_assert_int_eq(got->count, want->count);
    for (int k = 0; k < want->count; k++) {
        ck_assert_str_eq(got->name[k], want->name[k]);
        ck_assert_uint_eq(got->len[k], want->len[k]);
        const float *a = want->data + want->at[k], *b = got->data + got->at[k];
        const bool rounded = (want->round[k] & io) != 0;
        for (size_t q = 0; q < want->len[k]; q++) {
            const uint32_t eb = rounded ? nl_float_bits(widen(word_of(a[q])))
                                        : nl_float_bits(a[q]);
            if (eb != nl_float_bits(b[q])) /* check records every assert: slow */
                ck_abort_msg("%s %s io %u: %s [%zu]: got %.9g (%08x), want %.9g (%08x)", context,
                             nl_storage_table[type].name, io, want->name[k], q, (double)b[q], nl_float_bits(b[q]),
                             (double)nl_bits_float(eb), eb);
        }
    }
}

/* of the fp32 run's outputs that a mask may round: how many there are and
 * how many round (to nearest even) to another value than truncation gives */
static void count_roundings(const results *r, size_t *values, size_t *up)
{
    for (int k = 0; k < r->count; k++) {
        if (!r->round[k])
            continue;
        for (size_t q = 0; q < r->len[k]; q++) {
            const float v = r->data[r->at[k] + q];
            *values += 1;
            /* truncation keeps bf16's upper half, fp16's top 10 significand bits */
            const uint32_t kept = type == NL_STORAGE_BF16 ? 0xffff0000u : 0xffffe000u;
            *up += nl_float_bits(round_to_type(v)) != (nl_float_bits(v) & kept);
        }
    }
}

START_TEST(test_stored_operands_match_fp32)
{
    set_type(_i / N_SHAPES);
    const shape *s = &shapes[_i % N_SHAPES];
    nl_backend *be = tu_cpu(2);
    be->threads = 2;
    omp_set_num_threads(2);
    inputs in = make_inputs(s, 300 + 10 * (uint64_t)_i);
    variant vs[64];
    const int nv = nb_variants_of(s->n, s->c, s->hw, vs);
    size_t values = 0, up = 0;
    for (int k = 0; k < nv; k++)
        for (int bi = 0; bi < 2; bi++) {
            const variant *v = &vs[k];
            const int b = bi ? 16 : 8;
            make_refs(be, s, v, b, &in);
            results want = {0};
            run_forwards(be, s, v, b, 0, &in, &want);
            run_backwards(be, s, v, b, 0, &in, &want);
            count_roundings(&want, &values, &up);
            for (unsigned io = 1; io < 16; io++) {
                results got = {0};
                run_forwards(be, s, v, b, io, &in, &got);
                run_backwards(be, s, v, b, io, &in, &got);
                char context[160];
                snprintf(context, sizeof context,
                         "(n %d, c %d, hw %d) B %d groups %d center %d affine %d running %d",
                         s->n, s->c, s->hw, b, v->groups, v->center, v->affine, v->running);
                assert_matches(&want, &got, io, context);
                free(got.data);
            }
            free(want.data);
        }
    /* a store that truncated would differ in these places */
    ck_assert_msg(up * 5 > values, "only %zu of %zu outputs round up", up, values);
    free_inputs(&in);
}
END_TEST

/* special values through a 16-bit store and load: norm_forward_eval with
 * mean 0, variance 1, eps 0 and no affine passes x through (x - 0) * 1 + 0,
 * so y under {Y} is nearly x rounded by the kernel's store and y under {X}
 * x widened by its load, lane by lane; each against the fp32 run, rounded
 * by the table's scalar reference */
START_TEST(test_stored_special_values)
{
    set_type(_i);
    static const uint32_t bits[] = {
        0x3f808000u, 0x3f818000u, 0xbf808000u, 0xbf818000u, /* ties, to even */
        0x3f808001u, 0x3f807fffu, 0x7f7fffffu, 0xff7fffffu, /* to infinity */
        0x7f7f7fffu, 0x7f800000u, 0xff800000u, 0x7fc00000u, /* infinities, a quiet NaN */
        0x7f800001u, 0xffa5a5a5u, 0x7fbfffffu,              /* signalling NaNs */
        0x00000001u, 0x0000ffffu, 0x00008000u, 0x00018000u, 0x807fffffu, /* subnormals */
        0x80000000u, 0x00000000u, 0x3f800000u, 0x4b7fffffu,
        /* fp16: 65504, below and at the tie above it, 2^-24, ties at
         * 2^-25 and 3 * 2^-25, the smallest normal and largest subnormal,
         * ties of 1's last significand bit */
        0x477fe000u, 0x477fefffu, 0x477ff000u, 0x33800000u, 0x33000000u, 0x33c00000u,
        0x38800000u, 0x387fc000u, 0x3f801000u, 0x3f803000u, 0xc7800000u};
    enum { COUNT = sizeof bits / sizeof bits[0], B = 8 };
    const int hw = (COUNT + B - 1) / B;
    const size_t count = (size_t)B * hw;
    float *x = calloc(count, sizeof(float)), *mean = calloc(B, sizeof(float));
    float *var = malloc(B * sizeof(float)), *y = malloc(count * sizeof(float));
    float *y16 = malloc(count * sizeof(float));
    uint16_t *h = malloc(count * sizeof(uint16_t));
    for (size_t k = 0; k < COUNT; k++)
        x[k] = nl_bits_float(bits[k]);
    for (int l = 0; l < B; l++)
        var[l] = 1.0f;
    nl_backend *be = tu_cpu(1);
    nl_norm_geom g = {.n = 1, .c = B, .hw = hw, .center = true, .eps = 0.0f,
                      .stats_precision = NL_PRECISION_FP32, .block = B};
    be->ops->norm_forward_eval(be, &g, x, NULL, NULL, mean, var, y);
    set_io(&g, Y);
    be->ops->norm_forward_eval(be, &g, x, NULL, NULL, mean, var, (float *)h);
    for (size_t k = 0; k < count; k++) {
        const uint16_t want = word_of(y[k]);
        ck_assert_msg(h[k] == want, "store of %08x (y %08x): %04x, want %04x", nl_float_bits(x[k]),
                      nl_float_bits(y[k]), h[k], want);
    }
    /* the rounded halves read back */
    for (size_t k = 0; k < count; k++)
        x[k] = widen(h[k]);
    set_io(&g, 0);
    be->ops->norm_forward_eval(be, &g, x, NULL, NULL, mean, var, y);
    set_io(&g, X);
    be->ops->norm_forward_eval(be, &g, (const float *)h, NULL, NULL, mean, var, y16);
    for (size_t k = 0; k < count; k++)
        ck_assert_msg(nl_float_bits(y16[k]) == nl_float_bits(y[k]), "load of %04x: %08x, want %08x",
                      h[k], nl_float_bits(y16[k]), nl_float_bits(y[k]));
    float *all[] = {x, mean, var, y, y16};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        free(all[k]);
    free(h);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("norm_blocked_stored");
    TCase *tc = tcase_create("cpu");
    tcase_add_loop_test(tc, test_stored_operands_match_fp32, 0, N_SHAPES * narrow_types());
    tcase_add_loop_test(tc, test_stored_special_values, 0, narrow_types());
    suite_add_tcase(s, tc);
    return tu_run_suite(s);
}
