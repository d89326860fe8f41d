#!/usr/bin/python3
"""Whether normlab's EvoNorm formulas (configs/expr/evonorm-b0.yaml,
evonorm-s0.yaml) and timm's EvoNorm2dB0 / EvoNorm2dS0 compute the same
function, before the two are timed against each other
(experiments/bench/evonorm_vs_timm.sh).

normlab's side is `normlab export torch CONFIG`: the formula as a PyTorch
module, which tests/test_export_torch_pytorch holds to normlab's own forward,
gradients and running statistics. timm's side is its module built as the
PyTorch peer builds it (torch_models.py: the config's eps, momentum and
groups). On random images, in training mode: the output, the gradients of
the input and of every parameter, the running variance after the step; then
in evaluation mode the output again. Prints each difference (the largest
absolute difference over the largest magnitude) and exits 1 when one is past
1e-5, 0 when all agree.

  PYTHON experiments/bench/evonorm_same_function.py [--normlab build/normlab] [--eps E]

PYTHON: a Python with torch and timm (never a dependency of normlab).
"""
import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

import torch
import timm.layers

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
TOLERANCE = 1e-5


def exported(normlab, config, scratch):
    """the module class `normlab export torch` writes for config's formula"""
    path = os.path.join(scratch, os.path.basename(config).replace("-", "_").replace(".yaml", ".py"))
    subprocess.run([normlab, "export", "torch", config, "--out", path, "--force"], check=True)
    spec = importlib.util.spec_from_file_location(os.path.basename(path)[:-3], path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    classes = [v for v in vars(module).values()
               if isinstance(v, type) and issubclass(v, torch.nn.Module) and v.__module__ == module.__name__]
    return classes[0]


def difference(a, b):
    scale = max(a.abs().max().item(), b.abs().max().item(), 1e-30)
    return (a - b).abs().max().item() / scale


def compare(name, ours, theirs, x, grad_out):
    rows = []
    for step in range(2):  # the second step reads the running variance the first wrote
        xa = x[step].clone().requires_grad_(True)
        xb = x[step].clone().requires_grad_(True)
        ya, yb = ours(xa), theirs(xb)
        ya.backward(grad_out[step])
        yb.backward(grad_out[step])
        rows.append(("train step %d output" % (step + 1), difference(ya, yb)))
        rows.append(("train step %d d input" % (step + 1), difference(xa.grad, xb.grad)))
        for p in ("weight", "bias", "v"):
            ga, gb = getattr(ours, p).grad, getattr(theirs, p).grad
            rows.append(("train step %d d %s" % (step + 1, p), difference(ga, gb)))
            getattr(ours, p).grad = None
            getattr(theirs, p).grad = None
    if hasattr(theirs, "running_var"):
        rows.append(("running_var", difference(ours.running_var, theirs.running_var)))
    ours.eval()
    theirs.eval()
    with torch.no_grad():
        rows.append(("eval output", difference(ours(x[0]), theirs(x[0]))))
    worst = 0.0
    for what, d in rows:
        print("%s: %-24s %.3g" % (name, what, d))
        worst = max(worst, d)
    return worst


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--normlab", default=os.path.join(ROOT, "build", "normlab"))
    ap.add_argument("--eps", type=float, default=1e-3,
                    help="eps on both sides (default 1e-3, timm's B0 default; normlab's is 1e-5)")
    ap.add_argument("--groups", type=int, default=8, help="S0's channel groups (the config's)")
    a = ap.parse_args()
    torch.manual_seed(0)
    n, c, h, w = 16, 32, 8, 8
    x = torch.randn(2, n, c, h, w) * 1.5 + 0.3
    grad_out = torch.randn(2, n, c, h, w)
    worst = 0.0
    with tempfile.TemporaryDirectory() as scratch:
        for config, timm_name in (("evonorm-b0.yaml", "EvoNorm2dB0"), ("evonorm-s0.yaml", "EvoNorm2dS0")):
            cls = exported(a.normlab, os.path.join(ROOT, "configs", "expr", config), scratch)
            if timm_name == "EvoNorm2dB0":
                ours = cls(c)
                theirs = timm.layers.EvoNorm2dB0(c, apply_act=True, momentum=0.1, eps=a.eps)
            else:
                ours = cls(c, groups=a.groups)
                theirs = timm.layers.EvoNorm2dS0(c, groups=a.groups, apply_act=True, eps=a.eps)
            ours.eps = a.eps
            with torch.no_grad():  # parameters off their start, the same on both sides
                for p in ("weight", "bias", "v"):
                    value = torch.rand(c) + 0.5
                    getattr(ours, p).copy_(value)
                    getattr(theirs, p).copy_(value)
            worst = max(worst, compare(config, ours, theirs, x, grad_out))
    verdict = "the same function" if worst <= TOLERANCE else "DIFFERENT"
    print("worst %.3g (bound %g): %s (torch %s, timm %s)" % (worst, TOLERANCE, verdict,
                                                         torch.__version__, timm.__version__))
    return 0 if worst <= TOLERANCE else 1


if __name__ == "__main__":
    sys.exit(main())
