/* The activation trace (train.trace; Ioffe & Szegedy 2015, Fig. 1): the
 * percentiles of one unit of one activation, every train.trace.every
 * steps, as trace.csv's rows. In eval mode over the first
 * train.trace.samples test images, a pass of its own between steps; in
 * train mode on the traced step's own training batch, as its forward left
 * the activation. Image (and feature-vector) models only. Buffers are
 * planned at open. Its row in the probe table: nl_probe_trace
 * (train/probe.h). */
#ifndef NL_PROBE_TRACE_H
#define NL_PROBE_TRACE_H

#include <stddef.h>

#include "model/model.h"
#include "config/train_spec.h"

typedef struct {
    const nl_trace_spec *spec; /* NULL: off */
    nl_act *act;
    int samples;   /* eval mode: the test samples measured */
    float *values; /* one value per sample (and position) */
    size_t count;  /* values collected in the last measurement */
    float *host;   /* the activation of one batch, downloaded */
    double percentiles[NL_MAX_PERCENTILES]; /* after the last measurement */
} nl_trace;

#endif
