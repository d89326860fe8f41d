/* A formula's passes compiled to native code: C source generated from a
 * plan's row programs (never from the formula's text: nodes become
 * indices, constants their exact bits), compiled by the C compiler normlab
 * was built with into a shared object in a private per-user cache, and
 * loaded. Each generated pass does what the row interpreter
 * (core/cpu/formula.c) does, in the same order, with the floating-point
 * flags pinned (no contraction, no fast math) and the elementary functions
 * taken from the running kernel set, so that it gives the interpreter's
 * bits; the interpreter stays the reference and the fallback. Library
 * code: nothing printed; what ran and why is in the result. */
#ifndef NL_NORM_FORMULA_COMPILE_H
#define NL_NORM_FORMULA_COMPILE_H

#include <stdbool.h>
#include <stddef.h>

#include "backend/backend.h"
#include "backend/formula_program.h"
#include "base/status.h"

/* The C source of every pass of p's programs for the input in channel
 * block `block` (0: rows contiguous), defining `nl_formula_object_key`
 * as `key`. Fills each pass's slot list. NULL when out of memory. */
char *nl_formula_codegen(nl_formula_plan *p, int block, const char *key);

typedef struct {
    /* the compiler: NULL, the one normlab was built with */
    const char *cc;
    /* the running CPU kernel set ("x86-64-v3", "x86-64-v4-bf16", "native",
     * ...): the instructions the object is compiled for */
    const char *kernel_set;
    /* the cache directory: NULL, $XDG_CACHE_HOME/normlab/formula or
     * ~/.cache/normlab/formula */
    const char *cache_dir;
} nl_formula_compile_options;

typedef struct {
    bool compiled;   /* the passes run native code */
    bool from_cache; /* loaded, not compiled now */
    double ms;       /* the time it took */
    /* why the interpreter runs instead (compiled false), or what was
     * noticed on the way (a damaged cache entry compiled again) */
    char why[320];
    char key[65]; /* the object's name: a SHA-256 of everything that made it */
} nl_formula_compile_result;

/* Compiles (or loads from the cache) p's passes for channel block `block`
 * and attaches them to p. Never fails the run: where native code cannot
 * be had (no compiler, a compile error, an unsafe cache, the environment's
 * NORMLAB_FORMULA=interpret) p keeps the interpreter and res->why says so. */
void nl_formula_compile(nl_formula_plan *p, int block, const nl_formula_compile_options *opt,
                        nl_formula_compile_result *res);
/* drops p's native code (the object stays loaded while another plan uses it) */
void nl_formula_compiled_release(nl_formula_plan *p);

/* whether NORMLAB_FORMULA asks for the interpreter; an unknown value is an
 * error naming the accepted ones */
nl_code nl_formula_mode_from_env(bool *interpret, nl_error *err);

/* what summary.json's formula_kernels says of the formula layers a
 * backend's model compiled (be->formula_*): "compiled", "interpreted: why",
 * or both with counts; "" without formula layers */
void nl_formula_kernels_record(const nl_backend *be, char *buf, size_t size);

#endif
