/* Identifiers: the names a user gives or a file holds that become a path
 * component, a gnuplot or HTML label, or a column of a CSV (sweep, run and
 * plot names, claim ids). Checked where they are parsed or read, so that
 * no writer has to trust its input: letters, digits, '.', '_' and '-', not
 * starting with '.' or '-' (so never "", ".", "..", a hidden file or an
 * option); a run's name also takes '+', '=', ',' and '@'. Plain ASCII also means two
 * names that differ only in Unicode normalization cannot exist; names that
 * differ only in case, which meet on a case-insensitive file system, are
 * found by nl_ident_case_clash. */
#ifndef NL_IDENT_H
#define NL_IDENT_H

#include <stdbool.h>
#include <stddef.h>

#define NL_IDENT_ACCEPTED "letters, digits, '.', '_' and '-', not starting with '.' or '-'"
/* an identifier's storage everywhere (the longest run name a sweep makes fits) */
#define NL_IDENT_MAX 255

bool nl_ident_ok(const char *s);

/* A relative path of identifiers ("bench/speed2-2026-11-23", a claims
 * file's name: of a directory under results/): components that each pass
 * nl_ident_ok, joined by single '/', at most NL_IDENT_MAX characters in
 * all. Never absolute, never holding "." or "..": joined to a directory it
 * stays inside it. */
#define NL_IDENT_PATH_ACCEPTED "identifiers (" NL_IDENT_ACCEPTED ") joined by '/'"
bool nl_ident_path_ok(const char *s);

/* A run's name (a config's name:, a run of summary.csv): an identifier's
 * characters and also '+', '=', ',' and '@' ("lr=0.1,bs=32"), the same
 * leading-character rule; still never a path of more than one component */
#define NL_RUN_NAME_ACCEPTED "letters, digits and . _ - + = , @, not starting with '.' or '-'"
bool nl_run_name_ok(const char *s);

/* A string of any bytes as printable ASCII for an error message: control
 * bytes, '\\', bytes >= 0x7f as \xNN, cut at size (a terminal shown a
 * file's bytes should not receive its escape sequences). */
const char *nl_text_show(const char *s, char *buf, size_t size);

/* bytes in the well-formed UTF-8 sequence at s (1-4), 0 when s does not
 * start one (a stray continuation byte, an overlong form, a surrogate, past
 * U+10FFFF, cut short by the end of the string) */
int nl_utf8_len(const char *s);

/* Two of the n names equal but for ASCII case: true with their indices in
 * *a < *b. Quadratic: for the names of one output directory. */
bool nl_ident_case_clash(const char *const *names, int n, int *a, int *b);

#endif
