/* A command line walked by the command's table of options (cmd.h). */
#include <string.h>

#include "cmd.h"

static const nl_cmd_option *option_named(const nl_cmd_option *options, const char *word)
{
    for (const nl_cmd_option *o = options; o->name; o++)
        if (!strcmp(word, o->name))
            return o;
    return NULL;
}

int nl_cmd_walk(const nl_cmd_line *line, int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        const char *word = argv[i];
        if (nl_cmd_is_help(word)) {
            line->usage(stdout);
            return NL_CMD_HELP;
        }
        const nl_cmd_option *o = option_named(line->options, word);
        int status = 0;
        if (!o) {
            status = line->operands ? nl_cmd_operands(line->command, word, line->operands,
                                                      line->n_operands, line->max_operands,
                                                      line->what)
                                    : nl_cmd_operand(line->command, word, line->operand, line->what);
        } else if (o->flag) {
            *o->flag = true;
        } else if (i + 1 >= argc || (o->nonempty && !argv[i + 1][0])) {
            status = nl_cmd_usage_error(line->command, "%s needs %s", word,
                                        o->needs ? o->needs : "a value");
        } else {
            const char *value = argv[++i];
            if (o->text)
                *o->text = value;
            if (o->take)
                status = o->take(line->ctx, word, value);
        }
        if (status)
            return status;
    }
    const bool none = line->operands ? *line->n_operands == 0 : !*line->operand;
    return line->missing && none ? nl_cmd_usage_error(line->command, "%s", line->missing) : 0;
}
