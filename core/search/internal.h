/* What the files of core/search share: the base config with a candidate's
 * formula, the numerics probe and the hurdle run. Internal to core/search. */
#ifndef NL_SEARCH_INTERNAL_H
#define NL_SEARCH_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "backend/backend.h"
#include "base/rng.h"
#include "config/config.h"
#include "log/files.h"
#include "search/search.h"

/* The base config with the formula as its normalizer (model.norm.type
 * expr, model.norm.expr and .params as overrides), loaded and validated as
 * `normlab run` loads a config, which plans the model with it: a shape or
 * an axis the model's input lacks is refused here, with the config
 * module's message. */
nl_code nl_search_load_config(const nl_search_spec *s, const char *expr, const char *params,
                              nl_config *cfg, nl_error *err);
/* the same on model m (the base or one of rank.models) */
nl_code nl_search_load_on(const nl_search_spec *s, const nl_search_model *m, const char *expr,
                          const char *params, nl_config *cfg, nl_error *err);
/* cfg made a hurdle run of candidate `id`: hurdle_steps steps, named
 * after the candidate, validated again */
nl_code nl_search_hurdle_config(const nl_search_spec *s, long id, nl_config *cfg, nl_error *err);
/* cfg (rank.models[k] with the formula) made candidate `id`'s ranking
 * run on it: trained as its config says, named cID-mK (K = k + 1); with
 * steps > 0 (a rung of rank.rungs) trained that many steps, named
 * cID-mK-sSTEPS */
nl_code nl_search_rank_config(long id, int k, long steps, nl_config *cfg, nl_error *err);
/* target.normalizer's run on scoring model k (nl_search_scoring_models):
 * rank.models[k] with model.norm.type NAME, trained as a candidate's last
 * rung or its config says, named NAME-mK; without rank.models the base at
 * the hurdle's steps, named NAME-base */
nl_code nl_search_reference_config(const nl_search_spec *s, int k, nl_config *cfg, nl_error *err);

/* ---- the numerics probe (probe.c) ---- */

typedef struct {
    nl_formula_input in; /* the base model's first formula site, cut down (probe.c) */
    float eps;
    unsigned axes; /* the axes its input has (bits 1u << NL_AXIS_*) */
    nl_backend *be;
} nl_search_probe;

/* the probe's input from the planned model of cfg (a formula normalizer) */
nl_code nl_search_probe_open(const nl_config *cfg, nl_search_probe *p, nl_error *err);
void nl_search_probe_close(nl_search_probe *p);
/* Forward and backward at several input scales and a tiny batch on fixed
 * tensors. *stage NL_STAGE_NUMERICS with why in reason when a value is
 * not finite or a gradient past its bound; else the hash of the rounded
 * outputs and gradients into behaviour (16 hex digits), and the
 * degeneracy checks of `checks` (bits: rows of nl_search_checks) in
 * order: *stage NL_STAGE_DEGENERATE with the row's name and why at the
 * first that finds the formula degenerate, else NL_STAGE_PASSED. An error
 * only for memory. */
nl_code nl_search_probe_run(const nl_search_probe *p, const nl_formula *f, unsigned checks,
                            nl_search_stage *stage, char *reason, size_t size, char behaviour[17],
                            nl_error *err);

/* ---- the hurdle (hurdle.c) ---- */

/* The hurdle run of candidate c: cfg (nl_search_hurdle_config's) written
 * into OUT/hurdle/cID.yaml and trained by `normlab run` as a child with the
 * spec's time limit, in OUT/hurdle/cID (its output in OUT/hurdle/cID.log).
 * Those paths are the search's own: where one exists it is what a search
 * killed during this candidate's hurdle left (leftover true: it starts
 * over), else it is refused (NL_ERR_USAGE), never replaced. c->stage
 * becomes passed or hurdle, with c->accuracy and c->reason; a crash, a
 * hang past the limit or a divergence is the candidate's rejection, never
 * the search's error. An error only where nothing could be started or
 * written, or a path is refused. */
nl_code nl_search_hurdle(const nl_search_spec *s, const nl_search_options *opt, const nl_config *cfg,
                         nl_search_candidate *c, bool leftover, nl_error *err);
/* The ranking run of candidate c on rank.models[k], as the hurdle's but
 * in OUT/rank/NAME (cfg's name: cID-mK, or cID-mK-sSTEPS at a rung) with
 * rank.time_limit: c->scores[k] its test accuracy, or c->stage
 * NL_STAGE_RANK with the model (and the rung's steps) and why in
 * c->reason */
nl_code nl_search_rank(const nl_search_spec *s, const nl_search_options *opt, int k, const nl_config *cfg,
                       nl_search_candidate *c, bool leftover, nl_error *err);
