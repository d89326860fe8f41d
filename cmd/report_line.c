/* The messages normlab ends a command with, each written to its stream
 * whole, in one write(2). stderr is unbuffered, so a message printed in
 * pieces (its "normlab run: rank 1 of 4: " head, then its text byte by
 * byte) reached the pipe as many writes; under mpirun, whose forwarding
 * copies what each rank's pipe holds when it reads it, two ranks failing
 * at the same moment came out as one rank's head with another rank's
 * whole line after it (cluster_rank-lost: "rank 1 did not say why it
 * stopped"). A line of up to PIPE_BUF bytes written at once is never
 * split on a pipe. Compiled alone into test_dist too, which counts the
 * writes. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "cmd.h"

/* control bytes but line feed and tab as \xNN */
static void put_text(FILE *stream, const char *text)
{
    for (const unsigned char *p = (const unsigned char *)text; *p; p++) {
        if ((*p < 0x20 && *p != '\n' && *p != '\t') || *p == 0x7f)
            fprintf(stream, "\\x%02x", *p);
        else
            fputc(*p, stream);
    }
}

/* what was put on `line` (an open_memstream) onto stream at once; where
 * the memory stream failed, the text as it is, still whole */
static void write_whole(FILE *stream, FILE *line, char **buf, size_t *len)
{
    if (fclose(line) == 0 && *buf) {
        fwrite(*buf, 1, *len, stream);
        fflush(stream);
    }
    free(*buf);
}

void nl_cmd_put_text(FILE *stream, const char *text)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *line = open_memstream(&buf, &len);
    if (!line) {
        put_text(stream, text);
        return;
    }
    put_text(line, text);
    write_whole(stream, line, &buf, &len);
}

int nl_cmd_report_to(FILE *stream, const char *command, const nl_error *err)
{
    const char *text = err->msg[0] ? err->msg : nl_code_name(err->code);
    char *buf = NULL;
    size_t len = 0;
    FILE *line = open_memstream(&buf, &len);
    if (!line) {
        fprintf(stream, "normlab %s: ", command);
        put_text(stream, text);
        fputc('\n', stream);
    } else {
        fprintf(line, "normlab %s: ", command);
        put_text(line, text);
        fputc('\n', line);
        write_whole(stream, line, &buf, &len);
    }
    return nl_code_exit_status(err->code);
}

int nl_cmd_report(const char *command, const nl_error *err)
{
    return nl_cmd_report_to(stderr, command, err);
}

int nl_cmd_usage_error(const char *command, const char *fmt, ...)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *line = open_memstream(&buf, &len);
    FILE *out = line ? line : stderr;
    va_list ap;
    va_start(ap, fmt);
    fprintf(out, "normlab %s: ", command);
    vfprintf(out, fmt, ap);
    va_end(ap);
    fprintf(out, "\nTry 'normlab %s --help'.\n", command);
    if (line)
        write_whole(stderr, line, &buf, &len);
    return 2;
}
