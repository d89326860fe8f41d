/* A figure's subtitle (dataset, model, fixed training settings, seeds)
 * and its series' colours. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "arch/registry.h"
#include "config/norm_label.h"
#include "norm/registry.h"
#include "optim/optim.h"
#include "plot/internal.h"

static bool varied(const nl_results *r, const char *key)
{
    const int k = nl_results_key(r, key);
    if (k < 0)
        return false;
    for (int i = 1; i < r->n_runs; i++)
        if (strcmp(r->runs[i].values[k], r->runs[0].values[k]))
            return true;
    return false;
}

static const char *cfg(const nl_results *r, const char *key)
{
    const char *v = nl_flat_get(&r->config, key);
    return v ? v : "";
}

static void list_text(const char *flow, const char *sep, char *out, size_t size)
{
    size_t k = 0;
    for (const char *p = flow; *p && k + 4 < size; p++) {
        if (*p == '[' || *p == ']' || *p == ' ')
            continue;
        if (*p == ',') {
            k += (size_t)snprintf(out + k, size - k, "%s", sep);
            continue;
        }
        out[k++] = *p;
    }
    out[k] = '\0';
}

/* a learning rate that varies only with the batch size, as the subtitle
 * says it: " lr 0.04 at batch 64, linear in the batch" (the largest batch);
 * "" when the learning rate does not follow the batch size */
static void derived_lr(const nl_results *r, char *buf, size_t size)
{
    buf[0] = '\0';
    const int lr = nl_results_key(r, "train.optimizer.lr"), bs = nl_results_key(r, "train.batch_size");
    if (lr < 0 || bs < 0 || !varied(r, "train.optimizer.lr") || !nl_results_determined(r, lr, &bs, 1))
        return;
    double lo = INFINITY, hi = -INFINITY, ratio = NAN, top_bs = -INFINITY, top_lr = NAN;
    bool linear = true;
    for (int i = 0; i < r->n_runs; i++) {
        const double l = nl_csv_num(r->runs[i].values[lr]), b = nl_csv_num(r->runs[i].values[bs]);
        if (!isfinite(l) || !(b > 0))
            continue;
        lo = fmin(lo, l);
        hi = fmax(hi, l);
        if (isnan(ratio))
            ratio = l / b;
        linear &= fabs(l / b - ratio) <= 1e-6 * fabs(ratio);
        if (b > top_bs) {
            top_bs = b;
            top_lr = l;
        }
    }
    if (!isfinite(lo))
        return;
    if (linear)
        snprintf(buf, size, " lr %g at batch %g, linear in the batch", top_lr, top_bs);
    else
        snprintf(buf, size, " lr %g to %g, set by the batch size", lo, hi);
}

/* one part of the subtitle, written piece by piece */
typedef struct {
    char text[512];
    size_t used;
} subtitle_part;