/* any run of the search: cfg trained in OUT/SUB/NAME (NAME cfg's name)
 * as the hurdle's, *accuracy its test accuracy or NaN with why */
nl_code nl_search_train(const nl_search_options *opt, const char *sub, const nl_config *cfg, double time_limit,
                        bool leftover, double *accuracy, char *why, size_t size, nl_error *err);
/* After the budget: the best holdout.top re-ranked on holdout.models
 * (OUT/holdout/cID-hK, OUT/holdout.csv), and the best claims.top written
 * as experiment files of claims (OUT/claims/NAME.yaml and its base
 * config), their names into r; leftover: runs a killed search left in
 * OUT/holdout start over (conclude.c) */
nl_code nl_search_conclude(const nl_search_spec *s, const nl_search_options *opt, nl_search_result *r,
                           bool leftover, nl_error *err);

/* Refuses (NL_ERR_USAGE, nothing written) an OUT/hurdle, OUT/rank or OUT/holdout that
 * holds a candidate's file or directory (cID, cID-mK or cID-mK-sSTEPS,
 * bare, .yaml or .log) the search would write and did not leave: one of
 * an id past `last`, the last candidate a killed search may have left
 * runs of, or any at all where it has no candidates.csv (last 0). Names
 * of another form are left alone. */
nl_code nl_search_hurdle_check(const char *out_dir, long last, nl_error *err);

/* ---- the target (target.c) ---- */

/* The reference's accuracies into r->reference (*have true): read from
 * OUT/reference.csv where a search wrote it; else, with train, each
 * scoring model trained with target.normalizer in OUT/reference/NAME-mK (a
 * run a killed search left there starts over) and the file written;
 * without train nothing (*have false). A reference run that gives no
 * accuracy: NL_ERR_RUNTIME naming it, since no candidate could be judged. */
nl_code nl_search_reference(const nl_search_spec *s, const nl_search_options *opt, bool train,
                            nl_search_result *r, bool *have, nl_error *err);
/* the first of all[first - 1 .. last - 1] (candidates by id) that reached
 * the target against the reference's accuracies; 0: none */
long nl_search_reaching(const nl_search_spec *s, const double *reference, const nl_search_candidate *all,
                        long first, long last);
/* OUT/target.csv: the reference, the candidate that reached it or none,
 * the candidates decided and the CPU time (r's), written whole */
nl_code nl_search_target_write(const nl_search_spec *s, const nl_search_options *opt, const nl_search_result *r,
                               nl_error *err);

/* ---- selection (select.c) ---- */

/* ids[0..n) (passed candidates of r) ordered best first, as
 * nl_search_best orders them; returns min(n, max), the first kept */
int nl_search_rank_ids(const nl_search_spec *s, const nl_search_result *r, long *ids, int n, int max);
/* A parent drawn by a Pareto tournament: T = s->tournament distinct
 * members of the pool drawn (all of it when smaller), the ones no other
 * drawn member dominates kept, one of them drawn. */
long nl_search_tournament(const nl_search_spec *s, const nl_search_result *r, const long *pool, int n_pool,
                          nl_rng *rng);

/* ---- candidates.csv (records.c) ---- */

/* Reads OUT/candidates.csv at path, a file a search wrote before: its
 * whole rows into *rows (n of them, malloc'd) and into *bytes the length
 * of the header and those rows (a cut last line is not counted); -1 and
 * no rows when there is no file. A file that is not a search's:
 * NL_ERR_DATA. Writes nothing. */
nl_code nl_search_records_read(const char *path, nl_search_candidate **rows, long *n, off_t *bytes,
                               nl_error *err);
/* Opens it for appending: a new file with its header (bytes <= 0), or the
 * one read, cut back to its first `bytes`. */
nl_code nl_search_records_open(const char *path, off_t bytes, nl_csv *csv, nl_error *err);
/* The length of the header and the first `rows` rows of the file at
 * path (a record that a search with rank.rungs cuts back to its last whole
 * generation) */
nl_code nl_search_records_bytes(const char *path, long rows, off_t *bytes, nl_error *err);
/* a scores cell ("0.5 none 0.7") into scores (NaN: none, and past its
 * last); false when it is not one the search writes */
bool nl_search_scores_read(const char *cell, double *scores);
/* OUT/holdout.csv, where it exists, into r's finalists and holdout_scores
 * (r's candidates read first) and s->n_holdout; a file not the search's:
 * NL_ERR_DATA naming its row */
nl_code nl_search_holdout_read(const char *dir, nl_search_spec *s, nl_search_result *r, nl_error *err);
/* appends candidate c's row */
nl_code nl_search_record(nl_csv *csv, const nl_search_candidate *c, nl_error *err);

#endif
