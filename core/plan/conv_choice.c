/* The conv-choice pass (plan.h: nl_plan_conv_choose): where
 * model.conv_algorithm is auto, each convolution Winograd could run goes
 * direct, winograd_f23 or winograd_f43, whichever its shape ran fastest on
 * this host.
 *
 * A shape is the geometry (channels, map, block), the run's train batch
 * and threads; its cost is measured once per host (/proc/cpuinfo's model
 * name), kernel set and shape: the forward and both gradients of each
 * algorithm on random tensors, the three in turn, the best of REPS
 * times of each kept (CPU time of the thread on one thread, else wall
 * time). The answer goes into the user's cache
 * (log/cache_dir.h: $XDG_CACHE_HOME/normlab/conv), one small file a shape
 * named by the SHA-256 of its key and holding the key, so that the next
 * plan on this host reads it and measures nothing (the key's version, 2,
 * counts the candidates: version 1's entries chose between two). Where
 * no private cache can be had the rule decides without measuring:
 * winograd_f43 on maps from 12x12 on (results/speed.md: its forward and
 * data gradient beat oneDNN's and F(2x2, 3x3)'s on the ResNet's and the
 * CNN's 3x3 layers, 16 to 64 channels at 14x14 and 28x28, where no tile
 * hangs over by more than 2 of its 4 rows), else winograd_f23 from 32
 * input and output channels on (from there its three products beat
 * oneDNN's on every layer measured, at 16 they lose), else direct. The
 * choices land in model.conv_choices, which the run's config.yaml
 * records, so a replay or resume runs them without asking the cache. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/sha256.h"
#include "cpu/cpu.h"
#include "device/device.h"
#include "layers/layer.h"
#include "log/cache_dir.h"
#include "log/files.h"
#include "log/host_facts.h"
#include "model/model.h"
#include "plan/plan.h"

enum { REPS = 3, KEY_MAX = 512 };

/* the algorithms auto chooses among, in model.conv_choices' numbering */
enum { CANDIDATES = 3 };
static const int candidates[CANDIDATES] = {NL_CONV_DIRECT, NL_CONV_WINOGRAD_F23,
                                           NL_CONV_WINOGRAD_F43};

/* the rule where nothing can be measured and kept */
static int rule_choice(const nl_conv_geom *g)
{
    if (g->in_h >= 12 && g->in_w >= 12)
        return NL_CONV_WINOGRAD_F43;
    return g->in_c >= 32 && g->out_c >= 32 ? NL_CONV_WINOGRAD_F23 : NL_CONV_DIRECT;
}

/* On one thread the calling thread's CPU time (oneDNN's primitives and
 * Winograd's kernels run on it), else the wall time: on a host whose other
 * cores are busy the wall times of one thread carry the time it waited,
 * and with them auto chose direct for the ResNet's 16 -> 16 layer at
 * 28x28 in 1 of 4 plans where winograd_f43 ran its three products 1.3x
 * faster (results/speed.md) */
