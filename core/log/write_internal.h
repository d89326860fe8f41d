/* Internal to core/log: what files.c's writers and outset.c's output sets
 * share (making directories, writing a temporary, placing it without
 * replacing). */
#ifndef NL_LOG_WRITE_INTERNAL_H
#define NL_LOG_WRITE_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "base/status.h"

typedef struct {
    char **items;
    int n, cap;
} str_list;

bool log_list_add(str_list *l, const char *s);
void log_list_free(str_list *l);
/* "PATH is KIND, not a directory" (exit 2) */
nl_code log_refuse_not_dir(const char *path, nl_error *err);
/* mkdir -p, each directory made added to `made` (when not NULL) */
nl_code log_make_dirs(const char *path, str_list *made, nl_error *err);
/* all of `len` bytes to fd, flushed to disk, and fd closed; the temporary
 * `tmp` removed on failure */
nl_code log_write_temp(int fd, const char *tmp, const void *data, size_t len, nl_error *err);
/* link(2), or renameat2's NOREPLACE: fails with EEXIST rather than replace */
int log_link_no_replace(const char *tmp, const char *path);

#endif
