#include "data/share.h"
#include "data/shift.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

typedef struct entry {
    bool tokens;           /* which of the two it holds */
    nl_data_spec spec;
    long min_window;       /* tokens only */
    nl_dataset images;
    nl_token_dataset text;
    int users;             /* runs holding it now */
    struct entry *next;
} entry;

struct nl_data_share {
    pthread_mutex_t lock;
    entry *entries;
    long loads;
};

nl_code nl_data_share_new(nl_data_share **out, nl_error *err)
{
    nl_data_share *share = calloc(1, sizeof *share);
    if (!share)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory for the shared datasets");
    pthread_mutex_init(&share->lock, NULL);
    *out = share;
    return NL_OK;
}

static void free_entry(entry *e)
{
    nl_dataset_free(&e->images);
    nl_token_dataset_free(&e->text);
    free(e);
}

void nl_data_share_free(nl_data_share *share)
{
    if (!share)
        return;
    for (entry *e = share->entries, *next; e; e = next) {
        next = e->next;
        free_entry(e);
    }
    pthread_mutex_destroy(&share->lock);
    free(share);
}

/* the copies no run holds go before another is loaded, so that a sweep over
 * several datasets holds no more than its runs in flight need */
static void drop_unused(nl_data_share *share)
{
    for (entry **at = &share->entries; *at;) {
        entry *e = *at;
        if (e->users == 0) {
            *at = e->next;
            free_entry(e);
        } else
            at = &e->next;
    }
}

/* the entry for (tokens, spec, min_window), loaded if there is none; the
 * lock is held while loading, so runs asking for the same dataset at once
 * wait for the first one's copy instead of loading their own */
static entry *acquire(nl_data_share *share, bool tokens, const nl_data_spec *run_spec,
                      long min_window, nl_code *rc, nl_error *err)
{
    /* the run's seed is in every spec, but only generated data (and data
     * shifted with noise or a few-shot choice) depends on it: a grid over
     * seeds of one file's data shares that file's copy */
    nl_data_spec key = *run_spec;
    if (!nl_data_from_seed(key.kind) && !nl_data_shift_uses_seed(&key))
        key.seed = 0;
    const nl_data_spec *spec = &key;
    pthread_mutex_lock(&share->lock);
    entry *found = NULL;
    for (entry *e = share->entries; e && !found; e = e->next)
        if (e->tokens == tokens && e->min_window == min_window &&
            memcmp(&e->spec, spec, sizeof *spec) == 0)
            found = e;
    *rc = NL_OK;
    if (!found) {
        drop_unused(share);
        found = calloc(1, sizeof *found);
        if (!found)
            *rc = nl_fail(err, NL_ERR_NOMEM, "out of memory for a shared dataset");
        else {
            found->tokens = tokens;
            found->spec = *spec;
            found->min_window = min_window;
            *rc = tokens ? nl_token_dataset_load(spec, min_window, &found->text, err)
                         : nl_dataset_load(spec, &found->images, err);
            if (*rc) {
                free_entry(found);
                found = NULL;
            } else {
                found->next = share->entries;
                share->entries = found;
                share->loads++;
            }
        }
    }
    if (found)
        found->users++;
    pthread_mutex_unlock(&share->lock);
    return found;
}

nl_code nl_data_share_images(nl_data_share *share, const nl_data_spec *spec,
                             const nl_dataset **out, nl_error *err)
{
    nl_code rc;
    entry *e = acquire(share, false, spec, 0, &rc, err);
    *out = e ? &e->images : NULL;
    return rc;
}

nl_code nl_data_share_tokens(nl_data_share *share, const nl_data_spec *spec, long min_window,
                             const nl_token_dataset **out, nl_error *err)
{
    nl_code rc;
    entry *e = acquire(share, true, spec, min_window, &rc, err);
    *out = e ? &e->text : NULL;
    return rc;
}

void nl_data_share_release(nl_data_share *share, const void *dataset)
{
    if (!share || !dataset)
        return;
    pthread_mutex_lock(&share->lock);
    for (entry *e = share->entries; e; e = e->next)
        if (dataset == &e->images || dataset == &e->text) {
            e->users--;
            break;
        }
    pthread_mutex_unlock(&share->lock);
}

long nl_data_share_loads(const nl_data_share *share)
{
    pthread_mutex_lock((pthread_mutex_t *)&share->lock);
    const long loads = share->loads;
    pthread_mutex_unlock((pthread_mutex_t *)&share->lock);
    return loads;
}
