/* libFuzzer harness: the CIFAR-10 binary reader through nl_dataset_load.
 * Input: byte 0 bit i: file i is absent, bit 6: the files go into the
 * cifar-10-batches-bin subdirectory the archive unpacks to; byte 1:
 * data.train_size, byte 2: data.test_size (0 = all); then the six files,
 * cut as fuzz_split says: data_batch_1.bin .. data_batch_5.bin, test_batch.bin. */
#include <sys/stat.h>

#include "fuzz_files.h"

#define CIFAR_FILES 6
#define CIFAR_HEADER 3
#define CIFAR_SUBDIR "cifar-10-batches-bin"

static const char *cifar_name(int i, char *buf, size_t size)
{
    if (i < CIFAR_FILES - 1)
        snprintf(buf, size, "data_batch_%d.bin", i + 1);
    else
        snprintf(buf, size, "test_batch.bin");
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[CIFAR_FILES];
    size_t len[CIFAR_FILES];
    if (!fuzz_split(data, size, CIFAR_HEADER, CIFAR_FILES, part, len))
        return 0;
    const char *dir = fuzz_files_dir();
    char sub[300], name[32];
    snprintf(sub, sizeof sub, "%s/" CIFAR_SUBDIR, dir);
    for (int i = 0; i < CIFAR_FILES; i++) {
        fuzz_remove_file(dir, cifar_name(i, name, sizeof name));
        fuzz_remove_file(sub, name);
    }
    rmdir(sub);
    const bool in_sub = data[0] & 0x40;
    if (in_sub)
        FUZZ_REQUIRE(mkdir(sub, 0700) == 0, "cannot make %s", sub);
    for (int i = 0; i < CIFAR_FILES; i++)
        if (!(data[0] & (1 << i)))
            fuzz_write_file(in_sub ? sub : dir, cifar_name(i, name, sizeof name), part[i], len[i],
                            false);

    fuzz_load_dataset(NL_DATA_CIFAR10, dir, data, 3, 32);
    return 0;
}
