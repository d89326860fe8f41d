/* Writing results that survive a crash: whole files are written to a
 * temporary name, flushed and renamed over the target (a reader sees the old
 * file or the new one, never half of one); a CSV row is appended with one
 * write(2), so a killed run leaves every complete row it logged and, but for
 * the rare cut described at write_built_row in files.c, no partial one.
 * Records (files each writer adds, never rewrites: eval records) are created
 * exclusively: linked into place, so an existing one is never replaced, also
 * by another process writing the same name at the same moment. */
#ifndef NL_FILES_H
#define NL_FILES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "base/status.h"

/* mkdir -p; a file, FIFO or other non-directory in the way is the user's
 * (NL_ERR_USAGE, exit 2, naming it and what it is) */
nl_code nl_make_dirs(const char *path, nl_error *err);
bool nl_path_exists(const char *path);
bool nl_is_dir(const char *path);
/* path + "/" + name into out; "" when it does not fit (never a shortened
 * path: the writers refuse "", the readers find nothing there) */
void nl_path_join(char *out, size_t size, const char *dir, const char *name);
/* write `len` bytes to path.tmp.<pid>, fsync, rename to path; anything but a
 * regular file at path (a FIFO, a directory, a link) is NL_ERR_USAGE, left as is */
nl_code nl_write_atomic(const char *path, const void *data, size_t len, nl_error *err);
/* ---- writing: held directories, no link followed (log/hold.c) ----
 * Every directory normlab writes into is reached one component at a time
 * with openat(O_DIRECTORY | O_NOFOLLOW), and every file it writes is opened
 * relative to its held directory with O_NOFOLLOW: a symbolic link where
 * normlab writes is refused (NL_ERR_USAGE, exit 2, naming it) before
 * anything is written there. Links are followed only on the way to what the
 * user named on the command line (the directories that hold --out and each
 * run or sweep directory given, registered by cmd/ before any work starts):
 * that path is the user's to choose. What they name, everything below it,
 * and every path that lies under none (results/NAME, which normlab composes
 * itself) is walked with no link followed and no '..'. Paths are never cut:
 * an output path longer than NL_OUT_PATH_MAX - 1 bytes, or a name longer
 * than the file system's NAME_MAX, is NL_ERR_USAGE. */
#define NL_OUT_PATH_MAX 512
/* out named on the command line: links on the way to it are the user's */
nl_code nl_write_root_add(const char *out, nl_error *err);
void nl_write_roots_reset(void); /* for tests */
/* a descriptor of `dir` held as above (O_DIRECTORY); with create, the
 * missing directories made (mkdir -p) */
nl_code nl_dir_hold(const char *dir, bool create, int *fd, nl_error *err);
/* open(2) of `path` for writing (flags: O_WRONLY or O_RDWR, with O_CREAT,
 * O_TRUNC, O_APPEND, O_EXCL as wanted) in its held directory, which must
 * exist; a link, directory, FIFO or device there is NL_ERR_USAGE naming it.
 * On NL_ERR_IO errno is open(2)'s (EEXIST for O_EXCL, ENOENT). */
nl_code nl_open_write(const char *path, int flags, int *fd, nl_error *err);
/* rename(2) of a file of normlab's own (a temporary) to `to`, in its held
 * directory; what is at `to`, if anything, must be a regular file */
nl_code nl_rename_into(const char *from, const char *to, nl_error *err);
/* Refuses a symbolic link anywhere in the tree at `dir`, dir included: what a command checks before its
 * first write, so that a link met part-way never leaves half the work
 * done. A missing dir: NL_OK. */
nl_code nl_tree_refuse_links(const char *dir, nl_error *err);

/* ---- reading: regular files only ----
 * Every file normlab reads is opened here. Anything but a regular file (a
 * FIFO, a directory, a device, a socket) is refused with NL_ERR_DATA (bad
 * input: exit 2) naming the path and what it is, before a byte is read. The
 * open does not block (O_NONBLOCK: a FIFO with no writer cannot hang it),
 * the check is made on the descriptor (what is checked is what is read),
 * then the descriptor is made blocking again. With absent_ok a path that
 * does not exist gives NL_OK and fd -1 (f NULL); other failures to open
 * give NL_ERR_IO with the OS's reason, errno left as open(2) set it. */
nl_code nl_open_regular(const char *path, bool absent_ok, int *fd, nl_error *err);
nl_code nl_fopen_regular(const char *path, bool absent_ok, FILE **f, nl_error *err);
/* the same for a file read and written in place (a lock file that says
 * who holds it): O_RDWR, created when absent */
