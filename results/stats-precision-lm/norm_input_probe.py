#!/usr/bin/python3
"""What the low-precision statistics of §36 are fed: trains a run's config
in PyTorch (experiments/bench/torch_run.py's loop, fp32; its own random
draws, so the magnitudes of normlab's run, not its exact values) and prints,
every PROBE_EVERY training steps up to PROBE_STEPS, for each normalizer's
input in training mode: the largest sum of squares about the mean that
core/cpu/norm_lowp.c forms (per token over d_model for layer and RMS norm,
per token and group for group norm, per feature over the batch's N*T tokens
for batch norm; fp16's largest finite value is 65504), the largest and the
median RMS of those groups, and the largest |x - mean|.

  cd results/stats-precision-lm && PROBE_STEPS=130 PROBE_EVERY=10 \\
    /usr/bin/python3 norm_input_probe.py runs/RUN/config.yaml --out /tmp/probe \\
    --threads 1 --data-path ../../build/data/kjv.txt

PROBE_SET="model.d_model=64,model.layers=3" changes keys of the config
first (a variant no run of the sweep has). Needs torch (/usr/bin/python3
here) and stops training after PROBE_STEPS.
"""
import os
import sys
import tempfile

import yaml

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
sys.path.insert(0, os.path.join(ROOT, "experiments", "bench"))
sys.path.insert(0, os.path.join(ROOT, "tests", "golden"))
import torch_run  # noqa: E402

STOP_AFTER = int(os.environ.get("PROBE_STEPS", "150"))
EVERY = int(os.environ.get("PROBE_EVERY", "10"))


class Stop(Exception):
    pass


def groups_of(kind, groups, x):
    """x (N, T, C) as the groups norm_lowp.c sums over, one per row, and
    the same rows centred as the kind centres them"""
    if kind == "batch":
        v = x.reshape(-1, x.shape[-1]).t()
    elif kind == "group":
        v = x.reshape(-1, x.shape[-1] // groups)
    else:
        v = x.reshape(-1, x.shape[-1])
    centred = v if kind == "rms" else v - v.mean(-1, keepdim=True)
    return v, centred


def build(cfg, torch, nn, F, in_shape, classes, _build=torch_run.build_model):
    model = _build(cfg, torch, nn, F, in_shape, classes)
    kind = cfg["model"]["norm"]["type"]
    groups = cfg["model"]["norm"].get("groups", 8)
    norms = [(n, m) for n, m in model.named_modules()
             if n.split(".")[-1].endswith("norm") or n.split(".")[-1].startswith("norm")]
    steps = [0]

    def hook(name, last):
        def record(module, inputs):
            if not module.training:
                return
            if steps[0] % EVERY == 0 or steps[0] == STOP_AFTER - 1:
                v, centred = groups_of(kind, groups, inputs[0].detach().float())
                sq = (centred * centred).sum(-1)
                rms = v.pow(2).mean(-1).sqrt()
                print("step %d %s: max sum of squares %.4g, max rms %.3g, median rms %.3g, "
                      "max |x - mean| %.3g" % (steps[0], name, sq.max(), rms.max(),
                                               rms.median(), centred.abs().max()), flush=True)
            if last:
                steps[0] += 1
                if steps[0] >= STOP_AFTER:
                    raise Stop()
        return record

    for i, (name, m) in enumerate(norms):
        m.register_forward_pre_hook(hook(name, i == len(norms) - 1))
    return model


def with_overrides(path, overrides):
    """path, or a temporary copy of its config with KEY=VALUE,... applied"""
    if not overrides:
        return path
    with open(path) as f:
        cfg = yaml.safe_load(f)
    for item in overrides.split(","):
        key, value = item.split("=", 1)
        *parents, last = key.split(".")
        node = cfg
        for part in parents:
            node = node[part]
        node[last] = yaml.safe_load(value)
    out = tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False)
    yaml.safe_dump(cfg, out)
    out.close()
    return out.name


if __name__ == "__main__":
    torch_run.build_model = build
    args = sys.argv[1:]
    args[0] = with_overrides(args[0], os.environ.get("PROBE_SET", ""))
    sys.argv = ["torch_run.py"] + args
    try:
        sys.exit(torch_run.main())
    except Stop:
        print("stopped after %d training steps" % STOP_AFTER)
