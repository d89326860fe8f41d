/* A formula normalizer as a PyTorch nn.Module (formula_torch.h): one Python
 * statement per node of the parsed tree, in the order the planner lowers
 * it (an operand before its node, a running(...) numbered where lowering
 * numbers it), each value held as (N, G, C/G, P). What the text of the
 * formula said reaches the file only through the tree: names the parser
 * accepted ([A-Za-z_][A-Za-z0-9_]*, made safe below), numbers printed
 * from their floats, and the words of the vocabulary (formula_words.c). */
#include "norm/formula_torch.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/names.h"
#include "norm/formula_internal.h"

/* a value's extent along the channels of the (N, G, C/G, P) view: every
 * channel (G, C/G), one per group (G, 1), one for the layer (1, 1) */
enum { CH_ONE, CH_GROUP, CH_ALL };
_Static_assert((int)CH_ONE == (int)FC_ONE && (int)CH_GROUP == (int)FC_GROUPS && (int)CH_ALL == (int)FC_ALL,
               "a parameter kind's channels (FC_*) read as the module's (CH_*)");

typedef struct {
    unsigned char b, c, p; /* batch kept, channel extent, positions kept */
} shape;

typedef struct {
    const nl_formula *f;
    const nl_formula_torch_spec *spec;
    nl_buf *out;
    shape s[NL_FORMULA_MAX_TREE];
    int n_running;
    /* the running statistics, by number: the node, the buffer's name */
    int running_node[NL_FORMULA_MAX_RUNNING];
    char running_name[NL_FORMULA_MAX_RUNNING][32];
    const char *running_what[NL_FORMULA_MAX_RUNNING]; /* running_mean, _var or _std */
    char param_attr[NL_FORMULA_MAX_PARAMS][40];
    int groups;          /* the constructor's default: model.norm.groups */
    bool channel_groups; /* a reduction over channels or a per-group parameter */
    bool reduces_channels; /* a reduction over channels */
    bool positions;      /* a running statistic keeps the positions */
} gen;

/* Python's keywords, nn.Module's attributes, and the module's own: a
 * parameter of one of these names gets a '_' appended */
static const char *const reserved[] = {
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class",
    "continue", "def", "del", "elif", "else", "except", "finally", "for", "from", "global",
    "if", "import", "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return",
    "try", "while", "with", "yield", "match", "case", "type", "print", "self", "super",
    "torch", "nn",
    "T_destination", "add_module", "apply", "bfloat16", "buffers", "children", "compile",
    "cpu", "cuda", "double", "dump_patches", "eval", "extra_repr", "float", "forward",
    "get_buffer", "get_extra_state", "get_parameter", "get_submodule", "half", "ipu",
    "load_state_dict", "modules", "mtia", "named_buffers", "named_children", "named_modules",
    "named_parameters", "parameters", "register_backward_hook", "register_buffer",
    "register_forward_hook", "register_forward_pre_hook", "register_full_backward_hook",
    "register_full_backward_pre_hook", "register_load_state_dict_post_hook",
    "register_load_state_dict_pre_hook", "register_module", "register_parameter",
    "register_state_dict_post_hook", "register_state_dict_pre_hook", "requires_grad_",
    "set_extra_state", "set_submodule", "share_memory", "state_dict", "to", "to_empty",
    "train", "training", "xpu", "zero_grad", "call_super_init",
    "num_channels", "groups", "num_positions", "eps", "momentum", "num_batches_tracked",
    "NORMLAB_NAMES", "_nl_g", "_nl_update",
};

static bool is_reserved(const char *name)
{
    for (size_t i = 0; i < sizeof reserved / sizeof reserved[0]; i++)
        if (!strcmp(reserved[i], name))
            return true;
    return false;
}

/* a float as a Python literal that reads back as the same float: the
 * shortest such (1e-05, not 9.99999975e-06) */
static const char *number(char *buf, size_t size, float v)
{
    for (int digits = 1; digits <= 9; digits++) {
        snprintf(buf, size, "%.*g", digits, (double)v);
        if ((float)strtod(buf, NULL) == v)
            break;
    }
    if (!strpbrk(buf, ".en"))
        strncat(buf, ".0", size - strlen(buf) - 1);
    return buf;
}

