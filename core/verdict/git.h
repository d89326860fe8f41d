/* git as the verdict's lookups run it (registered.c, withdrawn.c): a child
 * process from a fixed argv, no shell, and the repository's own
 * configuration kept from running anything. The repository is data the
 * user may have cloned from anyone: its .git/config can name programs git
 * starts on its own (gpg.program under log.showSignature for any commit
 * that carries a signature, core.fsmonitor where the index is read, a
 * pager, a lazy fetch of a partial clone's missing objects). Options given
 * with -c outrank every configuration file, so each run turns those off. */
#ifndef NL_VERDICT_GIT_H
#define NL_VERDICT_GIT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"
#include "proc/proc.h"

/* git's answer to one question */
typedef struct {
    nl_proc_output said; /* its stdout (and stderr with stderr_too) */
    bool exited_ok;
} nl_git_answer;

/* the most arguments nl_git_run passes on after "git" */
#define NL_GIT_MAX_ARGS 24

/* Runs git with args (NULL-ended, args[0] the first argument after "git",
 * at most NL_GIT_MAX_ARGS), the configuration's programs turned off; at
 * most max bytes of its output kept. NL_ERR_USAGE when git is not
 * installed; git's own failure is exited_ok false, not an error. The
 * caller frees ans->said.text. */
nl_code nl_git_run(const char *const args[], size_t max, bool stderr_too, nl_git_answer *ans, nl_error *err);

#endif
