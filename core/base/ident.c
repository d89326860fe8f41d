#include "base/ident.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

static bool name_ok(const char *s, const char *punctuation)
{
    if (!s[0] || s[0] == '.' || s[0] == '-' || strlen(s) > NL_IDENT_MAX)
        return false;
    for (; *s; s++) {
        const char c = *s;
        const bool alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && !strchr(punctuation, c))
            return false;
    }
    return true;
}

bool nl_ident_ok(const char *s) { return name_ok(s, "._-"); }

bool nl_ident_path_ok(const char *s)
{
    if (strlen(s) > NL_IDENT_MAX)
        return false;
    char part[NL_IDENT_MAX + 1];
    for (;;) {
        const size_t len = strcspn(s, "/");
        memcpy(part, s, len);
        part[len] = '\0';
        if (!nl_ident_ok(part)) /* also an empty component: "a//b", "/a", "a/" */
            return false;
        if (!s[len])
            return true;
        s += len + 1;
    }
}

bool nl_run_name_ok(const char *s) { return name_ok(s, "._-+=,@"); }

const char *nl_text_show(const char *s, char *buf, size_t size)
{
    size_t k = 0;
    if (!size)
        return buf;
    for (; *s && k + 5 < size; s++) {
        const unsigned char c = (unsigned char)*s;
        if (c < 0x20 || c >= 0x7f || c == '\\')
            k += (size_t)snprintf(buf + k, size - k, "\\x%02x", c);
        else
            buf[k++] = (char)c;
    }
    buf[k] = '\0';
    return buf;
}

int nl_utf8_len(const char *s)
{
    const unsigned char *u = (const unsigned char *)s;
    if (u[0] < 0x80)
        return u[0] ? 1 : 0;
    int n;
    unsigned cp;
    if (u[0] >= 0xc2 && u[0] <= 0xdf) {
        n = 2;
        cp = u[0] & 0x1fu;
    } else if (u[0] >= 0xe0 && u[0] <= 0xef) {
        n = 3;
        cp = u[0] & 0x0fu;
    } else if (u[0] >= 0xf0 && u[0] <= 0xf4) {
        n = 4;
        cp = u[0] & 0x07u;
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((u[i] & 0xc0) != 0x80) /* also the terminating NUL */
            return 0;
        cp = cp << 6 | (u[i] & 0x3fu);
    }
    const unsigned least[5] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < least[n] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

bool nl_ident_case_clash(const char *const *names, int n, int *a, int *b)
{
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (!strcasecmp(names[i], names[j])) {
                *a = i;
                *b = j;
                return true;
            }
    return false;
}