static shape broadcast(shape a, shape b)
{
    return (shape){a.b > b.b ? a.b : b.b, a.c > b.c ? a.c : b.c, a.p > b.p ? a.p : b.p};
}

/* each node's extent, as torch's broadcasting gives it; lowering's checks
 * of the axes are the module's at run time (_nl_dims) */
static void shapes(gen *G)
{
    const nl_formula *f = G->f;
    for (int i = 0; i < f->count; i++) {
        const nl_formula_tree *t = &f->tree[i];
        shape s = {0, CH_ONE, 0};
        switch (t->kind) {
        case FT_NUM:
        case FT_EPS:
            break;
        case FT_X:
            s = (shape){1, CH_ALL, 1};
            break;
        case FT_PARAM:
            /* CH_* are formula_program.h's FC_* by value */
            s.c = nl_formula_param_kinds[f->params[t->param].kind].channels;
            G->channel_groups |= s.c == CH_GROUP;
            break;
        case FT_UNARY:
        case FT_POW:
        case FT_RUNNING:
            s = G->s[t->a];
            break;
        case FT_BINARY:
            s = broadcast(G->s[t->a], G->s[t->b]);
            break;
        case FT_CALL: /* its values broadcast (constants are scalars) */
            s = t->a >= 0 ? G->s[t->a] : s;
            s = t->b >= 0 ? broadcast(s, G->s[t->b]) : s;
            break;
        case FT_VAR:
            break;
        case FT_REDUCE:
            s = G->s[t->a];
            if (t->axes & (1u << NL_AXIS_BATCH))
                s.b = 0;
            if (t->axes & (1u << NL_AXIS_CHANNELS)) {
                G->channel_groups = G->reduces_channels = true;
                if (s.c == CH_ALL)
                    s.c = CH_GROUP;
            }
            if (t->axes & ((1u << NL_AXIS_SPATIAL) | (1u << NL_AXIS_TOKENS)))
                s.p = 0;
            break;
        }
        G->s[i] = s;
    }
}

static bool is_literal(const nl_formula_tree *t) { return t->kind == FT_NUM || t->kind == FT_EPS; }

/* node i as an operand: a literal, x4, a parameter's view or a value */
static const char *operand(const gen *G, int i, char *buf, size_t size)
{
    const nl_formula_tree *t = &G->f->tree[i];
    switch (t->kind) {
    case FT_NUM:
        return number(buf, size, t->value);
    case FT_EPS:
        return snprintf(buf, size, "self.eps"), buf;
    case FT_X:
        return snprintf(buf, size, "x4"), buf;
    case FT_PARAM:
        return snprintf(buf, size, "p%d", t->param), buf;
    default:
        return snprintf(buf, size, "v%d", i), buf;
    }
}

/* the same where a tensor must stand (a function's argument) */
static const char *tensor(const gen *G, int i, char *buf, size_t size)
{
    char lit[64];
    if (!is_literal(&G->f->tree[i]))
        return operand(G, i, buf, size);
    snprintf(buf, size, "_nl_k(x4, %s)", operand(G, i, lit, sizeof lit));
    return buf;
}

static void indent(gen *G, int depth)
{
    nl_buf_printf(G->out, "%*s", 4 * depth, "");
}

static void axes_tuple(unsigned axes, char *buf, size_t size)
{
    size_t at = (size_t)snprintf(buf, size, "(");
    int n = 0;
    for (int a = 0; a < NL_AXIS_COUNT && at < size; a++)
        if (axes & (1u << a))
            at += (size_t)snprintf(buf + at, size - at, "%s\"%s\"", n++ ? ", " : "",
                                   nl_name_of(&nl_norm_axis_names, a));
    if (at < size)
        snprintf(buf + at, size - at, "%s)", n == 1 ? "," : "");
}

/* the running statistic's view in evaluation: its extent in (1, G, C/G, P) */
static void state_view(const gen *G, int k, char *buf, size_t size)
{
    const shape s = G->s[G->running_node[k]];
    snprintf(buf, size, "self.%s.view(1, %s, %s, %s)", G->running_name[k],
             s.c == CH_ONE ? "1" : "g", s.c == CH_ALL ? "c // g" : "1", s.p ? "p" : "1");
}

static void emit(gen *G, int i, int depth);

