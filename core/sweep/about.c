/* What an experiment file says of itself: its description, the leading
 * comment the report's page and TensorBoard's HParams dashboard show. */
#include <string.h>

#include "sweep/sweep.h"

void nl_experiment_description(const char *text, nl_buf *out)
{
    bool open = false; /* a paragraph has text */
    for (const char *line = text; line && *line == '#';) {
        const size_t len = strcspn(line, "\n");
        const char *body = line + 1 + (line[1] == ' ');
        const int body_len = (int)(len - (size_t)(body - line));
        if (body_len > 0) {
            nl_buf_printf(out, "%s%.*s", open ? " " : out->len ? "\n\n" : "", body_len, body);
            open = true;
        } else {
            open = false;
        }
        line += len + (line[len] == '\n');
    }
}
