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

/* how log_dir_hold treats a missing directory: an error, made, or the
 * end of the walk (NL_OK, fd -1: nothing below it can be a link) */
typedef enum { LOG_HOLD_EXISTING, LOG_HOLD_CREATE, LOG_HOLD_CHECK } log_hold;
/* nl_dir_hold, each directory made added to `made` (when not NULL) */
nl_code log_dir_hold(const char *dir, log_hold mode, str_list *made, int *fd, nl_error *err);
/* the directory of `path` held (log_dir_hold) into dirfd, and path's last
 * name into base (a pointer into path); a name that is no file's ("",
 * ".", "..", longer than NAME_MAX) refused */
nl_code log_split_hold(const char *path, log_hold mode, str_list *made, int *dirfd, const char **base,
                       nl_error *err);
/* what is at `name` in dirfd, when it is not a regular file (a link, a
 * directory, a FIFO): NL_ERR_USAGE naming `path`; absent or regular: NL_OK */
nl_code log_refuse_in_place(int dirfd, const char *name, const char *path, nl_error *err);
/* log_link_no_replace within one held directory */
int log_link_no_replace_at(int dirfd, const char *tmp, const char *name);

#endif