/* a binary node: + - * / between its operands, or min/max of two tensors */
static void emit_binary(gen *G, int i, int depth)
{
    const nl_formula_tree *t = &G->f->tree[i];
    char a[80], b[80];
    emit(G, t->a, depth);
    emit(G, t->b, depth);
    indent(G, depth);
    const char op = t->op == FO_ADD ? '+' : t->op == FO_SUB ? '-' : t->op == FO_MUL ? '*' : '/';
    /* two literals: the left one a tensor, so that x / 0 is inf as in normlab */
    const bool both = is_literal(&G->f->tree[t->a]) && is_literal(&G->f->tree[t->b]);
    nl_buf_printf(G->out, "v%d = %s %c %s\n", i,
                  both ? tensor(G, t->a, a, sizeof a) : operand(G, t->a, a, sizeof a), op,
                  operand(G, t->b, b, sizeof b));
}

/* running(r): in training r (its statements inside the branch) and the
 * buffer's update; in evaluation the buffer */
static void emit_running(gen *G, int i, int depth)
{
    const nl_formula_tree *t = &G->f->tree[i];
    char a[80], b[80];
    const nl_formula_tree *r = &G->f->tree[t->a];
    /* lowering numbers a running(...) after those inside it */
    indent(G, depth);
    nl_buf_printf(G->out, "if self.training:\n");
    emit(G, t->a, depth + 1);
    const int k = G->n_running++;
    G->running_node[k] = i;
    const char *what = r->reduce == FR_VAR ? "running_var"
                       : r->reduce == FR_STD || r->reduce == FR_RMS ? "running_std"
                                                                      : "running_mean";
    /* normlab's state names (expr.c): running_mean, then running_mean1, ... */
    G->running_what[k] = what;
    int same = 0;
    for (int j = 0; j < k; j++)
        same += !strcmp(G->running_what[j], what);
    if (same)
        snprintf(G->running_name[k], sizeof G->running_name[k], "%s%d", what, same);
    else
        snprintf(G->running_name[k], sizeof G->running_name[k], "%s", what);
    char axes[96];
    axes_tuple(r->axes, axes, sizeof axes);
    indent(G, depth + 1);
    if (r->reduce == FR_VAR) /* kept unbiased: the count of each variance's values */
        nl_buf_printf(G->out, "self._nl_update(\"%s\", v%d, momentum, _nl_count(%s, _nl_dims(kind, %s)))\n",
                      G->running_name[k], t->a, tensor(G, r->a, a, sizeof a), axes);
    else
        nl_buf_printf(G->out, "self._nl_update(\"%s\", v%d, momentum, 1)\n", G->running_name[k], t->a);
    indent(G, depth + 1);
    nl_buf_printf(G->out, "v%d = v%d\n", i, t->a);
    indent(G, depth);
    nl_buf_printf(G->out, "else:\n");
    /* the axes are checked in evaluation too */
    indent(G, depth + 1);
    nl_buf_printf(G->out, "_nl_dims(kind, %s)\n", axes);
    state_view(G, k, b, sizeof b);
    indent(G, depth + 1);
    nl_buf_printf(G->out, "v%d = %s\n", i, b);
}

/* a word's row's PyTorch text, {name} replaced by its operand of that
 * name (a tensor, or a constant number), {axes} by a reduction's dims */
static void put_torch(gen *G, const nl_formula_word *w, const int *nodes, const float *consts,
                      const char *axes)
{
    const int n = nl_formula_word_operands(w), values = n - w->constants;
    for (const char *s = w->torch; *s;) {
        const char *close = *s == '{' ? strchr(s, '}') : NULL;
        if (!close) {
            nl_buf_printf(G->out, "%c", *s++);
            continue;
        }
        const size_t len = (size_t)(close - s - 1);
        char arg[160] = "";
        if (len == 4 && !strncmp(s + 1, "axes", 4))
            snprintf(arg, sizeof arg, "%s", axes);
        for (int k = 0; k < n; k++) {
            char name[16];
            nl_formula_word_operand(w, k, name, sizeof name);
            if (strlen(name) != len || strncmp(name, s + 1, len))
                continue;
            if (k < values)
                tensor(G, nodes[k], arg, sizeof arg);
            else
                number(arg, sizeof arg, consts[k - values]);
        }
        nl_buf_printf(G->out, "%s", arg);
        s = close + 1;
    }
    nl_buf_printf(G->out, "\n");
}

