/* The model's plan: what a run builds, decided once from the config and the
 * device's declared capabilities (device/device.h: nl_device_caps), by
 * passes over the model spec, each in a file of its own:
 *
 *   fuse.c    which ReLUs and residual adds fold into the layer before them
 *             (and a stage's ReLU into its max pooling)
 *   layout.c  the activations' layout: a channel block wherever the device's
 *             convolutions take one and it saves more reorders than it adds;
 *             the builder inserts a reorder layer before any layer that
 *             cannot read the block (layers/reorder.c)
 *
 * `validate`, the sweep's pre-check, the run's checks, the build, `show`
 * and every surface that rebuilds a run's model (eval, init.from, the final
 * model) read the spec nl_plan_model returns; layers and kernels receive
 * what it decided (nl_model_spec.channel_block, .fuse_*) and never decide
 * it. A plan the capabilities cannot run is refused here, by its key, and
 * nowhere else. The next whole-model property (precision) is a pass here. */
#ifndef NL_PLAN_H
#define NL_PLAN_H

#include <stdbool.h>

#include "base/status.h"
#include "device/device.h"
#include "model/spec.h"

/* What of the run the passes read besides the model (the config's train
 * section, as config/resolve.c's nl_config_plan_run gives it): the plan
 * sits below the config and reads none of it itself. */
typedef struct {
    nl_precision precision; /* train.precision: the products' */
    int train_batch;        /* train.batch_size */
    /* train.trace.activation names one: every activation stays a tensor */
    bool traces_activation;
    /* a probe reads each residual add's output or drops its branch
     * (signal propagation, block removal) */
    bool observes_adds;
    bool fuse_off; /* NORMLAB_FUSE=0: the unfused model */
} nl_plan_run;

/* The fusion pass: the spec's fusions, off where a probe of the run
 * observes what they fold away or NORMLAB_FUSE=0 asks for the unfused model
 * (the same numbers either way). */
void nl_plan_fuse(nl_model_spec *spec, const nl_plan_run *run);

/* The layout pass: spec->layout (auto, nchw or blocked, as the config asks)
 * decided into spec->channel_block for a device with `caps`. nchw, and auto
 * where the block does not pay or cannot run, decide 0; blocked where the
 * device gives no block at the spec's precision, or a width is not a
 * multiple of it, is refused with the key that decides it (model.layout,
 * model.widths, model.stem_width). auto decides on a plan-only build of the
 * blocked model at `train_batch`; *built (NULL: not asked) says that build
 * ran and gave the spec decided, so that a check of it at that batch need
 * not build it again. */
nl_code nl_plan_layout(nl_model_spec *spec, const nl_device_caps *caps, int train_batch,
                       bool *built, nl_error *err);

/* Every pass in order: the config's model planned for `device`. A model
 * planned before for the same run and device (its layout_key) keeps its
 * layout without another trial build: the config's check plans it, and
 * the run's check and build reuse the decision. *built as for
 * nl_plan_layout. */
nl_code nl_plan_model(const nl_model_spec *model, const nl_plan_run *run, nl_device device,
                      nl_model_spec *out, bool *built, nl_error *err);

#endif
