/* What a probe remembers of a text file (nl_token_dataset_probe, the text
 * reader's row in data/registry.h): a leaf header, so that the registry
 * names it without tokens.h, whose loader reads the registry's rows. */
#ifndef NL_DATA_TEXT_MEMO_H
#define NL_DATA_TEXT_MEMO_H

#include <stdbool.h>

/* The last text file a probe read, known by the file's identity (device,
 * inode, size, modification and change times): checking many runs of one
 * corpus (a sweep's plan, `validate` over several configs) then reads it
 * once instead of once a run. Zero-initialized by the caller, who owns it;
 * a file written since is read again. */
typedef struct {
    bool valid;
    unsigned long long dev, ino;
    long long size, mtime_sec, mtime_nsec, ctime_sec, ctime_nsec;
    long length;
    bool used[256];
} nl_text_memo;

#endif