/* a function word, its operands first */
static void emit_call(gen *G, int i, int depth)
{
    const nl_formula_tree *t = &G->f->tree[i];
    const nl_formula_word *w = &nl_formula_words[t->word];
    const int values = nl_formula_word_operands(w) - w->constants;
    const int nodes[2] = {t->a, t->b};
    for (int k = 0; k < values; k++)
        emit(G, nodes[k], depth);
    indent(G, depth);
    nl_buf_printf(G->out, "v%d = ", i);
    put_torch(G, w, nodes, t->consts, "");
}

/* Statements computing node i (its operands first) at `depth` */
static void emit(gen *G, int i, int depth)
{
    const nl_formula_tree *t = &G->f->tree[i];
    char a[80];
    switch (t->kind) {
    case FT_NUM:
    case FT_EPS:
    case FT_X:
    case FT_PARAM:
        return;
    case FT_UNARY:
        emit(G, t->a, depth);
        indent(G, depth);
        nl_buf_printf(G->out, "v%d = -%s\n", i, tensor(G, t->a, a, sizeof a));
        return;
    case FT_POW: {
        emit(G, t->a, depth);
        char e[48];
        indent(G, depth);
        nl_buf_printf(G->out, "v%d = torch.pow(%s, %s)\n", i, tensor(G, t->a, a, sizeof a),
                      number(e, sizeof e, t->value));
        return;
    }
    case FT_BINARY:
        emit_binary(G, i, depth);
        return;
    case FT_REDUCE: {
        emit(G, t->a, depth);
        char axes[96];
        axes_tuple(t->axes, axes, sizeof axes);
        char dims[128];
        snprintf(dims, sizeof dims, "_nl_dims(kind, %s)", axes);
        indent(G, depth);
        nl_buf_printf(G->out, "v%d = ", i);
        put_torch(G, &nl_formula_words[t->word], (const int[2]){t->a, -1}, NULL, dims);
        return;
    }
    case FT_RUNNING:
        emit_running(G, i, depth);
        return;
    case FT_CALL:
        emit_call(G, i, depth);
        return;
    case FT_VAR:
        return;
    }
}

/* the formula as text from the tree, fully parenthesised: what the
 * docstring shows (only names, numbers and operators: nothing that can end
 * a docstring) */
static void print_tree(const gen *G, int i, nl_buf *out, bool bare)
{
    const nl_formula_tree *t = &G->f->tree[i];
    char num[48];
    switch (t->kind) {
    case FT_NUM:
        nl_buf_printf(out, "%s", number(num, sizeof num, t->value));
        return;
    case FT_EPS:
        nl_buf_printf(out, "eps");
        return;
    case FT_X:
        nl_buf_printf(out, "x");
        return;
    case FT_PARAM:
        nl_buf_printf(out, "%s", G->f->params[t->param].name);
        return;
    case FT_UNARY: {
        nl_buf_printf(out, "-");
        const bool paren = G->f->tree[t->a].kind == FT_BINARY || G->f->tree[t->a].kind == FT_POW;
        nl_buf_printf(out, paren ? "(" : "");
        print_tree(G, t->a, out, false);
        nl_buf_printf(out, paren ? ")" : "");
        return;
    }
    case FT_CALL: {
        const nl_formula_word *w = &nl_formula_words[t->word];
        const int values = nl_formula_word_operands(w) - w->constants;
        nl_buf_printf(out, "%s(", w->name);
        if (values > 0)
            print_tree(G, t->a, out, true);
        if (values > 1) {
            nl_buf_printf(out, ", ");
            print_tree(G, t->b, out, true);
        }
        for (int k = 0; k < w->constants; k++)
            nl_buf_printf(out, ", %s", number(num, sizeof num, t->consts[k]));
        nl_buf_printf(out, ")");
        return;
    }
    case FT_VAR:
        return;
    case FT_POW: {
        const nl_formula_tree *a = &G->f->tree[t->a];
        const bool paren = a->kind == FT_POW || a->kind == FT_UNARY || a->kind == FT_BINARY;
        nl_buf_printf(out, paren ? "(" : "");
        print_tree(G, t->a, out, false);
        nl_buf_printf(out, paren ? ")^%s" : "^%s", number(num, sizeof num, t->value));
        return;
    }
    case FT_BINARY:
        nl_buf_printf(out, bare ? "" : "(");
        print_tree(G, t->a, out, false);
        nl_buf_printf(out, " %c ", t->op == FO_ADD ? '+' : t->op == FO_SUB ? '-' : t->op == FO_MUL ? '*' : '/');
        print_tree(G, t->b, out, false);
        nl_buf_printf(out, bare ? "" : ")");
        return;
    case FT_REDUCE: {
        nl_buf_printf(out, "%s(", nl_formula_words[t->word].name);
        print_tree(G, t->a, out, true);
        char axes[96];
        nl_name_set_text(&nl_norm_axis_names, t->axes, axes, sizeof axes);
        nl_buf_printf(out, ", %s)", axes);
        return;
    }
    case FT_RUNNING:
        nl_buf_printf(out, "running(");
        print_tree(G, t->a, out, true);
        nl_buf_printf(out, t->init_given ? ", init=%s)" : ")", number(num, sizeof num, t->value));
        return;
    }
}

