/* the looks of a claim (verdict/looks.h) */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/number.h"
#include "verdict/looks.h"

#define CONFIRM "-confirm"

int nl_look_base(const char *name, char *base, size_t size)
{
    const char *at = NULL;
    for (const char *p = strstr(name, CONFIRM); p; p = strstr(p + 1, CONFIRM))
        at = p; /* the last: a base may hold the word itself */
    const char *k = at ? at + strlen(CONFIRM) : "";
    long long order = 0;
    if (at && at > name && strspn(k, "0123456789") == strlen(k))
        order = *k ? (nl_parse_ll(k, 1, 1000000, &order) ? order : 0) : 1;
    snprintf(base, size, "%.*s", order ? (int)(at - name) : (int)strlen(name), name);
    return (int)order;
}