nl_code nl_open_regular_rw(const char *path, int *fd, nl_error *err);
/* takes a write lock on the whole of fd without waiting (fcntl, so it
 * goes with the process and works across hosts on NFS): 0 taken, 1 held
 * by another process, -1 another failure (errno says which) */
int nl_try_write_lock(int fd);
/* the same check without opening (stat): for a file read later, or read
 * where a failure would pass for its absence */
nl_code nl_check_regular(const char *path, bool absent_ok, nl_error *err);
/* "a FIFO", "a directory", "a device", "a socket", "a symbolic link", "a regular file" */
const char *nl_file_kind(mode_t mode);
/* The kernel's own files, the one exception: /proc/..., /sys/... and
 * /dev/null (never regular files, never a FIFO). Opened with O_CLOEXEC
 * (nl_fopen_system: for reading); NULL / -1 with errno EPERM for any other
 * path. */
FILE *nl_fopen_system(const char *path);
int nl_open_system(const char *path, int flags);

/* reads a whole (small) file; caller frees */
nl_code nl_read_file(const char *path, char **out, size_t *len, nl_error *err);
/* the same, refusing (NL_ERR_CONFIG: bad input) a file longer than max_bytes;
 * nl_read_file allows NL_READ_FILE_MAX, more than any file normlab writes */
#define NL_READ_FILE_MAX ((size_t)1 << 30)
#define NL_READ_TEXT_MAX ((size_t)16 << 20) /* a config or experiment file */
nl_code nl_read_file_max(const char *path, size_t max_bytes, char **out, size_t *len, nl_error *err);

/* Creates `path` holding `len` bytes, never replacing a file there: written
 * to a temporary of its own, flushed, then link(2)ed to `path` (or renamed
 * with RENAME_NOREPLACE where the file system has no hard links), which
 * fails rather than replace. A reader sees no file or the whole of it. A
 * `path` that exists (also one made meanwhile by another process) is
 * NL_ERR_USAGE with *existed set (when not NULL) and nothing written. */
nl_code nl_write_exclusive(const char *path, const void *data, size_t len, bool *existed,
                           nl_error *err);

/* A growing text buffer for building files in memory. */
typedef struct {
    char *data;
    size_t len, cap;
    bool failed; /* an allocation failed; the content is incomplete */
} nl_buf;