/* model.norm.name as a class name: its letters and digits, each run of
 * them capitalised (evonorm-s0: EvonormS0); ExprNorm for none */
static void class_name_of(const char *name, char *out, size_t size)
{
    size_t n = 0;
    bool start = true;
    if (name && isdigit((unsigned char)name[0]))
        n += (size_t)snprintf(out, size, "Norm");
    for (const char *s = name ? name : ""; *s && n + 1 < size; s++) {
        if (!isalnum((unsigned char)*s)) {
            start = true;
            continue;
        }
        out[n++] = start ? (char)toupper((unsigned char)*s) : *s;
        start = false;
    }
    out[n < size ? n : size - 1] = '\0';
    if (!n || !strcmp(out, "Norm"))
        snprintf(out, size, "ExprNorm");
    if (is_reserved(out) || !strcmp(out, "Module"))
        strncat(out, "Norm", size - strlen(out) - 1);
}

static bool attr_taken(const gen *G, const char *name, int params_before)
{
    if (is_reserved(name))
        return true;
    for (int k = 0; k < G->n_running; k++)
        if (!strcmp(G->running_name[k], name))
            return true;
    for (int k = 0; k < params_before; k++)
        if (!strcmp(G->param_attr[k], name))
            return true;
    return false;
}

static void buffer_count(const gen *G, int k, char *buf, size_t size)
{
    const shape s = G->s[G->running_node[k]];
    snprintf(buf, size, "%s%s", s.c == CH_ALL ? "num_channels" : s.c == CH_GROUP ? "groups" : "1",
             s.p ? " * num_positions" : "");
}

/* the buffer's start: normlab's (the parser's rule, or the formula's init=) */
static const char *running_start(const gen *G, int k, char *buf, size_t size)
{
    return number(buf, size, G->f->tree[G->running_node[k]].value);
}

static const char *const helpers =
    "import torch\n"
    "from torch import nn\n"
    "\n"
    "_NL_INPUTS = {2: \"features (N, C)\", 3: \"token sequences (N, T, C)\", 4: \"images (N, C, H, W)\"}\n"
    "\n"
    "\n"
    "def _nl_dims(kind, axes):\n"
    "    \"\"\"the dimensions of the (N, G, C/G, P) view a reduction over axes reduces\"\"\"\n"
    "    dims = []\n"
    "    for axis in axes:\n"
    "        if axis == \"batch\":\n"
    "            dims.append(0)\n"
    "        elif axis == \"channels\":\n"
    "            dims.append(2)\n"
    "        elif (axis == \"spatial\" and kind == 4) or (axis == \"tokens\" and kind == 3):\n"
    "            dims.append(3)\n"
    "        else:\n"
    "            raise ValueError(\"the formula reduces over %s, but this input, %s, has no such axis\"\n"
    "                             % (axis, _NL_INPUTS[kind]))\n"
    "    return tuple(dims)\n"
    "\n"
    "\n"
    "def _nl_count(u, dims):\n"
    "    \"\"\"the values a reduction of u over dims takes together\"\"\"\n"
    "    count = 1\n"
    "    for d in dims:\n"
    "        count *= u.shape[d]\n"
    "    return count\n"
    "\n"
    "\n"
    "def _nl_mean(u, dims):\n"
    "    return u.mean(dim=dims, keepdim=True)\n"
    "\n"
    "\n"
    "def _nl_sum(u, dims):\n"
    "    return u.sum(dim=dims, keepdim=True)\n"
    "\n"
    "\n"
    "def _nl_var(u, dims):\n"
    "    \"\"\"the biased variance, in two passes as normlab computes it\"\"\"\n"
    "    centred = u - u.mean(dim=dims, keepdim=True)\n"
    "    return (centred * centred).mean(dim=dims, keepdim=True)\n"
    "\n"
    "\n"
    "def _nl_std(u, dims):\n"
    "    return torch.sqrt(_nl_var(u, dims))\n"
    "\n"
    "\n"
    "def _nl_rms(u, dims):\n"
    "    return torch.sqrt((u * u).mean(dim=dims, keepdim=True))\n"
    "\n"
    "\n"
    "def _nl_k(like, value):\n"
    "    \"\"\"a number as a tensor of the input's type and device\"\"\"\n"
    "    return like.new_full((1, 1, 1, 1), value)\n";

