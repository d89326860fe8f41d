/* A formula's tree as something to edit (issue 117, `normlab search`): the
 * printer that writes a parsed tree back as text, its canonical form, and
 * the mutation operators that change a tree into another. Every word they
 * write comes from the vocabulary's table (nl_formula_words) and the axis
 * table; a mutant is printed from its edited tree and parsed again, so it
 * is a formula the parser accepts, within NL_FORMULA_MAX_TREE nodes and
 * NL_FORMULA_MAX_TEXT characters, never text spliced into text. */
#ifndef NL_NORM_FORMULA_EDIT_H
#define NL_NORM_FORMULA_EDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/rng.h"
#include "norm/formula.h"

/* The formula printed from its tree: expr as model.norm.expr takes it
 * (the fewest parentheses the grammar needs to give the same tree back)
 * and params as model.norm.params, the parameters the tree reads in
 * their declared order (one the tree no longer reads is left out, as the
 * parser refuses it). NL_ERR_CONFIG when the text is past
 * NL_FORMULA_MAX_TEXT characters (or the buffers are shorter). */
nl_code nl_formula_print(const nl_formula *f, char *expr, size_t expr_size, char *params,
                         size_t params_size, nl_error *err);

/* The canonical text: every node in full parentheses, the operands of the
 * commutative words (+, *, and the table's functions marked so: min, max)
 * in the order of their own canonical texts, parameters with their starting
 * value and kind. Two trees that differ only in the order of such operands
 * have one canonical text (x * gamma, gamma * x). */
nl_code nl_formula_canonical(const nl_formula *f, char *out, size_t size, nl_error *err);

/* whether two formulas have the same tree (columns and node numbering
 * aside) and parameters */
bool nl_formula_same(const nl_formula *a, const nl_formula *b);

/* ---- mutation operators: one row each ---- */

typedef struct {
    /* the axes a reduction may be given (bits 1u << NL_AXIS_*): the base
     * model's input's; 0: batch and channels */
    unsigned axes;
} nl_formula_mutate_options;

typedef struct {
    const char *name;
    const char *help;
    bool two_parents; /* reads a second parent (crossover) */
} nl_formula_mutation;
extern const nl_formula_mutation nl_formula_mutations[];
extern const int nl_formula_mutation_count;

/* Applies mutation row `m` to parent (and other, the second parent, where
 * the row reads one: NULL reads parent twice) with draws from rng: *out
 * the mutant, parsed from the text printed from its edited tree. A row
 * that finds no site in parent (no reduction to change the axes of), or
 * whose edits within a few attempts give no formula the parser accepts
 * within its limits, leaves *out NULL and returns NL_ERR_UNSUPPORTED with
 * why; the draws it made are the same for the same parent and rng state. */
nl_code nl_formula_mutate(int m, const nl_formula *parent, const nl_formula *other, nl_rng *rng,
                          const nl_formula_mutate_options *opt, nl_formula **out, nl_error *err);

#endif
