/* SHA-1 (base/sha1.h): the standard's block function over 64-byte blocks,
 * the message padded with 0x80, zeros and its length in bits. */
#include "base/sha1.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

typedef struct {
    uint32_t h[5];
    unsigned char block[64];
    size_t used;     /* bytes in block */
    uint64_t length; /* bytes hashed */
} sha1_state;

static uint32_t rotl(uint32_t x, int n) { return x << n | x >> (32 - n); }

static void sha1_block(sha1_state *s, const unsigned char *p)
{
    uint32_t w[80];
    for (int i = 0; i < 16; i++)
        w[i] = (uint32_t)p[4 * i] << 24 | (uint32_t)p[4 * i + 1] << 16 | (uint32_t)p[4 * i + 2] << 8 | p[4 * i + 3];
    for (int i = 16; i < 80; i++)
        w[i] = rotl(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
    uint32_t a = s->h[0], b = s->h[1], c = s->h[2], d = s->h[3], e = s->h[4];
    for (int i = 0; i < 80; i++) {
        uint32_t f, k;
        if (i < 20) {
            f = (b & c) | (~b & d);
            k = 0x5a827999u;
        } else if (i < 40) {
            f = b ^ c ^ d;
            k = 0x6ed9eba1u;
        } else if (i < 60) {
            f = (b & c) | (b & d) | (c & d);
            k = 0x8f1bbcdcu;
        } else {
            f = b ^ c ^ d;
            k = 0xca62c1d6u;
        }
        const uint32_t t = rotl(a, 5) + f + e + k + w[i];
        e = d;
        d = c;
        c = rotl(b, 30);
        b = a;
        a = t;
    }
    s->h[0] += a;
    s->h[1] += b;
    s->h[2] += c;
    s->h[3] += d;
    s->h[4] += e;
}

static void sha1_add(sha1_state *s, const void *data, size_t n)
{
    const unsigned char *p = data;
    s->length += n;
    while (n) {
        const size_t take = n < 64 - s->used ? n : 64 - s->used;
        memcpy(s->block + s->used, p, take);
        s->used += take;
        p += take;
        n -= take;
        if (s->used == 64) {
            sha1_block(s, s->block);
            s->used = 0;
        }
    }
}

void nl_sha1_hex2(const void *a, size_t na, const void *b, size_t nb, char out[41])
{
    sha1_state s = {.h = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u, 0xc3d2e1f0u}};
    sha1_add(&s, a, na);
    sha1_add(&s, b, nb);
    const uint64_t bits = s.length * 8;
    static const unsigned char pad[64] = {0x80};
    sha1_add(&s, pad, s.used < 56 ? 56 - s.used : 120 - s.used);
    unsigned char len[8];
    for (int i = 0; i < 8; i++)
        len[i] = (unsigned char)(bits >> (56 - 8 * i));
    sha1_add(&s, len, 8);
    for (int i = 0; i < 5; i++)
        snprintf(out + 8 * i, 9, "%08x", s.h[i]);
}

void nl_git_blob_id(const void *data, size_t n, char out[41])
{
    char header[40];
    const int len = snprintf(header, sizeof header, "blob %zu", n);
    nl_sha1_hex2(header, (size_t)len + 1, data, n, out); /* the header's NUL is hashed */
}