/* the module's docstring: the formula from the tree, the config's
 * constants, the parameters and running statistics */
static void write_docstring(const gen *G, const char *cls)
{
    const nl_formula *f = G->f;
    const nl_formula_torch_spec *spec = G->spec;
    nl_buf *out = G->out;
    char num[48];
    nl_buf_printf(out, "# Generated by `normlab export torch` from a formula normalizer\n"
                       "# (model.norm.type: expr). Self-contained: needs torch alone.\n");
    nl_buf_printf(out, "\"\"\"%s: normlab's formula normalizer as a PyTorch module.\n\n    y = ", cls);
    print_tree(G, f->root, out, true);
    nl_buf_printf(out, "\n\neps = %s", number(num, sizeof num, spec->eps));
    if (G->n_running)
        nl_buf_printf(out, ", momentum = %s",
                      spec->cumulative ? "None (a plain average)" : number(num, sizeof num, spec->momentum));
    if (G->channel_groups)
        nl_buf_printf(out, ", groups = %d (%s)", G->groups,
                      G->reduces_channels ? "the channels a reduction over channels takes are each group's"
                                          : "a per-group parameter holds one value for each");
    nl_buf_printf(out, ".\n\nParameters:");
    for (int k = 0; k < f->n_params; k++)
        nl_buf_printf(out, "\n    %s: %s, starts at %s%s", G->param_attr[k],
                      nl_formula_param_kinds[f->params[k].kind].count,
                      number(num, sizeof num, f->params[k].init),
                      strcmp(G->param_attr[k], f->params[k].name)
                          ? " (renamed: the declared name is Python's or the module's)"
                          : "");
    if (!f->n_params)
        nl_buf_printf(out, " none");
    if (G->n_running)
        nl_buf_printf(out, "\nRunning statistics (the batch's value in training, updated into the buffer\n"
                           "by the momentum; the buffer in evaluation):");
    for (int k = 0; k < G->n_running; k++) {
        const nl_formula_tree *r = &f->tree[f->tree[G->running_node[k]].a];
        char axes[96], start[48];
        nl_name_set_text(&nl_norm_axis_names, r->axes, axes, sizeof axes);
        nl_buf_printf(out, "\n    %s: %s over %s, starts at %s%s", G->running_name[k], nl_formula_words[r->word].name,
                      axes, running_start(G, k, start, sizeof start),
                      r->reduce == FR_VAR ? ", kept unbiased" : "");
    }
    nl_buf_printf(out, "\n\n%s(num_channels%s%s). Input: (N, C) features, (N, T, C) token\n"
                       "sequences or (N, C, H, W) images; the output has the input's shape.%s\n\"\"\"\n",
                  cls, G->channel_groups ? ", groups" : "", G->positions ? ", num_positions" : "",
                  G->positions ? "\nA running statistic keeps the positions (an image's pixels, a sequence's\n"
                                 "tokens): num_positions of them per channel, the input's H * W or T."
                               : "");
}

