#include "train/sink.h"

#include "base/name_table.h"

static const nl_name_entry split_entries[] = {
    [NL_SPLIT_TRAIN] = {"train", "training batches since the previous row (train mode)"},
    [NL_SPLIT_TEST] = {"test", "the test split in eval mode (running statistics)"},
    [NL_SPLIT_TEST_TRAINMODE] = {"test_trainmode", "the test split with batch statistics"},
};
NL_NAME_TABLE(nl_split_names, "split", split_entries, NL_SPLIT_COUNT);
