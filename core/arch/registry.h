/* The architecture table: one row per nl_arch with everything the rest of
 * normlab needs to know about an architecture (its name and help, what it
 * reads, the placements it takes and its default one, the layout its
 * normalizers see, the config keys only it reads, how a plot names its
 * size, whether the bench times its kernels, its builder). Config
 * resolution, the schema, `normlab list`, the plots, the bench and the tests
 * iterate these rows; no other file lists architectures.
 *
 * Adding an architecture:
 *   1. core/arch/kinds.def: its line at the end (the NL_ARCH_* value);
 *   2. core/arch/registry.c: its row; core/arch/registry.h: its builder's
 *      prototype (below, with the others);
 *   3. core/arch/<name>.c: the builder, from the parts in core/arch/parts.h;
 *   4. core/config/keys_model.def: a row for each config key only it reads, with
 *      .when_key = "model.arch" (which architectures a key applies to comes
 *      from the rows' `keys`, not from the schema; a key another
 *      architecture already reads, as model.d_model, needs only its name in
 *      the row). A key that is new altogether also needs its field in
 *      nl_model_spec and its default in nl_model_spec_defaults
 *      (core/model/spec.{h,c});
 *   5. its goldens: a case in tests/golden/make_goldens.py, the fixture it
 *      writes under tests/fixtures/, and the test that reads it;
 *   6. configs/README.md: the architecture table and the key table are
 *      generated; rerun tests/test_arch_registry and tests/test_config with
 *      NL_UPDATE_README=1.
 * Nothing else: tests/test_arch_registry checks every row is complete and
 * that the schema, `normlab list` and the docs know it. */
#ifndef NL_ARCH_REGISTRY_H
#define NL_ARCH_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "arch/kinds.h"
#include "base/names.h"
#include "layers/layer.h"
#include "model/spec.h"

/* what an architecture reads (bits of nl_arch_info.inputs) */
enum {
    NL_ARCH_IN_FEATURES = 1u << 0, /* feature vectors of D values, as (N, D, 1, 1) */
    NL_ARCH_IN_IMAGES = 1u << 1,   /* images (N, C, H, W) larger than 1x1 */
    NL_ARCH_IN_TOKENS = 1u << 2,   /* token ids (N, T): a token dataset */
};

/* the normalizer kinds that have a form inside the recurrent cell
 * (placement in_cell: rnn.c's in_cell_kinds, which test_applies holds to
 * this); the schema's rules of the cell's keys read it */
#define NL_ARCH_IN_CELL_NORMS ((1u << NL_NORM_LAYER) | (1u << NL_NORM_RMS) | (1u << NL_NORM_BATCH))

/* the most config keys a row names in `keys` and `summary_keys` */
#define NL_ARCH_MAX_KEYS 14

/* adds the layers of the spec's architecture after `input`; returns the
 * logits, or NULL with the error recorded in the builder */
typedef nl_act *(*nl_arch_build_fn)(nl_builder *b, const nl_model_spec *spec, nl_act *input);

typedef struct {
    nl_name_entry id;        /* first: nl_arch_names walks the rows as its entries */
    const char *description; /* how it is built and where its normalizers sit */
    unsigned inputs;         /* NL_ARCH_IN_* bits */
    unsigned placements;     /* bit per nl_placement it accepts */
    nl_placement default_placement; /* model.norm.placement when the config does not say */
    /* the layout its normalizers see (nl_norm_accepts): 2 feature vectors
     * (N, D), 3 token vectors (N, T, D), 4 images (N, C, H, W); the kinds
     * that accept it are the ones it takes */
    int norm_ndim;
    /* the config key that sizes its normalized layers, and what to tell a
     * user whose layer is too small for a normalizer */
    const char *size_key;
    const char *size_hint;
    /* the config keys only some architectures read: the schema's rows with
     * when_key model.arch apply to the architectures that list them here */
    const char *keys[NL_ARCH_MAX_KEYS];
    /* built of blocks of d_model-wide token vectors (a transformer): it has
     * no widths or activation of its own, and the plot subtitle names its
     * size as "d_model 128, layers 4" and its placement as "placement pre"
     * rather than "256-256 relu" and "before act" */
    bool blocks;
    /* the keys the plot subtitle names its size by, in order */
    const char *summary_keys[NL_ARCH_MAX_KEYS];
    /* normlab bench times its normalizer and weight-layer kernels and its
     * SGD training step on the bench's image or feature-vector model
     * (nl_bench_model_spec) */
    bool bench_kernels;
    /* `normlab bench --run --torch` has its PyTorch twin at these
     * placements (bit per nl_placement; experiments/bench/torch_run.py's
     * ARCHS row mirrors them); 0: no twin */
    unsigned bench_torch;
    /* reads token sequences of any length with the same parameters (no
     * position table): normlab eval --context rebuilds it at another one */
    bool any_context;
    nl_arch_build_fn build;
} nl_arch_info;

/* row of architecture a; a must be in [0, NL_ARCH_COUNT) */
const nl_arch_info *nl_arch_info_of(nl_arch a);
/* whether the row takes placement p */
bool nl_arch_accepts_placement(const nl_arch_info *row, nl_placement p);
/* whether the row reads the config key (one of its `keys`) */
bool nl_arch_reads_key(const nl_arch_info *row, const char *key);
/* bit a set for every architecture whose row lists `key` in its keys */
unsigned nl_arch_kinds_with_key(const char *key);
/* the names of the architectures that read any of the NL_ARCH_IN_* bits
 * `inputs`, joined by `sep`, into buf */
const char *nl_arch_kinds_reading(unsigned inputs, const char *sep, char *buf, size_t size);
/* the row's accepted placements, joined by `sep`, into buf */
const char *nl_arch_placements_text(const nl_arch_info *row, const char *sep, char *buf,
                                    size_t size);
/* the architecture table of configs/README.md (markdown), from the rows */
void nl_arch_write_table(FILE *out);

/* the residual shortcut's weight alpha and the branch weights' initial
 * std factor beta of the transformer blocks, from the row of
 * spec->residual_scale (core/arch/residual_scale.c); 1 and 1 for none */
void nl_arch_residual_coefficients(const nl_model_spec *spec, float *alpha, float *beta);

/* the builders, one per architecture (core/arch/<name>.c) */
nl_act *nl_arch_build_mlp(nl_builder *b, const nl_model_spec *spec, nl_act *input);
nl_act *nl_arch_build_cnn(nl_builder *b, const nl_model_spec *spec, nl_act *input);
nl_act *nl_arch_build_resnet(nl_builder *b, const nl_model_spec *spec, nl_act *input);
nl_act *nl_arch_build_lm(nl_builder *b, const nl_model_spec *spec, nl_act *input);
nl_act *nl_arch_build_vit(nl_builder *b, const nl_model_spec *spec, nl_act *input);
nl_act *nl_arch_build_mixer(nl_builder *b, const nl_model_spec *spec, nl_act *input);
nl_act *nl_arch_build_rnn(nl_builder *b, const nl_model_spec *spec, nl_act *input);
nl_act *nl_arch_build_rnn_lm(nl_builder *b, const nl_model_spec *spec, nl_act *input);

#endif