/* the class line, NORMLAB_NAMES, __init__ and extra_repr */
static void write_init(const gen *G, const char *cls)
{
    const nl_formula *f = G->f;
    const nl_formula_torch_spec *spec = G->spec;
    nl_buf *out = G->out;
    char num[48];
    nl_buf_printf(out, "\n\nclass %s(nn.Module):\n", cls);
    nl_buf_printf(out, "    \"\"\"the formula above; see the module's docstring\"\"\"\n\n");
    nl_buf_printf(out, "    # normlab's names of the parameters and running statistics (<layer>.<name> in\n"
                       "    # its checkpoints) and this module's\n    NORMLAB_NAMES = {");
    for (int k = 0; k < f->n_params; k++)
        nl_buf_printf(out, "%s\"%s\": \"%s\"", k ? ", " : "", f->params[k].name, G->param_attr[k]);
    for (int k = 0; k < G->n_running; k++)
        nl_buf_printf(out, "%s\"%s\": \"%s\"", k || f->n_params ? ", " : "", G->running_name[k],
                      G->running_name[k]);
    nl_buf_printf(out, "}\n\n    def __init__(self, num_channels");
    if (G->channel_groups)
        nl_buf_printf(out, ", groups=%d", G->groups);
    nl_buf_printf(out, "%s):\n", G->positions ? ", num_positions=1" : "");
    nl_buf_printf(out, "        super().__init__()\n"
                       "        if num_channels < 1:\n"
                       "            raise ValueError(\"num_channels must be at least 1\")\n"
                       "        self.num_channels = num_channels\n");
    if (G->channel_groups)
        nl_buf_printf(out, "        if groups < 1 or num_channels %% groups:\n"
                           "            raise ValueError(\"groups (%%d) must divide num_channels (%%d)\" %% "
                           "(groups, num_channels))\n"
                           "        self.groups = groups\n");
    else
        nl_buf_printf(out, "        groups = 1  # the formula reduces over no channels\n");
    nl_buf_printf(out, "        self._nl_g = groups\n");
    if (G->positions)
        nl_buf_printf(out, "        # a running statistic keeps the positions (pixels, tokens): one per position\n"
                           "        self.num_positions = num_positions\n");
    nl_buf_printf(out, "        self.eps = %s\n", number(num, sizeof num, spec->eps));
    if (G->n_running)
        nl_buf_printf(out, "        self.momentum = %s\n",
                      spec->cumulative ? "None  # a plain average over num_batches_tracked"
                                       : number(num, sizeof num, spec->momentum));
    for (int k = 0; k < f->n_params; k++)
        nl_buf_printf(out, "        self.%s = nn.Parameter(torch.full((%s,), %s))\n", G->param_attr[k],
                      nl_formula_param_kinds[f->params[k].kind].torch, number(num, sizeof num, f->params[k].init));
    for (int k = 0; k < G->n_running; k++) {
        char count[64], start[48];
        buffer_count(G, k, count, sizeof count);
        nl_buf_printf(out, "        self.register_buffer(\"%s\", torch.full((%s,), %s))\n", G->running_name[k],
                      count, running_start(G, k, start, sizeof start));
    }
    if (G->n_running)
        nl_buf_printf(out, "        self.register_buffer(\"num_batches_tracked\", torch.tensor(0, dtype=torch.long))\n");
    nl_buf_printf(out,
                  "\n    def extra_repr(self):\n        return \"num_channels=%%d%s, eps=%%g%s\" %% "
                  "(self.num_channels%s, self.eps%s)\n",
                  G->channel_groups ? ", groups=%d" : "", G->n_running ? ", momentum=%s" : "",
                  G->channel_groups ? ", self.groups" : "", G->n_running ? ", self.momentum" : "");
}

static const char *const update_method =
    "\n    def _nl_update(self, name, value, momentum, count):\n"
    "        \"\"\"buffer = (1 - momentum) buffer + momentum value (a variance of count\n"
    "        values times count / (count - 1), kept unbiased)\"\"\"\n"
    "        buffer = getattr(self, name)\n"
    "        with torch.no_grad():\n"
    "            value = value.detach().reshape(-1).to(buffer.dtype)\n"
    "            if count > 1:\n"
    "                value = value * (count / (count - 1))\n"
    "            buffer.copy_((1.0 - momentum) * buffer + momentum * value)\n";