static double now_s(int threads)
{
    struct timespec t;
    clock_gettime(threads == 1 ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

static float *random_floats(size_t count, unsigned *seed)
{
    float *p = aligned_alloc(64, (count * sizeof(float) + 63) / 64 * 64);
    for (size_t i = 0; p && i < count; i++) {
        *seed = *seed * 1103515245u + 12345u;
        p[i] = (float)((*seed >> 8) & 0xffff) / 65536.0f - 0.5f;
    }
    return p;
}

/* the best times (now_s) of a training step's three products of g at
 * batch n on be, one a candidate; false where it cannot run */
static bool measure(nl_backend *be, nl_conv_geom g, int n, double best[CANDIDATES])
{
    const size_t nx = (size_t)n * g.in_c * g.in_h * g.in_w;
    const size_t ny = (size_t)n * g.out_c * g.out_h * g.out_w;
    const size_t nw = (size_t)g.out_c * g.in_c * g.kernel * g.kernel;
    unsigned seed = 7;
    float *x = random_floats(nx, &seed), *dy = random_floats(ny, &seed);
    float *w = random_floats(nw, &seed), *bias = random_floats((size_t)g.out_c, &seed);
    float *y = random_floats(ny, &seed), *dx = random_floats(nx, &seed);
    float *dw = random_floats(nw, &seed), *db = random_floats((size_t)g.out_c, &seed);
    size_t bytes = 0;
    for (int a = 0; a < CANDIDATES; a++) {
        g.algorithm = (unsigned char)candidates[a];
        const size_t b = be->ops->conv2d_workspace(be, &g, n);
        bytes = b > bytes ? b : bytes;
    }
    void *ws = aligned_alloc(64, (bytes + 63) / 64 * 64 + 64);
    bool ok = x && dy && w && bias && y && dx && dw && db && ws;
    for (int a = 0; a < CANDIDATES; a++)
        best[a] = 1e30;
    /* one untimed round first: the primitives' creation, the first touch */
    for (int r = 0; ok && r <= REPS; r++)
        for (int a = 0; a < CANDIDATES; a++) {
            g.algorithm = (unsigned char)candidates[a];
            const double t0 = now_s(be->threads);
            be->ops->conv2d_forward(be, &g, n, x, w, bias, y, ws, bytes);
            be->ops->conv2d_backward(be, &g, n, x, w, dy, dx, false, dw, db, ws, bytes);
            const double t = now_s(be->threads) - t0;
            if (r > 0 && t < best[a])
                best[a] = t;
        }
    ok = ok && be->conv_fallbacks == 0;
    free(x), free(dy), free(w), free(bias), free(y), free(dx), free(dw), free(db), free(ws);
    return ok;
}

/* the cache's key of g at batch n on threads: host, kernel set, shape */
static void key_of(const nl_conv_geom *g, int n, int threads, char *key, size_t size)
{
    nl_host_facts facts;
    nl_error err = {0};
    if (nl_host_facts_read(NULL, &facts, &err) != NL_OK)
        facts.model_name[0] = 0;
    snprintf(key, size,
             "normlab conv choice 2\nhost %s\nkernels %s\nin %d out %d map %dx%d block %d "
             "batch %d threads %d\n",
             facts.model_name, nl_cpu_kernels_name(), g->in_c, g->out_c, g->in_h, g->in_w,
             g->in_block, n, threads);
}

/* the cache file of key in dir */
static void entry_path(const char *dir, const char *key, char *path, size_t size)
{
    char hex[65];
    nl_sha256_hex(key, strlen(key), hex);
    snprintf(path, size, "%s/%s", dir, hex);
}

/* the cached choice of key: its text is the key, then "choice N" and the
 * candidates' times; -1 where absent or not this key's */
static int cached(const char *path, const char *key)
{
    char *text = NULL;
    size_t len = 0;
    nl_error err = {0};
    if (!nl_path_exists(path) || nl_read_file_max(path, 4096, &text, &len, &err) != NL_OK)
        return -1;
    int choice = -1;
    const size_t key_len = strlen(key);
    if (len > key_len && !memcmp(text, key, key_len) &&
        sscanf(text + key_len, "choice %d", &choice) == 1 &&
        (choice != NL_CONV_DIRECT && choice != NL_CONV_WINOGRAD_F23 &&
         choice != NL_CONV_WINOGRAD_F43))
        choice = -1;
    free(text);
    return choice;
}

/* g's algorithm at batch n: from the cache, else measured on be (opened
 * at the first need) and kept, else the rule */
static int choose(const nl_conv_geom *g, int n, int threads, const char *dir, nl_backend **be)
{
    if (!dir)
        return rule_choice(g);
    char key[KEY_MAX], path[1200];
    key_of(g, n, threads, key, sizeof key);
    entry_path(dir, key, path, sizeof path);
    const int hit = cached(path, key);
    if (hit >= 0)
        return hit;
    nl_error err = {0};
    const nl_backend_options opt = {.threads = threads};
    if (!*be && nl_backend_open(NL_DEVICE_CPU, &opt, be, &err) != NL_OK)
        *be = NULL;
    double best[CANDIDATES];
    if (!*be || !(*be)->ops->conv_block(*be) || !measure(*be, *g, n, best))
        return rule_choice(g);
    int fastest = 0; /* a tie keeps the earlier, direct before Winograd */
    for (int a = 1; a < CANDIDATES; a++)
        if (best[a] < best[fastest])
            fastest = a;
    const int choice = candidates[fastest];
    char text[KEY_MAX + 200];
    const int len = snprintf(text, sizeof text,
                             "%schoice %d\ndirect %.6f s\nwinograd_f23 %.6f s\nwinograd_f43 %.6f s\n",
                             key, choice, best[0], best[1], best[2]);
    nl_error werr = {0};
    (void)nl_write_atomic(path, text, (size_t)len, &werr); /* unkept: measured again next time */
    return choice;
}

bool nl_plan_conv_winograd_eligible(const nl_layer *l, const nl_conv_geom *conv, int block)
{
    return block && conv->kernel == 3 && conv->stride == 1 && conv->pad == 1 &&
           conv->in_c % block == 0 && conv->out_c % block == 0 && l->in[0] &&
           l->in[0]->shape.block == block;
}

int nl_plan_conv_choice(const nl_model_spec *spec, int index)
{
    if (spec->conv_algorithm == NL_CONV_WINOGRAD_F23 || spec->conv_algorithm == NL_CONV_WINOGRAD_F43)
        return spec->conv_algorithm;
    if (spec->conv_algorithm == NL_CONV_AUTO && index < spec->n_conv_choices)
        return spec->conv_choices[index];
    return NL_CONV_DIRECT;
}

nl_code nl_plan_conv_choose(nl_model_spec *spec, const nl_plan_run *run, nl_error *err)
{
    if (spec->conv_algorithm != NL_CONV_AUTO) {
        spec->n_conv_choices = 0; /* read only under auto */
        return NL_OK;
    }
    const int given = spec->n_conv_choices;
    /* the graph as planned with every convolution direct: which ones
     * Winograd could run, and their shapes */
    nl_model_spec bare = *spec;
    bare.n_conv_choices = 0;
    nl_model *graph = NULL;
    nl_code rc = nl_plan_graph(&bare, run, &graph, err);
    if (rc != NL_OK)
        return rc;
    nl_conv_geom geoms[NL_MAX_CONV_CHOICES];
    int count = 0;
    bool over = false;
    for (int i = 0; i < graph->n_layers; i++) {
        nl_conv_geom g;
        if (!nl_conv2d_geom_of(graph->layers[i], &g) ||
            !nl_plan_conv_winograd_eligible(graph->layers[i], &g, spec->channel_block))
            continue;
        if (count == NL_MAX_CONV_CHOICES) {
            over = true;
            break;
        }
        g.in_block = g.out_block = spec->channel_block;
        geoms[count++] = g;
    }
    nl_plan_graph_done(graph);
    if (over)
        return nl_fail(err, NL_ERR_CONFIG, "model.conv_algorithm auto chooses for at most %d "
                       "convolutions, and this model has more", NL_MAX_CONV_CHOICES);
    if (given > 0) {
        if (given != count) {
            rc = nl_fail(err, NL_ERR_CONFIG, "model.conv_choices lists %d choices, and this "
                         "model's plan has %d convolutions Winograd could run (blocked 3x3 "
                         "stride-1 pad-1 ones whose input is in the block)", given, count);
            snprintf(err->key, sizeof err->key, "model.conv_choices");
            return rc;
        }
        return NL_OK; /* a record's choices, run as they are */
    }
    /* Winograd runs fp32 alone: any other precision leaves them direct */
    char dir[1024], why[256];
    const bool fp32 = run->precision == NL_PRECISION_FP32;
    const bool kept = nl_cache_dir("conv", NULL, "the convolution cost cache", dir, sizeof dir, why,
                                   sizeof why);
    const int threads = run->threads > 0 ? run->threads : 1;
    nl_backend *be = NULL;
    for (int k = 0; k < count; k++)
        spec->conv_choices[k] =
            fp32 ? choose(&geoms[k], run->train_batch, threads, kept ? dir : NULL, &be)
                 : NL_CONV_DIRECT;
    spec->n_conv_choices = count;
    if (be)
        nl_backend_close(be);
    return NL_OK;
}
