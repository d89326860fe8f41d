/* The parameter normalizer table: the rows of the kinds
 * layers/param_norm_kinds.def lists, each defined in its kind's file, and
 * the calls the weight layers (linear.c, conv2d.c) make, so that a layer
 * knows no kind. The none row is here: it plans nothing and the layer uses
 * its weight parameter as it is. */
#include "layers/param_norm.h"

const nl_param_norm_row nl_param_norm_row_none = {
    .id = {"none", "the weight as it is"},
};

#define NL_PARAM_NORM_KIND(ID, name, kind_suffix, row) extern const nl_param_norm_row row;
#include "layers/param_norm_kinds.def"

static const nl_param_norm_row *const rows[] = {
#define NL_PARAM_NORM_KIND(ID, name, kind_suffix, row) [NL_PARAM_NORM_##ID] = &row,
#include "layers/param_norm_kinds.def"
};
_Static_assert(sizeof rows / sizeof rows[0] == NL_PARAM_NORM_COUNT,
               "one row per nl_param_norm_kind");

const nl_name_table nl_param_norm_names = {"parameter normalizer", (const nl_name_entry *)rows,
                                           NL_PARAM_NORM_COUNT, NL_NAME_BY_POINTER};

const nl_param_norm_row *nl_param_norm_row_of(nl_param_norm_kind kind) { return rows[kind]; }

nl_param_norm_kind nl_param_norm_kind_of(const nl_param_norm *pn)
{
    for (int k = 0; k < NL_PARAM_NORM_COUNT; k++)
        if (rows[k] == pn->row)
            return (nl_param_norm_kind)k;
    return NL_PARAM_NORM_NONE;
}

void nl_param_norm_plan(nl_builder *b, nl_param_norm *pn, nl_param *weight, int units,
                        int fan_in, const nl_param_norm_spec *spec)
{
    *pn = (nl_param_norm){.row = rows[spec ? spec->kind : NL_PARAM_NORM_NONE],
                          .units = units, .fan_in = fan_in};
    if (pn->row->plan)
        pn->row->plan(b, pn, weight, spec);
}

const float *nl_param_norm_forward(nl_param_norm *pn, const nl_pass *pass, const nl_param *weight)
{
    if (!pn->row->forward)
        return weight->data;
    pn->row->forward(pn, pass, weight);
    return pn->weight;
}

const float *nl_param_norm_used(const nl_param_norm *pn, const nl_param *weight)
{
    return pn->row->forward ? pn->weight : weight->data;
}

float *nl_param_norm_grad(nl_param_norm *pn, nl_param *weight)
{
    return pn->row->backward ? pn->grad : weight->grad;
}

void nl_param_norm_backward(nl_param_norm *pn, const nl_pass *pass, nl_param *weight)
{
    if (pn->row->backward)
        pn->row->backward(pn, pass, weight);
}