static const char *const forward_head =
    "\n    def forward(self, x):\n"
    "        kind = x.dim()\n"
    "        if kind not in (2, 3, 4):\n"
    "            raise ValueError(\"the input is (N, C), (N, T, C) or (N, C, H, W), not %d-dimensional\" % kind)\n"
    "        n = x.shape[0]\n"
    "        c = x.shape[2] if kind == 3 else x.shape[1]\n"
    "        if c != self.num_channels:\n"
    "            raise ValueError(\"the input has %d channels, the module %d\" % (c, self.num_channels))\n"
    "        g = self._nl_g\n"
    "        if kind == 2:\n"
    "            p = 1\n"
    "            x4 = x.reshape(n, g, c // g, 1)\n"
    "        elif kind == 3:\n"
    "            p = x.shape[1]\n"
    "            x4 = x.transpose(1, 2).reshape(n, g, c // g, p)\n"
    "        else:\n"
    "            p = x.shape[2] * x.shape[3]\n"
    "            x4 = x.reshape(n, g, c // g, p)\n";

/* _nl_update where running statistics are kept, and forward: the input
 * viewed as (N, G, C/G, P), the parameters' views, the body, the output
 * in the input's shape */
static void write_forward(const gen *G, const char *body)
{
    const nl_formula *f = G->f;
    nl_buf *out = G->out;
    if (G->n_running)
        nl_buf_printf(out, "%s", update_method);
    nl_buf_printf(out, "%s", forward_head);
    if (G->positions)
        nl_buf_printf(out, "        if p != self.num_positions:\n"
                           "            raise ValueError(\"the input has %%d positions, the running statistics "
                           "%%d\" %% (p, self.num_positions))\n");
    for (int k = 0; k < f->n_params; k++)
        nl_buf_printf(out, "        p%d = self.%s.view(%s)\n", k, G->param_attr[k],
                      nl_formula_param_kinds[f->params[k].kind].torch_view);
    if (G->n_running)
        nl_buf_printf(out, "        momentum = None\n"
                           "        if self.training:\n"
                           "            self.num_batches_tracked.add_(1)\n"
                           "            momentum = self.momentum if self.momentum is not None else "
                           "1.0 / float(self.num_batches_tracked)\n");
    nl_buf_printf(out, "%s", body);
    char root[80];
    nl_buf_printf(out, "        y4 = %s.expand(x4.shape)\n", tensor(G, f->root, root, sizeof root));
    nl_buf_printf(out, "        if kind == 3:\n"
                       "            return y4.reshape(n, c, p).transpose(1, 2)\n"
                       "        return y4.reshape(x.shape)\n");
}

nl_code nl_formula_torch(const nl_formula *f, const nl_formula_torch_spec *spec, nl_buf *out,
                         char *class_name, size_t class_size, nl_error *err)
{
    gen *G = calloc(1, sizeof *G);
    if (!G)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory generating the PyTorch module");
    G->f = f;
    G->spec = spec;
    G->groups = spec->groups > 0 ? spec->groups : 1;
    shapes(G);
    char cls[64];
    class_name_of(spec->name, cls, sizeof cls);
    if (class_name)
        snprintf(class_name, class_size, "%s", cls);
    /* the body first: it numbers and names the running statistics */
    nl_buf body = {0};
    G->out = &body;
    emit(G, f->root, 2);
    G->out = out;
    for (int k = 0; k < G->n_running; k++)
        G->positions |= G->s[G->running_node[k]].p;
    for (int k = 0; k < f->n_params; k++) {
        snprintf(G->param_attr[k], sizeof G->param_attr[k], "%s", f->params[k].name);
        while (attr_taken(G, G->param_attr[k], k) && strlen(G->param_attr[k]) + 1 < sizeof G->param_attr[k])
            strcat(G->param_attr[k], "_");
    }
    write_docstring(G, cls);
    nl_buf_printf(out, "%s", helpers);
    write_init(G, cls);
    write_forward(G, body.data ? body.data : "");
    const bool failed = body.failed || out->failed;
    nl_buf_free(&body);
    free(G);
    if (failed)
        return nl_fail(err, NL_ERR_NOMEM, "out of memory generating the PyTorch module");
    return NL_OK;
}
