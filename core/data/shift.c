/* Domain shifts of image datasets, for fine-tuning under shift (data.shift.*,
 * data.classes_subset, data.per_class): pixel transforms on the raw [0, 1]
 * scale, a subset of the classes relabelled 0..k-1, and a few-shot subset
 * of the training split. Everything is a function of the spec and the
 * seed, so two runs of one seed see the same bytes. */
#include "data/shift.h"

/* the same bytes from every compiler and flag set (as data.c) */
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "data/tokens.h"

bool nl_data_shift_pixels(const nl_data_spec *spec)
{
    return spec->shift_invert || spec->shift_contrast != 1.0f || spec->shift_brightness != 1.0f ||
           spec->shift_offset != 0.0f || spec->shift_noise_std != 0.0f;
}

bool nl_data_shift_any(const nl_data_spec *spec)
{
    return nl_data_shift_pixels(spec) || spec->n_classes_subset > 0 || spec->per_class > 0;
}

bool nl_data_shift_uses_seed(const nl_data_spec *spec)
{
    return spec->shift_noise_std != 0.0f || spec->per_class > 0;
}

/* an error about one key (the config prefixes the key and where it was set) */
static nl_code key_fail(nl_error *err, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static nl_code key_fail(nl_error *err, const char *key, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    nl_fail(err, NL_ERR_CONFIG, "%s", msg);
    nl_error_key(err, key);
    return NL_ERR_CONFIG;
}

nl_code nl_data_shift_check(const nl_data_spec *spec, int classes, nl_error *err)
{
    if (nl_data_shift_any(spec) && nl_dataset_kind_is_tokens(spec->kind)) {
        nl_fail(err, NL_ERR_CONFIG, "data shifts and class subsets apply to images; data.dataset "
                "%s yields tokens", nl_name_of(&nl_dataset_names, (int)spec->kind));
        nl_error_key(err, "data.dataset");
        return NL_ERR_CONFIG;
    }
    if (spec->n_classes_subset < 0 || spec->n_classes_subset > NL_DATA_MAX_CLASS_SUBSET)
        return key_fail(err, "data.classes_subset", "%d classes; accepted: up to %d",
                        spec->n_classes_subset, NL_DATA_MAX_CLASS_SUBSET);
    for (int i = 0; i < spec->n_classes_subset; i++) {
        const int id = spec->classes_subset[i];
        if (id < 0 || id >= classes)
            return key_fail(err, "data.classes_subset",
                            "item %d (%d) is out of range; accepted: class ids 0 to %d",
                            i, id, classes - 1);
        for (int j = 0; j < i; j++)
            if (spec->classes_subset[j] == id)
                return key_fail(err, "data.classes_subset",
                                "item %d (%d) repeats item %d; accepted: distinct class ids",
                                i, id, j);
    }
    if (spec->per_class < 0)
        return key_fail(err, "data.per_class", "must be >= 0 (0 = all), got %ld",
                        spec->per_class);
    return NL_OK;
}

/* one image's pixels, in place */
static void shift_image(const nl_data_spec *spec, float *x, size_t chw, nl_rng *noise)
{
    if (spec->shift_invert)
        for (size_t k = 0; k < chw; k++)
            x[k] = 1.0f - x[k];
    if (spec->shift_contrast != 1.0f) {
        double sum = 0.0;
        for (size_t k = 0; k < chw; k++)
            sum += x[k];
        const double mean = sum / (double)chw;
        for (size_t k = 0; k < chw; k++)
            x[k] = (float)(mean + (double)spec->shift_contrast * ((double)x[k] - mean));
    }
    if (spec->shift_brightness != 1.0f)
        for (size_t k = 0; k < chw; k++)
            x[k] = x[k] * spec->shift_brightness;
    if (spec->shift_offset != 0.0f)
        for (size_t k = 0; k < chw; k++)
            x[k] = x[k] + spec->shift_offset;
    if (spec->shift_noise_std != 0.0f)
        for (size_t k = 0; k < chw; k++)
            x[k] = (float)((double)x[k] + (double)spec->shift_noise_std * nl_rng_normal(noise));
}

static void shift_split(const nl_data_spec *spec, nl_split *s, uint64_t stream)
{
    const size_t chw = (size_t)s->c * (size_t)s->h * (size_t)s->w;
    /* each split its own noise stream, drawn in sample order: the test
     * split's noise does not depend on how many training samples were read */
    nl_rng noise;
    nl_rng_seed(&noise, spec->seed, stream);
    for (long i = 0; i < s->n; i++)
        shift_image(spec, s->x + (size_t)i * chw, chw, &noise);
}

/* keeps the samples with keep[i] set, in their order, relabelled by map */
static void compact(nl_split *s, const unsigned char *keep, const int *map)
{
    const size_t chw = (size_t)s->c * (size_t)s->h * (size_t)s->w;
    long n = 0;
    for (long i = 0; i < s->n; i++) {
        if (!keep[i])
            continue;
        if (n != i)
            memmove(s->x + (size_t)n * chw, s->x + (size_t)i * chw, chw * sizeof(float));
        s->y[n] = map[s->y[i]];
        n++;
    }
    s->n = n;
}

static nl_code subset_split(const nl_data_spec *spec, nl_split *s, const int *map, bool few_shot,
                            int classes, nl_error *err)
{
    unsigned char *keep = malloc(s->n ? (size_t)s->n : 1);
    if (!keep)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the class subset of %ld samples",
                       s->n);
    for (long i = 0; i < s->n; i++)
        keep[i] = map[s->y[i]] >= 0;
    nl_code rc = NL_OK;
    if (few_shot) {
        /* the first per_class samples of each kept class in an order
         * shuffled from the seed */
        int32_t *order = malloc((s->n ? (size_t)s->n : 1) * sizeof *order);
        long *taken = calloc((size_t)classes, sizeof *taken);
        long *available = calloc((size_t)classes, sizeof *available);
        if (!order || !taken || !available) {
            rc = nl_fail(err, NL_ERR_NOMEM, "out of memory for the few-shot subset");
        } else {
            for (long i = 0; i < s->n; i++)
                if (keep[i])
                    available[s->y[i]]++;
            int smallest = -1;
            for (int c = 0; c < classes; c++)
                if (map[c] >= 0 && (smallest < 0 || available[c] < available[smallest]))
                    smallest = c;
            if (smallest >= 0 && available[smallest] < spec->per_class) {
                nl_fail(err, NL_ERR_CONFIG,
                        "%ld is larger than the %ld training samples of class %d, the smallest "
                        "kept class; accepted: at most %ld",
                        spec->per_class, available[smallest], smallest, available[smallest]);
                nl_error_key(err, "data.per_class");
                rc = NL_ERR_CONFIG;
            }
            if (rc == NL_OK) {
                for (int32_t i = 0; i < (int32_t)s->n; i++)
                    order[i] = i;
                nl_rng rng;
                nl_rng_seed(&rng, spec->seed, NL_STREAM_FEW_SHOT);
                nl_rng_shuffle(&rng, order, (int32_t)s->n);
                memset(keep, 0, (size_t)s->n);
                for (long k = 0; k < s->n; k++) {
                    const int32_t i = order[k];
                    const int c = s->y[i];
                    if (map[c] >= 0 && taken[c] < spec->per_class) {
                        taken[c]++;
                        keep[i] = 1;
                    }
                }
            }
        }
        free(order);
        free(taken);
        free(available);
    }
    if (rc == NL_OK)
        compact(s, keep, map);
    free(keep);
    return rc;
}

