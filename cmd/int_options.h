/* Every integer option of every subcommand, with its range, in one table:
 * the parsers read their bounds from it (through nl_cmd_int_arg, which
 * reads the text with core/base/number.h), and tests/test_numbers.c feeds
 * each row its boundary values, so an option added here is tested without
 * a test being touched, and one parsed outside it is caught there (its
 * source lint and its --help scan). */
#ifndef NL_CMD_INT_OPTIONS_H
#define NL_CMD_INT_OPTIONS_H

typedef struct {
    const char *command; /* as in the messages: "sweep", "bench --run" */
    const char *option;  /* "--seeds" */
    long long lo, hi;    /* the accepted values, both included */
} nl_cmd_int_option;

/* bench --run's most rounds: its per-round arrays are this long */
#define NL_CMD_BENCH_RUN_MAX_ROUNDS 100

extern const nl_cmd_int_option nl_cmd_int_options[];
extern const int nl_cmd_n_int_options;

/* the row of command's option, or NULL */
const nl_cmd_int_option *nl_cmd_int_option_find(const char *command, const char *option);

/* `text` as the value of command's option (a row of the table) into *out:
 * 0, or the exit status of the usage error it printed ("normlab sweep:
 * --seeds: '0' is not a whole number from 1 to 1000") */
int nl_cmd_int_arg(const char *command, const char *option, const char *text, int *out);
int nl_cmd_ll_arg(const char *command, const char *option, const char *text, long long *out);

#endif
