/* The block-removal probe (train.log.block_skip; the measure of Sun et al.
 * 2025, "The Curse of Depth in Large Language Models", and of the layer
 * pruning studies it cites): at every evaluation, for each residual block,
 * the test loss of the model with that block's branches removed (each of
 * its residual adds passing its shortcut alone, times its factor) minus
 * the whole model's test loss. A block whose removal costs nothing adds
 * nothing to what the model computes. A block is the residual adds whose
 * names share their parent (a transformer block's add1 and add2, a resnet
 * block's add); the adds are the layers whose kind can drop its branch
 * (nl_layer_vtable.drop_branch). Each measurement is an eval-mode pass of
 * its own over the test split per block, and one of the whole model: it
 * changes nothing training reads. Buffers are planned at open. */
#ifndef NL_PROBE_BLOCKSKIP_H
#define NL_PROBE_BLOCKSKIP_H

#include "model/model.h"
#include "train/series.h"

typedef struct {
    int n_adds, n_blocks;
    nl_layer **adds;  /* the residual adds, input to output */
    int *block_of;    /* per add: its block */
    char (*names)[NL_SERIES_NAME_MAX]; /* per block: the name its adds share */
    double whole;     /* the whole model's test loss, at the last measurement */
    double *increase; /* per block: the loss without it minus `whole` */
} nl_blockskip;

/* Finds the blocks; NL_ERR_CONFIG naming train.log.block_skip for a model
 * without a residual add. */
nl_code nl_blockskip_open(nl_blockskip *p, nl_model *m, nl_error *err);
void nl_blockskip_free(nl_blockskip *p);

#endif
