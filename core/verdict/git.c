/* git with the repository's configured programs turned off (verdict/git.h) */
#include <string.h>

#include "verdict/git.h"

/* Each turns off one way a repository's configuration starts a program
 * from the read-only commands the lookups use (log, rev-parse, cat-file,
 * grep, ls-tree). tests/test_withdrawn.c plants each of them in a scratch
 * repository and checks that nothing ran. */
static const char *const safe_config[] = {
    "-c", "log.showSignature=false", /* else gpg.program verifies each signed commit */
    "-c", "core.fsmonitor=false",    /* else a hook runs where the index is refreshed */
    "-c", "core.pager=cat",          /* no pager (git starts none without a terminal, but say so) */
    "-c", "protocol.allow=never",    /* no lazy fetch of a partial clone's objects (a transport) */
    "-c", "diff.external=",          /* no external diff program */
    "--no-pager",
};
enum { N_SAFE = sizeof safe_config / sizeof safe_config[0] };

nl_code nl_git_run(const char *const args[], size_t max, bool stderr_too, nl_git_answer *ans, nl_error *err)
{
    memset(ans, 0, sizeof *ans);
    const char *argv[1 + N_SAFE + NL_GIT_MAX_ARGS + 1] = {"git"};
    int n = 1;
    for (int i = 0; i < N_SAFE; i++)
        argv[n++] = safe_config[i];
    for (int i = 0; args[i]; i++) {
        if (i == NL_GIT_MAX_ARGS)
            return nl_fail(err, NL_ERR_RUNTIME, "git: more than %d arguments", NL_GIT_MAX_ARGS);
        argv[n++] = args[i];
    }
    argv[n] = NULL;
    const nl_proc_spec spec = {.argv = argv, .search_path = true, .out = {NL_PROC_PIPE},
                               .err = {stderr_too ? NL_PROC_PIPE : NL_PROC_NULL}};
    nl_proc_end end;
    const nl_code rc = nl_proc_run(&spec, max, &ans->said, &end, err);
    if (rc == NL_ERR_UNSUPPORTED) {
        nl_error_clear(err);
        return nl_fail(err, NL_ERR_USAGE, "git is not installed (not on PATH)");
    }
    ans->exited_ok = rc == NL_OK && end.exited && end.code == 0;
    return rc;
}
