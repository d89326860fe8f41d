/* The training loop's probes: measurements that only observe the model
 * (nothing training reads changes), each a row of the table in
 * config/probes.def. The run's check asks the rows a spec turns on whether
 * they can measure the model and data it plans; the loop opens them, asks
 * each at three points of a run whether it is due, and lets those that are
 * observe the model and emit their rows to the sink. Neither knows a probe
 * by name. */
#ifndef NL_TRAIN_PROBE_H
#define NL_TRAIN_PROBE_H

#include <stdbool.h>
#include <stddef.h>

#include "model/model.h"
#include "train/feed.h"
#include "train/series.h"
#include "train/sink.h"
#include "config/train_spec.h"

/* where in the loop a probe looks */
typedef enum {
    /* between two steps, after the evaluation's rows when one was taken:
     * passes of the probe's own */
    NL_PROBE_BETWEEN_STEPS,
    /* in a step, its forward done and before backward: the step's
     * activations */
    NL_PROBE_AFTER_FORWARD,
    /* in a step, its gradients complete over the ranks and unscaled,
     * before clipping and the update */
    NL_PROBE_AFTER_GRADIENTS,
    NL_PROBE_POINTS
} nl_probe_point;

/* what the probes of a run open on and work with: the loop's, for the
 * whole run */
typedef struct {
    nl_model *m;
    const nl_train_spec *spec;
    nl_feed *feed;             /* its batchers made by the first step */
    const nl_train_sink *sink;
    int eval_batch;            /* the evaluation's batch size */
} nl_probe_env;

/* where the loop is */
typedef struct {
    nl_probe_point point;
    long step;       /* optimizer steps taken before the one measured */
    long resumed_at; /* the step a resumed run went on from; -1 when fresh */
    bool evaluating; /* between steps: an evaluation was taken just now */
    /* in a step: this rank's samples, the step's mode, learning rate, and
     * loss terms (the global batch's samples times rows per sample) */
    int mine;
    nl_mode mode;
    double lr, predictions;
} nl_probe_at;

/* what the run's check knows before anything is loaded or allocated */
typedef struct {
    const nl_train_spec *spec;
    const nl_model *graph; /* the model as planned: its layers and shapes, no memory */
    bool tokens;           /* a token dataset: no sample counts below */
    long train_n, test_n;  /* image datasets: the samples of each split */
} nl_probe_plan;

typedef struct {
    const char *key; /* the train.* key that turns it on */
    bool (*on)(const nl_train_spec *spec); /* whether the spec turns it on */
    /* the series.csv kinds it writes, NL_SERIES_COUNT-terminated (the
     * trace writes trace.csv: none) */
    const nl_series_kind *series;
    /* Refuses, before the run, a spec that turns it on for a model or data
     * it cannot measure: NL_ERR_CONFIG, err->key the key to blame (the
     * check leads the message with where that key was set). NULL: it can
     * measure any run. */
    nl_code (*check)(const nl_probe_plan *plan, nl_error *err);
    size_t size; /* of its state, which open finds zeroed */
    /* Plans it for a spec that turns it on, and says in *on whether it
     * runs (when not, it holds nothing). */
    nl_code (*open)(void *self, const nl_probe_env *env, bool *on, nl_error *err);
    bool (*due)(const void *self, const nl_probe_env *env, const nl_probe_at *at);
    /* measures, leaving the model as training needs it */
    nl_code (*observe)(void *self, const nl_probe_env *env, const nl_probe_at *at,
                       nl_error *err);
    /* the rows of what it observed last, dated `step` */
    nl_code (*emit)(const void *self, const nl_probe_env *env, long step, nl_error *err);
    void (*close)(void *self, nl_model *m); /* also after a failed open */
} nl_probe_kind;

/* a row's due for a probe that measures at the evaluations (a pass over
 * the evaluation split of its own, between steps, where one was just
 * taken) */
bool nl_probe_due_at_evaluations(const void *self, const nl_probe_env *env, const nl_probe_at *at);

/* the rows, nl_probe_<name>, each defined in its probe's file */
#define NL_PROBE(name) extern const nl_probe_kind nl_probe_##name;
#include "config/probes.def"

/* a probe whose line in config/probes.def declares its key: the key,
 * "train.log.<leaf>", and whether a spec turns it on (probe.c) */
#define NL_PROBE_LOG(name, leaf, doc)                      \
    extern const char nl_probe_log_key_##name[];           \
    bool nl_probe_log_on_##name(const nl_train_spec *spec);
#include "config/probes.def"
/* the first two fields of such a probe's row: its key and its switch */
#define NL_PROBE_LOG_SWITCH(name) nl_probe_log_key_##name, nl_probe_log_on_##name

/* the table, in probes.def's order */
extern const nl_probe_kind *const nl_probe_kinds[];
extern const int nl_probe_kind_count;

/* the first error of the rows the plan's spec turns on (nl_probe_kind's
 * check), in the table's order */
nl_code nl_probes_check(const nl_probe_plan *plan, nl_error *err);
/* whether a probe the spec turns on writes series.csv */
bool nl_probes_write_series(const nl_train_spec *spec);

/* the probes a run's spec turned on, in the table's order */
typedef struct {
    nl_probe_env env;
    int n;
    const nl_probe_kind **kinds;
    void **selves;
} nl_probes;

/* Opens every row on env (set up as a zeroed nl_probes); keeps those its
 * spec turns on. On an error, nothing stays open. */
nl_code nl_probes_open(nl_probes *p, const nl_probe_env *env, nl_error *err);
void nl_probes_close(nl_probes *p);
/* whether any probe is due at `at` */
bool nl_probes_due(const nl_probes *p, const nl_probe_at *at);
/* every probe due at `at` observes, then emits its rows dated at->step */
nl_code nl_probes_run(nl_probes *p, const nl_probe_at *at, nl_error *err);

#endif
