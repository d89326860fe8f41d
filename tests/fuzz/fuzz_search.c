/* libFuzzer harness: the search-file loader (nl_search_load), which checks
 * every key, the start population's formulas and their plans on the base
 * and ranking models. The loader reads a path, so the input is written to
 * a file in the harness's own directory first (up to its first NUL byte is
 * what a file's text is; the loader refuses the rest). A refusal must be
 * a coded error with a message; a loaded spec must be freed cleanly. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_files.h"
#include "search/search.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *dir = fuzz_files_dir();
    fuzz_write_file(dir, "search.yaml", data, size, false);
    char path[512];
    snprintf(path, sizeof path, "%s/search.yaml", dir);
    nl_search_spec *s = calloc(1, sizeof *s);
    if (!s)
        abort();
    nl_error err = {0};
    const nl_code rc = nl_search_load(path, s, &err);
    if (rc != NL_OK)
        fuzz_check_error(rc, &err, "nl_search_load");
    else
        FUZZ_REQUIRE(s->n_start > 0 && nl_search_budget(s) > 0, "a loaded search with %d start formulas, budget %ld",
                     s->n_start, nl_search_budget(s));
    nl_search_spec_free(s);
    free(s);
    return 0;
}
