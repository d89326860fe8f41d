/* Withdrawn runs (issue 81, STATS.md "Looks"): committed runs of a sweep
 * that a later commit removed. Withdrawing is allowed, hiding is not: the
 * lookup walks the git history of a results directory and names, per
 * commit and sweep, the runs whose evidence (runs/RUN/summary.json or
 * metrics.csv) it deleted, where their data is now (the same files renamed
 * within the sweep, moved or restored into another directory, or gone) and
 * what the sweep's verdicts.csv said at the commit before. The history is
 * read with git plumbing through verdict/git.h (the repository's
 * configured programs off). A run's data is found elsewhere by its files'
 * git object ids: the bytes, not the name. */
#ifndef NL_VERDICT_WITHDRAWN_H
#define NL_VERDICT_WITHDRAWN_H

#include <stdbool.h>

#include "base/status.h"
#include "log/files.h"

/* the list normlab verdict --withdrawn writes (results/withdrawn.csv, which
 * the claims page reads) */
#define NL_WITHDRAWN_FILE "withdrawn.csv"

typedef struct {
    char commit[72];  /* the commit that removed them, its full hash */
    char date[16];    /* its author date, YYYY-MM-DD */
    char sweep[256];  /* the sweep's directory under the results directory: deepnorm-lm, bench/NAME */
    int runs;         /* run directories whose summary.json or metrics.csv it removed */
    /* of them: runs whose data stayed in the sweep under another name (an
     * identical file added there by the same commit, or there now) or in
     * its pack (normlab pack: the same bytes in SWEEP/runs.sqlite now);
     * these are renames, not withdrawals */
    int renamed;
    /* of them: runs whose data is in another directory (added there by the
     * same commit: moved; or there now: restored), and those directories
     * (under the results directory), space-separated */
    int elsewhere;
    char elsewhere_dirs[256];
    /* the sweep's verdicts.csv at the commit before, "CLAIM: VERDICT; ..."
     * per row ("" and had_verdicts false where there was none) */
    bool had_verdicts;
    char verdicts[2048];
} nl_withdrawal;

/* the runs a removal withdrew from the sweep: all but the renamed */
static inline int nl_withdrawal_runs(const nl_withdrawal *w) { return w->runs - w->renamed; }

typedef struct {
    nl_withdrawal *w; /* newest first, then by sweep */
    int n;
    bool shallow; /* a shallow clone: removals before its first commit are not seen */
} nl_withdrawals;

/* Every removal of committed runs under results_dir (a directory inside a
 * git work tree; the history of HEAD), renames within a sweep included
 * (nl_withdrawal_runs 0). NL_ERR_USAGE, naming the directory, when it is
 * not inside a git checkout or git is not installed; NL_ERR_RUNTIME where
 * git failed or its answer was too long; NL_ERR_NOMEM. */
nl_code nl_withdrawals_find(const char *results_dir, nl_withdrawals *out, nl_error *err);
void nl_withdrawals_free(nl_withdrawals *w);

/* the whole verdicts.csv of w's sweep at the commit before w's (malloc'd;
 * *text NULL where there was none), read from results_dir's history */
nl_code nl_withdrawal_verdicts_csv(const char *results_dir, const nl_withdrawal *w, char **text, nl_error *err);

/* the removals that withdrew runs (nl_withdrawal_runs > 0) as CSV: sweep,
 * commit, date, runs, withdrawn, renamed, elsewhere, elsewhere_dirs,
 * verdicts_before */
void nl_withdrawals_csv(const nl_withdrawals *w, nl_buf *out);
/* the same as lines for the screen: those of sweep `only` (a name under
 * the results directory), of its looks (the same base, verdict/looks.h),
 * and those whose runs are in it now; NULL: every sweep */
void nl_withdrawals_text(const nl_withdrawals *w, const char *only, nl_buf *out);
#endif