static void add(subtitle_part *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void add(subtitle_part *p, const char *fmt, ...)
{
    if (p->used >= sizeof p->text)
        return;
    va_list ap;
    va_start(ap, fmt);
    const int n = vsnprintf(p->text + p->used, sizeof p->text - p->used, fmt, ap);
    va_end(ap);
    if (n > 0)
        p->used += (size_t)n;
}

/* a part that starts with its name left out (the key varies) starts with
 * the space that followed the name */
static void drop_leading_space(subtitle_part *p)
{
    if (p->text[0] == ' ')
        memmove(p->text, p->text + 1, strlen(p->text));
}

/* "synthetic data (1x8x8 images, 4 classes), 512 training samples" */
static void data_part(const nl_results *r, subtitle_part *p)
{
    const char *dataset = cfg(r, "data.dataset");
    if (!strcmp(dataset, "synthetic")) {
        char shape[64];
        list_text(cfg(r, "data.shape"), "x", shape, sizeof shape);
        add(p, "synthetic data (%s %s, %s classes)", shape,
            strchr(shape, 'x') ? "images" : "features", cfg(r, "data.classes"));
    } else {
        add(p, "%s", dataset);
    }
    if (!varied(r, "data.train_size") && nl_csv_num(cfg(r, "data.train_size")) > 0)
        add(p, ", %s training samples", cfg(r, "data.train_size"));
}

/* the architecture's row, by the config's model.arch; NULL: a name this
 * build does not know */
static const nl_arch_info *subtitle_arch(const nl_results *r)
{
    const int a = nl_name_lookup(&nl_arch_names, cfg(r, "model.arch"));
    return a >= 0 ? nl_arch_info_of((nl_arch)a) : NULL;
}

/* the model's size by its row's summary keys: a transformer's blocks as
 * " d_model 64, layers 3, heads 4, context 32", another model's widths
 * and activation as " 256-256 relu" */
static void size_part(const nl_results *r, const nl_arch_info *arch, subtitle_part *p)
{
    static const char *const widths_summary[] = {"model.widths", "model.activation", NULL};
    const char *const *keys = arch ? arch->summary_keys : widths_summary;
    const bool blocks = arch && arch->blocks;
    for (int k = 0; k < NL_ARCH_MAX_KEYS && keys[k]; k++) {
        const char *key = keys[k];
        if (!nl_flat_get(&r->config, key) || varied(r, key))
            continue;
        char value[128];
        list_text(cfg(r, key), "-", value, sizeof value);
        if (blocks)
            add(p, "%s %s %s", k ? "," : "", key + strlen("model."), value);
        else
            add(p, " %s", value);
    }
}

/* ", group norm (8 groups) before act" or ", rms norm, placement pre" */
static void norm_part(const nl_results *r, bool blocks, subtitle_part *p)
{
    const char *norm = cfg(r, "model.norm.type");
    char label[NL_NORM_LABEL_SIZE];
    if (!varied(r, "model.norm.type")) {
        if (!strcmp(norm, "none"))
            add(p, ", no norm");
        else if (!strcmp(norm, "group") && !varied(r, "model.norm.groups"))
            add(p, ", group norm (%s groups)", cfg(r, "model.norm.groups"));
        else if (nl_norm_type_is_formula(norm)) { /* by its one name, or the legend's where it varies */
            if (!varied(r, "model.norm.expr") && !varied(r, "model.norm.name") &&
                nl_norm_label_of(&r->config, label, sizeof label))
                add(p, ", %s norm", label);
        } else
            add(p, ", %s norm", norm);
    }
    if (!varied(r, "model.norm.placement") && strcmp(norm, "none"))
        add(p, blocks ? ", placement %s" : " %s act", cfg(r, "model.norm.placement"));
}

/* "MLP 256-256 relu, batch norm before act" (no name when the
 * architecture varies) */
static void model_part(const nl_results *r, subtitle_part *p)
{
    const nl_arch_info *arch = subtitle_arch(r);
    if (!varied(r, "model.arch")) {
        char name[32];
        nl_copy_string(name, sizeof name, cfg(r, "model.arch"));
        for (char *c = name; *c; c++)
            *c = (char)toupper((unsigned char)*c);
        add(p, "%s", name);
    }
    size_part(r, arch, p);
    norm_part(r, arch && arch->blocks, p);
    drop_leading_space(p);
}

/* "SGD lr 0.1, momentum 0.9, wd 0.0005, cosine schedule, batch 64, 3
 * epochs" (no name when the optimizer varies) */
static void training_part(const nl_results *r, subtitle_part *p)
{
    if (!varied(r, "train.optimizer.type")) {
        /* the optimizer table's title; a config without the key has the default */
        const char *type = cfg(r, "train.optimizer.type");
        const int kind = type[0] ? nl_name_lookup(&nl_optim_names, type) : NL_OPTIM_SGD;
        add(p, "%s", kind >= 0 ? nl_optim_info_of((nl_optim_kind)kind)->title : type);
    }
    if (!varied(r, "train.optimizer.lr")) {
        add(p, " lr %s", cfg(r, "train.optimizer.lr"));
    } else {
        char derived[128];
        derived_lr(r, derived, sizeof derived);
        add(p, "%s", derived);
    }
    if (!varied(r, "train.optimizer.momentum") && cfg(r, "train.optimizer.momentum")[0])
        add(p, ", momentum %s", cfg(r, "train.optimizer.momentum"));
    if (!varied(r, "train.optimizer.weight_decay") &&
        nl_csv_num(cfg(r, "train.optimizer.weight_decay")) > 0)
        add(p, ", wd %s", cfg(r, "train.optimizer.weight_decay"));
    const char *schedule = cfg(r, "train.schedule.type");
    if (!varied(r, "train.schedule.type") && schedule[0] && strcmp(schedule, "constant"))
        add(p, ", %s schedule", schedule);
    if (!varied(r, "train.batch_size"))
        add(p, ", batch %s", cfg(r, "train.batch_size"));
    if (!varied(r, "train.epochs") && nl_flat_get(&r->config, "train.epochs"))
        add(p, ", %s epoch%s", cfg(r, "train.epochs"), strcmp(cfg(r, "train.epochs"), "1") ? "s" : "");
    else if (!varied(r, "train.steps") && nl_flat_get(&r->config, "train.steps"))
        add(p, ", %s step%s", cfg(r, "train.steps"), strcmp(cfg(r, "train.steps"), "1") ? "s" : "");
    drop_leading_space(p);
}

/* "3 seeds", "1 seed" (a sweep over one) or "seed 7" */
static void seeds_part(const nl_results *r, subtitle_part *p)
{
    if (r->seed_key >= 0) {
        const char *seeds[1024];
        add(p, "%d seeds", nl_results_distinct(r, r->seed_key, seeds, 1024));
    } else if (r->sweep) {
        add(p, "1 seed");
    } else {
        add(p, "seed %s", cfg(r, "seed"));
    }
    if (r->where[0]) /* a filtered plot says which runs it holds */
        add(p, ", runs with %s", r->where);
}

void pl_subtitle(const nl_results *r, char *buf, size_t size)
{
    buf[0] = '\0';
    if (!r->have_config) {
        snprintf(buf, size, "%s", r->dir);
        return;
    }
    subtitle_part data = {0}, model = {0}, training = {0}, seeds = {0};
    data_part(r, &data);
    model_part(r, &model);
    training_part(r, &training);
    seeds_part(r, &seeds);
    /* one line when it fits, two otherwise */
    const size_t total = strlen(data.text) + strlen(model.text) + strlen(training.text) +
                         strlen(seeds.text);
    snprintf(buf, size, "%s | %s%s%s | %s", data.text, model.text, total > 110 ? "\n" : " | ",
             training.text, seeds.text);
}

const char *pl_color(const char *label, int index)
{
    const int kind = nl_name_lookup(&nl_norm_names, label);
    if (kind >= 0)
        return nl_norm_info_of((nl_norm_kind)kind)->color;
    static const char *const palette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                          "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"};
    return palette[index % 10];
}
