#include "train/state.h"

#include <string.h>

/* a checkpoint's integers are 64-bit (checkpoint.h) */
_Static_assert(sizeof(long) == 8, "the state's counters are written as 64-bit integers");

#define FIELD_SINCE(f, v) {#f, offsetof(nl_train_state, f), sizeof(((nl_train_state *)0)->f), v}
#define FIELD(f) FIELD_SINCE(f, 1)
const nl_train_state_field nl_train_state_fields[] = {
    FIELD(step),
    FIELD(window_steps),
    FIELD(evaluations),
    FIELD(last_eval_step),
    FIELD(data_epoch),
    FIELD(data_pos),
    FIELD(data_n),
    FIELD(lr),
    FIELD(window_sums),
    FIELD(model_metrics),
    FIELD(final_train_loss),
    FIELD(final_test_loss),
    FIELD(final_test_accuracy),
    FIELD(best_test_loss),
    FIELD(best_test_accuracy),
    FIELD(final_trainmode_accuracy),
    FIELD(elapsed_s),
    FIELD(train_s),
    FIELD(eval_s),
    FIELD(data_rng),
    FIELD_SINCE(precision, 5),
    FIELD_SINCE(scaler, 5),
    FIELD_SINCE(ranks, 7),
};
#undef FIELD
#undef FIELD_SINCE
const int nl_train_state_field_count =
    (int)(sizeof nl_train_state_fields / sizeof nl_train_state_fields[0]);

size_t nl_train_state_bytes(unsigned version)
{
    size_t bytes = 0;
    for (int i = 0; i < nl_train_state_field_count; i++)
        if (nl_train_state_fields[i].since <= version)
            bytes += nl_train_state_fields[i].size;
    return bytes;
}

void nl_train_state_write(const nl_train_state *s, unsigned char *out)
{
    for (int i = 0; i < nl_train_state_field_count; i++) {
        const nl_train_state_field *f = &nl_train_state_fields[i];
        memcpy(out, (const unsigned char *)s + f->offset, f->size);
        out += f->size;
    }
}

void nl_train_state_read(nl_train_state *s, const unsigned char *in, unsigned version)
{
    memset(s, 0, sizeof *s);
    for (int i = 0; i < nl_train_state_field_count; i++) {
        const nl_train_state_field *f = &nl_train_state_fields[i];
        if (f->since > version)
            continue;
        memcpy((unsigned char *)s + f->offset, in, f->size);
        in += f->size;
    }
}