nl_code nl_data_shift_apply(const nl_data_spec *spec, nl_dataset *ds, nl_error *err)
{
    nl_code rc = nl_data_shift_check(spec, ds->classes, err);
    if (rc != NL_OK)
        return rc;
    if (nl_data_shift_pixels(spec)) {
        shift_split(spec, &ds->train, NL_STREAM_SHIFT_NOISE);
        shift_split(spec, &ds->test, NL_STREAM_SHIFT_NOISE + 1);
    }
    return nl_data_subset_apply(spec, ds, err);
}

nl_code nl_data_subset_apply(const nl_data_spec *spec, nl_dataset *ds, nl_error *err)
{
    if (spec->n_classes_subset == 0 && spec->per_class == 0)
        return NL_OK;
    int *map = malloc((size_t)ds->classes * sizeof *map);
    if (!map)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the class map");
    const int kept = spec->n_classes_subset ? spec->n_classes_subset : ds->classes;
    for (int c = 0; c < ds->classes; c++)
        map[c] = spec->n_classes_subset ? -1 : c;
    for (int i = 0; i < spec->n_classes_subset; i++)
        map[spec->classes_subset[i]] = i;
    nl_code rc = subset_split(spec, &ds->train, map, spec->per_class > 0, ds->classes, err);
    if (rc == NL_OK)
        rc = subset_split(spec, &ds->test, map, false, ds->classes, err);
    free(map);
    if (rc == NL_OK)
        ds->classes = kept;
    return rc;
}
