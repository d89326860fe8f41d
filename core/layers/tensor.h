/* Activations: a shape (backend/shape.h, where the layouts are
 * described) with its data and gradient, planned when the model is built.
 * Pointers are device pointers of the model's backend. */
#ifndef NL_TENSOR_H
#define NL_TENSOR_H

#include "backend/shape.h"

/* an activation and its gradient, planned when the model is built */
typedef struct nl_act {
    char name[64];
    nl_shape shape;
    float *data;
    float *grad;      /* NULL where no gradient flows (the input batch) */
    int needs_grad;   /* planner: allocate grad */
    struct nl_act *alias_of; /* flatten: same storage as another activation */
    int consumers;    /* planner: how many layers read it */
} nl_act;

#endif
