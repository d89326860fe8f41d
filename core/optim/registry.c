/* The optimizer table: the rows of the kinds optim/kinds.def lists, each
 * defined in its kind's file. The config schema (which keys apply to which
 * kind), the per-kind defaults, the model's optimizer state and the
 * documentation all read these rows. */
#include "optim/optim.h"

#include <stddef.h>

static const nl_optim_info *const rows[] = {
#define NL_OPTIM_KIND(ID, name, help) [NL_OPTIM_##ID] = &nl_optim_##name,
#include "optim/kinds.def"
};
static const nl_name_entry names[] = {
#define NL_OPTIM_KIND(ID, name, help) [NL_OPTIM_##ID] = {#name, help},
#include "optim/kinds.def"
};
_Static_assert(sizeof rows / sizeof rows[0] == NL_OPTIM_COUNT, "one row per nl_optim_kind");
_Static_assert(sizeof(nl_sgd_args) <= NL_OPTIM_ARGS_FLOATS * sizeof(float) &&
                   sizeof(nl_adamw_args) <= NL_OPTIM_ARGS_FLOATS * sizeof(float),
               "an optimizer's arguments fit their part of the per-step scalar block");

const nl_name_table nl_optim_names = {"optimizer", names, NL_OPTIM_COUNT, 0};

const nl_optim_info *nl_optim_info_of(nl_optim_kind k) { return rows[k]; }

unsigned nl_optim_kinds_with_keys(unsigned keys)
{
    unsigned mask = 0;
    for (int k = 0; k < NL_OPTIM_COUNT; k++)
        if ((rows[k]->keys & keys) == keys)
            mask |= 1u << k;
    return mask;
}

static const struct {
    unsigned bit;
    const char *keys;
} key_names[] = {
    {NL_OPTIM_KEY_MOMENTUM, "`momentum`, `dampening`, `nesterov`"},
    {NL_OPTIM_KEY_BETAS, "`betas`"},
    {NL_OPTIM_KEY_EPS, "`eps`"},
};

void nl_optim_write_table(FILE *out)
{
    fprintf(out, "| `type` | what | its own keys (train.optimizer.) | default lr "
                 "| default weight_decay | state per parameter |\n");
    fprintf(out, "|---|---|---|---|---|---|\n");
    for (int k = 0; k < NL_OPTIM_COUNT; k++) {
        const nl_optim_info *r = rows[k];
        fprintf(out, "| `%s` | %s | ", names[k].name, names[k].help);
        int shown = 0;
        for (size_t i = 0; i < sizeof key_names / sizeof key_names[0]; i++)
            if (r->keys & key_names[i].bit)
            {
                fprintf(out, "%s%s", shown++ ? ", " : "", key_names[i].keys);
                if (key_names[i].bit == NL_OPTIM_KEY_BETAS)
                    fprintf(out, " (default [%g, %g])", (double)r->default_betas[0],
                            (double)r->default_betas[1]);
            }
        fprintf(out, "%s | %g | %g | %d float%s |\n", shown ? "" : "-", (double)r->default_lr,
                (double)r->default_weight_decay, r->state_slots, r->state_slots == 1 ? "" : "s");
    }
}

void nl_optim_spec_defaults(nl_optim_spec *spec, nl_optim_kind kind)
{
    const nl_optim_info *r = rows[kind];
    spec->kind = kind;
    spec->lr = r->default_lr;
    spec->momentum = 0.9f;
    spec->dampening = 0.0f;
    spec->nesterov = false;
    /* a kind without betas keeps AdamW's, which it never reads */
    const nl_optim_info *betas_from = r->keys & NL_OPTIM_KEY_BETAS ? r : rows[NL_OPTIM_ADAMW];
    spec->betas[0] = betas_from->default_betas[0];
    spec->betas[1] = betas_from->default_betas[1];
    spec->n_betas = 2;
    spec->eps = 1e-8f;
    spec->weight_decay = r->default_weight_decay;
    /* torch.optim.*(model.parameters()) decays everything */
    spec->decay_norm_and_bias = true;
}

void nl_optim_prepare(nl_model *m, const nl_optim_spec *spec, float lr, long step)
{
    rows[spec->kind]->prepare(m, spec, lr, step);
}

void nl_optim_launch(nl_model *m, const nl_optim_spec *spec)
{
    rows[spec->kind]->launch(m, spec);
}

void nl_optim_step(nl_model *m, const nl_optim_spec *spec, float lr, long step)
{
    nl_optim_prepare(m, spec, lr, step);
    nl_model_upload_scalars(m);
    nl_optim_launch(m, spec);
}
