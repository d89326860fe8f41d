/* A normalizer written as a formula (model.norm.type expr): the text is
 * parsed once into a small tree, lowered onto a layer's input into a graph
 * of values (each with the axes it keeps: batch, channels or channel
 * groups, positions), differentiated in reverse mode on that graph, and
 * compiled into programs that run over the layer's activations.
 *
 * Only the input x, the output y and their gradients are activation-sized
 * in memory. Every other value the size of x is recomputed row by row from
 * x (and dy) and the small values (reductions, parameters, constants),
 * which the programs keep: as the fused built-ins keep a mean and an rstd
 * and recompute x_hat in their backward, so the formula costs the memory
 * of a built-in and one pass over x per level of nested reductions.
 *
 * The vocabulary (configs/README.md documents it with examples):
 *   x, eps, the parameters declared in model.norm.params, numbers
 *   + - * /, ^ (or **) with a constant exponent, unary -
 *   the function words of nl_formula_words (below): sqrt rsqrt exp log tanh
 *     sigmoid erf abs relu softplus detach, min(a, b), max(a, b),
 *     clamp(u, lo, hi)
 *   mean var std rms sum amax amin (u, [axes]) over batch, channels (in
 *     model.norm.groups groups), spatial (images), tokens (sequences);
 *     var is the biased variance (the one normalizers divide by)
 *   running(r) around a reduction that includes batch: the batch's value
 *     in training, the momentum average in evaluation (batch norm's
 *     semantics: a var is kept unbiased, as PyTorch keeps running_var);
 *     it starts at 1 for a spread or a mean of squares, at 0 for another
 *     mean (nl_formula_running_default), or at V: running(r, init=V)
 * Library code: errors are returned in nl_error with the key and the
 * column within the text. */
#ifndef NL_NORM_FORMULA_H
#define NL_NORM_FORMULA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "backend/formula_program.h"
#include "base/status.h"

/* the most characters of model.norm.expr, and of model.norm.params */
#define NL_FORMULA_MAX_TEXT 1024
#define NL_FORMULA_MAX_PARAMS_TEXT 256
/* the most nodes a formula's tree has (a formula past it is refused) */
#define NL_FORMULA_MAX_TREE 256

/* How many values a declared parameter holds: one for the layer, one per
 * channel, or one per channel group of model.norm.groups (PyTorch's
 * parameter of shape [G], each group's channels reading its value, its
 * gradient summed over them). One row each in nl_formula_param_kinds:
 * the parser, the canonical text, the exporter and the docs read them. */
typedef enum {
    NL_PARAM_SCALAR,
    NL_PARAM_CHANNEL,
    NL_PARAM_GROUP,
    NL_PARAM_KIND_COUNT
} nl_formula_param_kind;

typedef struct {
    const char *word;  /* after `per` in model.norm.params; NULL: written bare */
    const char *count; /* how many values, in words */
    /* the channels its values keep (formula_program.h's FC_ONE, FC_GROUPS,
     * FC_ALL; FC_GROUPS collapses to one of the others where the layer has
     * one group, or one per channel) */
    unsigned char channels;
    const char *torch;      /* the nn.Parameter's length in the exported module */
    const char *torch_view; /* its view on the input seen as (N, G, C/G, P) */
} nl_formula_param_kind_row;
extern const nl_formula_param_kind_row nl_formula_param_kinds[NL_PARAM_KIND_COUNT];

typedef struct {
    char name[24];
    nl_formula_param_kind kind;
    float init;
} nl_formula_param;

/* the values a parameter of `kind` holds on a layer of c channels in
 * `groups` groups (groups < 1 is one group) */
int nl_formula_param_size(nl_formula_param_kind kind, int c, int groups);

/* The vocabulary, one row per word (core/norm/formula_words.c): what the
 * parser accepts, `normlab list` and configs/README.md print, the planner
 * differentiates and the exporter writes as PyTorch all read these rows.
 *
 * A row's value is an operation of the programs (op) or, for a composite
 * word, a body in the formula grammar over its operands. Its derivative is
 * data in the same grammar, one formula per value operand, parsed by the
 * same parser and instantiated by the planner (PyTorch's derivatives.yaml),
 * naming:
 *   u, v (or the row's own operand names)  the operands
 *   g     the gradient arriving at the word's value
 *   y     the word's own value
 *   p     a power's constant exponent
 *   axes  (in an axis list) the axes the call reduces over
 * and the internal words (rows of kind NL_WORD_INTERNAL), which only
 * derivatives and bodies may call. A composite without a derivative is
 * differentiated through its body; one with a derivative (clamp, detach)
 * has that derivative in place of its body's. */
typedef enum {
    NL_WORD_FUNCTION,  /* name(u) or name(u, v, ...) */
    NL_WORD_REDUCTION, /* name(u, [axes]) */
    NL_WORD_RUNNING,   /* running(r): lowered by the planner itself */
    NL_WORD_OPERATOR,  /* + - * / ^ and unary -: written as symbols */
    NL_WORD_INTERNAL,  /* derivatives' own operations, not offered to users */
} nl_formula_word_kind;

#define NL_WORD_MAX_OPERANDS 3