void nl_buf_printf(nl_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void nl_buf_free(nl_buf *b);

/* ---- an output set: the files of one command, written all or none ----
 * A command that writes several files (verdict's CSV, JSON and forest plot;
 * plot's scripts, data and figures; export's event files) stages each in a
 * temporary of its own beside its destination (the same directory, so the
 * final rename is atomic) and commits them only when every one is staged:
 * a failure part-way (a directory or FIFO in one file's place, gnuplot
 * rejecting a script, a full disk) leaves every file of the previous set
 * byte-identical and removes what the set made, the directories it
 * created included.
 *
 * Each destination must be absent or a regular file: a directory, FIFO,
 * symbolic link (renaming over it would replace the link, not its file),
 * device or socket there is refused with NL_ERR_USAGE (exit 2) naming it
 * and what it is; so is a file where a directory of its path is wanted.
 * Without force a regular file there is refused too (NL_ERR_USAGE, "PATH
 * exists; " and the set's hint), checked when staging and again at commit,
 * where each file is linked into place (link(2), or RENAME_NOREPLACE as
 * nl_write_exclusive does): another process's file made meanwhile is never
 * replaced. With force, commit renames over the old files, keeping a
 * second name for each until all are placed, so that a rename refused
 * part-way puts the old ones back. */
typedef struct nl_outset nl_outset;

/* a new, empty set; exists_hint ends the refusal of an existing file
 * without force ("give --force to replace it"). NULL: out of memory. */
nl_outset *nl_outset_begin(bool force, const char *exists_hint);
/* the check staging makes, alone: for refusing before a command's work */
nl_code nl_output_check(const char *path, bool force, const char *exists_hint, nl_error *err);
/* mkdir -p, each directory made remembered (abort removes it, if empty) */
nl_code nl_outset_make_dirs(nl_outset *set, const char *dir, nl_error *err);
/* stages `len` bytes for `path` (its directories made as needed) */
nl_code nl_outset_add(nl_outset *set, const char *path, const void *data, size_t len, nl_error *err);
/* the same from a buffer (one whose allocation failed: NL_ERR_NOMEM) */
nl_code nl_outset_add_buf(nl_outset *set, const char *path, const nl_buf *b, nl_error *err);
/* stages for `path` the file another program made at `produced` (renamed,
 * so on the same file system: in a work directory of the set) */
nl_code nl_outset_adopt(nl_outset *set, const char *path, const char *produced, nl_error *err);
/* A private directory beside `beside` (its sibling, "BESIDE.tmp.PID.N":
 * relative paths from it reach what they reach from `beside`), for files
 * built by another program before they are adopted; removed, with what is
 * left in it, when the set ends. */
nl_code nl_outset_work_dir(nl_outset *set, const char *beside, char *out, size_t size, nl_error *err);
/* a file made in place by the caller (a marker), removed if the set fails */
void nl_outset_own(nl_outset *set, const char *path);
/* places every staged file (see above); on failure nothing is placed and
 * the set is aborted. *existed (when not NULL): the refusal was a file
 * made meanwhile at a destination, without force. */
nl_code nl_outset_commit(nl_outset *set, bool *existed, nl_error *err);
/* ends the set: one not committed is aborted (its temporaries, its own
 * files, its work directories and the directories it made removed). NULL: nothing. */
void nl_outset_end(nl_outset *set);

/* ---- JSON, written by hand: objects of scalars, nested one level deep ---- */
typedef struct {
    nl_buf buf;
    int depth;
    bool first[8];
} nl_json;

/* The one JSON string escaping: s quoted, '"', '\\' and control bytes
 * escaped, bytes that are not UTF-8 as U+FFFD */
void nl_buf_json_string(nl_buf *b, const char *s);
void nl_json_begin(nl_json *j);               /* { */
void nl_json_end(nl_json *j);                 /* } */
void nl_json_key_object(nl_json *j, const char *key); /* "key": { */
void nl_json_string(nl_json *j, const char *key, const char *value);
void nl_json_number(nl_json *j, const char *key, double value); /* NaN/inf -> null */
void nl_json_int(nl_json *j, const char *key, long long value);
void nl_json_bool(nl_json *j, const char *key, bool value);
void nl_json_null(nl_json *j, const char *key);

/* Reading back what nl_json wrote: the value of a top-level key of a flat
 * JSON object (strings unquoted); false when absent. */
bool nl_json_flat_get(const char *json, const char *key, char *value, size_t size);

/* ---- CSV: header once, then whole rows appended ---- */
typedef struct {
    bool open;
    int fd;          /* O_APPEND */
    off_t size;      /* bytes of whole rows written: where a failed write is cut back to */
    char path[1024];
    int columns;
    char row[4096];  /* the row being built: no allocation per row */
    size_t row_len;
} nl_csv;

nl_code nl_csv_open(nl_csv *csv, const char *path, const char *const *columns, int n, nl_error *err);
/* Continues a CSV this program wrote before: cuts it back to its first
 * `bytes` (header and whole rows, as a checkpoint recorded them) and appends
 * from there. NL_ERR_DATA when the file is shorter than that. */
nl_code nl_csv_continue(nl_csv *csv, const char *path, int n, off_t bytes, nl_error *err);
/* The one CSV escaping of a field, for every CSV normlab writes: quoted
 * (a '"' doubled) when it holds a comma, a quote or a line break, as is
 * otherwise; bytes that are not UTF-8 become U+FFFD. A text a spreadsheet
 * would take for a formula (its first character one of = + - @, a tab or
 * a carriage return, and not a number) starts with a "'", as OWASP's CSV
 * injection guidance says, and so does a text starting with "'" before
 * one of those or another "'", so that nl_csv_unguard gives every text
 * back. Writes at most size bytes with the terminating NUL; returns the
 * field's length (>= size: cut short, as snprintf). */
size_t nl_csv_field_text(const char *s, char *out, size_t size);
/* a field as read, less the "'" nl_csv_field_text put before it (in place) */
void nl_csv_unguard(char *field);
/* the same appended to b */
void nl_buf_csv_field(nl_buf *b, const char *s);
/* values are preformatted fields; quoted when they need it */
nl_code nl_csv_row(nl_csv *csv, const char *const *fields, nl_error *err);
/* Appends one row to a CSV that several processes write at once (a run's
 * eval/evals.csv): created with the header `columns` by whichever writer
 * comes first (nl_write_exclusive), then the row in one write(2) under an
 * fcntl write lock on the file; nothing another writer appended is ever cut.
 * Not a regular file (a FIFO, a directory): NL_ERR_DATA, nothing written. */
nl_code nl_csv_append_shared(const char *path, const char *const *columns, int n,
                             const char *const *fields, nl_error *err);
nl_code nl_csv_close(nl_csv *csv, nl_error *err);

/* %.9g that round-trips a float and writes nan/inf the way pandas reads them */
const char *nl_fmt_float(char *buf, size_t size, double value);

#endif
