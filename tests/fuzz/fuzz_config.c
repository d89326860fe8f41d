/* libFuzzer harness: the config loader, nl_config_load_string, with --set
 * overrides. Input: the YAML text, then up to FUZZ_MAX_OVERRIDES overrides
 * ("KEY=VALUE"), separated by NUL bytes. A config that loads must also
 * survive the round trip the run directory relies on: its resolved YAML
 * (config.yaml, read back under the same name) loads again and resolves to
 * the same text. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/config.h"
#include "fuzz_check.h"

#define FUZZ_MAX_OVERRIDES 4

/* the resolved config as text (caller frees) */
static char *resolved_text(const nl_config *cfg)
{
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    FUZZ_REQUIRE(f != NULL, "open_memstream");
    nl_error err = {0};
    nl_code rc = nl_config_write(cfg, f, &err);
    fclose(f);
    FUZZ_REQUIRE(rc == NL_OK, "writing a loaded config: %s", err.msg);
    return text;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = fuzz_text(data, size);
    if (!text)
        return 0;
    const char *overrides[FUZZ_MAX_OVERRIDES];
    int n_overrides = 0;
    for (size_t pos = strlen(text) + 1; pos <= size && n_overrides < FUZZ_MAX_OVERRIDES;
         pos += strlen(text + pos) + 1)
        overrides[n_overrides++] = text + pos;

    /* static: an nl_config is a few hundred KiB, which ASan would map and
     * unmap on every input */
    static nl_config cfg_storage, again_storage;
    nl_config *cfg = &cfg_storage, *again = &again_storage;
    nl_error err = {0};
    nl_code rc = nl_config_load_string(text, "fuzz.yaml", overrides, n_overrides, cfg, &err);
    if (rc != NL_OK) {
        fuzz_check_error(rc, &err, "nl_config_load_string");
    } else {
        char *first = resolved_text(cfg);
        nl_error_clear(&err);
        rc = nl_config_load_string(first, "fuzz.yaml", NULL, 0, again, &err);
        FUZZ_REQUIRE(rc == NL_OK, "the resolved config does not load again: %s\n%s", err.msg,
                     first);
        char *second = resolved_text(again);
        FUZZ_REQUIRE(strcmp(first, second) == 0,
                     "the resolved config changes when loaded again:\n%s\n---\n%s", first, second);
        free(second);
        free(first);
    }
    free(text);
    return 0;
}