typedef struct {
    const char *name; /* an operator's symbol */
    nl_formula_word_kind kind;
    /* the operands' names, space-separated ("u v"), values first; the
     * last `constants` of them must be constant numbers (clamp's lo hi) */
    const char *operands;
    int constants;
    const char *help;
    int op;              /* the nl_formula_op it lowers to; -1: a composite */
    const char *body;    /* a composite's value, over its operands */
    const char *grad[2]; /* d/d each value operand, in the formula grammar */
    /* the word in PyTorch: {u}, {v}, ... stand for the operands (a tensor,
     * or a constant number), {axes} for a reduction's dims */
    const char *torch;
    /* its two value operands commute (u + v, u * v, min, max): the
     * canonical form of a formula orders them (norm/formula_edit.h) */
    bool commutative;
} nl_formula_word;
extern const nl_formula_word nl_formula_words[];
extern const int nl_formula_word_count;
/* the row of a name of `kind`s a user may write (internal ones too when
 * `internal`), or -1 */
int nl_formula_word_find(const char *name, bool internal);
/* a row's operands: how many, and the i-th's name (into buf) */
int nl_formula_word_operands(const nl_formula_word *w);
const char *nl_formula_word_operand(const nl_formula_word *w, int i, char *buf, size_t size);
/* how a user writes the word: sqrt(u), clamp(u, lo, hi), mean(u, [axes]) */
void nl_formula_word_usage(const nl_formula_word *w, char *buf, size_t size);
/* the grammar table of configs/README.md (generated from the rows) */
void nl_formula_write_words_table(FILE *out);

/* the parsed text, independent of any layer */
typedef struct nl_formula nl_formula;

/* Parses expr and params (model.norm.expr, model.norm.params: "gamma = 1
 * per channel, alpha = 0.5", each a name, its starting value, and "per
 * channel" for one value per channel, "per group" for one per channel
 * group, else one scalar for the layer). On error
 * the message names the key and the 1-based column within its text. */
nl_code nl_formula_parse(const char *expr, const char *params, nl_formula **out, nl_error *err);
void nl_formula_free(nl_formula *f);
int nl_formula_param_count(const nl_formula *f);
const nl_formula_param *nl_formula_param_at(const nl_formula *f, int i);
/* Whether the formula's text names `word` (a name, function or axis:
 * eps, running, channels) anywhere: what the config asks before it takes
 * a key the formula may not read (model.norm.eps, momentum, groups).
 * Read from the text alone, so that it answers for a formula that does
 * not parse too (the build reports that). */
bool nl_formula_reads(const char *expr, const char *word);
/* the first word of the formula whose derivative its row declares 0
 * while its value varies (detach: a stop-gradient), or NULL: where one is,
 * the derived gradients differ from central differences by design */
const char *nl_formula_stops_gradient(const nl_formula *f);
/* does it keep running statistics (a running(...) anywhere) */
bool nl_formula_has_running(const nl_formula *f);
/* the formula as text normlab and PyTorch both read back the same
 * (tests/formula_torch.py turns it into torch code) */
const char *nl_formula_text(const nl_formula *f);

/* The fewest values any of the formula's reductions takes on an input
 * (train_batch samples of in), with that reduction's column and axes:
 * the normalized set a degenerate-set check reads; 0 where the formula
 * reduces over nothing it can count (no reductions, or an axis the input
 * lacks, which lowering refuses) */
long nl_formula_smallest_reduction(const nl_formula *f, int ndim, int c, int p, int groups,
                                   int train_batch, int *col, unsigned *axes);

/* ---- lowering onto a layer ---- */


/* The programs of one layer: its training forward and backward and its
 * evaluation forward (and, where running statistics exist, the backward
 * through them for training with frozen statistics). Sizes of the small
 * values and of the row scratch are fixed here, so running allocates
 * nothing. */
nl_code nl_formula_plan_make(const nl_formula *f, nl_formula_input in, float eps,
                             nl_formula_plan **out, nl_error *err);
void nl_formula_plan_free(nl_formula_plan *p);
/* floats of memory the plan's small values need for one layer, kept from
 * forward to backward (saved) and scratch (workspace, bytes) */
size_t nl_formula_plan_saved_floats(const nl_formula_plan *p);
size_t nl_formula_plan_workspace_bytes(const nl_formula_plan *p);
/* the host threads the programs run on, each with its own registers in
 * the workspace: the device's count, set when the layer is allocated */
void nl_formula_plan_set_threads(nl_formula_plan *p, int threads);
/* running statistics: count, and each one's size (floats) and start value */
int nl_formula_plan_running_count(const nl_formula_plan *p);
void nl_formula_plan_running_at(const nl_formula_plan *p, int i, size_t *count, float *init,
                                const char **what);
/* nodes in the derived programs, for `show` and the tests */
int nl_formula_plan_ops(const nl_formula_plan *p, int *forward, int *backward);
/* the plan's arrays as a GPU reads them (formula_program.h's
 * nl_formula_image_layout(p).bytes of them) written into out */
void nl_formula_plan_image(const nl_formula_plan *p, void *out);

#endif
