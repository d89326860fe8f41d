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
    {NL_OPTIM_KEY_MOMENTUM, "`momentum`"},
    {NL_OPTIM_KEY_DAMPENING, "`dampening`, `nesterov`"},
    {NL_OPTIM_KEY_BETAS, "`betas`"},
    {NL_OPTIM_KEY_ALPHA, "`alpha`, `centered`"},
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
                if (key_names[i].bit == NL_OPTIM_KEY_MOMENTUM)
                    fprintf(out, " (default %g)", (double)r->default_momentum);
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
    /* a kind without momentum keeps SGD's, and one without betas AdamW's,
     * which it never reads */
    const nl_optim_info *momentum_from = r->keys & NL_OPTIM_KEY_MOMENTUM ? r : rows[NL_OPTIM_SGD];
    spec->momentum = momentum_from->default_momentum;
    spec->dampening = 0.0f;
    spec->nesterov = false;
    spec->alpha = 0.99f; /* PyTorch's */
    spec->centered = false;
    const nl_optim_info *betas_from = r->keys & NL_OPTIM_KEY_BETAS ? r : rows[NL_OPTIM_ADAMW];
    spec->betas[0] = betas_from->default_betas[0];
    spec->betas[1] = betas_from->default_betas[1];
    spec->n_betas = 2;
    spec->eps = 1e-8f;
    spec->weight_decay = r->default_weight_decay;
    /* torch.optim.*(model.parameters()) decays everything */
    spec->decay_norm_and_bias = true;
}

/* The per-step scalars start with two args structs of the kind's, one per
 * parameter group: the decayed parameters', then the norms' and biases',
 * which are exempt from weight decay unless decay_norm_and_bias. */
void nl_optim_prepare(nl_model *m, const nl_optim_spec *spec, float lr, long step)
{
    const nl_optim_info *r = rows[spec->kind];
    r->scalars(spec, spec->weight_decay, lr, step, m->scalars_host);
    r->scalars(spec, 0.0f, lr, step, m->scalars_host + NL_OPTIM_ARGS_FLOATS);
}

/* The parameter arena holds the decayed parameters first, then norms and
 * biases, and each state slot is an arena of the same layout: the kind's op
 * once over all of it when every parameter decays alike, else once per
 * group with the group's arguments. */
void nl_optim_launch(nl_model *m, const nl_optim_spec *spec)
{
    const nl_optim_info *r = rows[spec->kind];
    nl_backend *be = m->be;
    const bool one_group = spec->decay_norm_and_bias || spec->weight_decay == 0.0f;
    const size_t decayed = one_group ? m->param_floats : m->decay_floats;
    const size_t stride = m->param_floats;
    r->op(be, decayed, m->param_arena, m->grad_arena, m->optim_arena, stride, m->scalars);
    if (decayed == m->param_floats)
        return;
    r->op(be, m->param_floats - decayed, m->param_arena + decayed, m->grad_arena + decayed,
          m->optim_arena + decayed, stride, m->scalars + NL_OPTIM_ARGS_FLOATS);
}

void nl_optim_step(nl_model *m, const nl_optim_spec *spec, float lr, long step)
{
    nl_optim_prepare(m, spec, lr, step);
    nl_model_upload_scalars(m);
    nl_optim_launch(m, spec);
}
