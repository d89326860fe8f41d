/* "none": the identity. It adds no layer at all, so a model without
 * normalization runs exactly the layers it names: forward is y = x and
 * backward passes dy through, both for free. */
#include "norm/norm.h"
#include "norm/registry.h"

static nl_act *nl_norm_none(nl_builder *b, const char *name, nl_act *in, const nl_norm_spec *spec)
{
    (void)b;
    (void)name;
    (void)spec;
    return in;
}

const nl_norm_info nl_norm_row_none = {
    {"none", "no normalization"},
    .keys = 0, .features = true, .images = true, .tokens = true,
    .adds_layer = false,
    .color = "#7f7f7f", .build = nl_norm_none, .bench_torch = true,
};
