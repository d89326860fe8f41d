/* libFuzzer harness: the IDX reader (MNIST, Fashion-MNIST; plain or gzip)
 * through nl_dataset_load. Input: byte 0 bit i: file i is written
 * gzip-compressed by the harness (as NAME.gz; otherwise the bytes are
 * written as they are, so the corpus can hold gzip streams of its own, under
 * the plain name), bit 4 + i: file i is absent; byte 1: data.train_size,
 * byte 2: data.test_size (0 = all); then the four files, cut as fuzz_split
 * says: train images, train labels, test images, test labels. */
#include "fuzz_files.h"

#define IDX_FILES 4
static const char *const idx_names[IDX_FILES] = {
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
};
#define IDX_HEADER 3

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *part[IDX_FILES];
    size_t len[IDX_FILES];
    if (!fuzz_split(data, size, IDX_HEADER, IDX_FILES, part, len))
        return 0;
    const char *dir = fuzz_files_dir();
    for (int i = 0; i < IDX_FILES; i++) {
        char gz[64];
        snprintf(gz, sizeof gz, "%s.gz", idx_names[i]);
        fuzz_remove_file(dir, idx_names[i]);
        fuzz_remove_file(dir, gz);
        if (data[0] & (0x10 << i))
            continue;
        bool compress = data[0] & (1 << i);
        fuzz_write_file(dir, compress ? gz : idx_names[i], part[i], len[i], compress);
    }

    fuzz_load_dataset(NL_DATA_MNIST, dir, data, 1, 28);
    return 0;
}
