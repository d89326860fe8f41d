#!/usr/bin/python3
"""The modules `normlab export torch` wrote against normlab's own numbers
(tests/test_export_torch.c --torch writes DIR/cases.json and DIR/case*.py):
    check.py DIR
For each case and input kind: the module's parameters and buffers start at
normlab's starting values; with normlab's parameters, three training
forwards on normlab's inputs give its output, the backward of its dy gives
its input and parameter gradients, the buffers hold its running statistics,
and eval() gives its evaluation output, each to float tolerance. Then a
fresh module trains: 30 SGD steps of a regression take at least 1 % off
the loss.
Exit 0 when all agree, 1 otherwise, 77 without torch."""
import importlib.util
import inspect
import json
import math
import os
import sys

try:
    import torch
except ImportError:
    print("skipped: this Python has no torch")
    sys.exit(77)

TOL = 1e-5  # the largest difference over the largest magnitude (at least 1)


def load(directory, module, cls):
    spec = importlib.util.spec_from_file_location(module[:-3], os.path.join(directory, module))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return getattr(mod, cls)


def make(klass, case):
    """the module for the case's input: num_channels, num_positions where it takes them"""
    shape = case["shape"]
    ndim = case["ndim"]
    channels = shape[2] if ndim == 3 else shape[1]
    positions = shape[1] if ndim == 3 else shape[2] * shape[3] if ndim == 4 else 1
    kwargs = {}
    if "num_positions" in inspect.signature(klass.__init__).parameters:
        kwargs["num_positions"] = positions
    return klass(channels, **kwargs)


def tensor(values, shape=None):
    t = torch.tensor(values, dtype=torch.float32)
    return t.reshape(shape) if shape is not None else t


def error(got, want):
    got = got.detach().reshape(-1).double()
    want = want.reshape(-1).double()
    if got.shape != want.shape:
        return float("inf")
    scale = max(1.0, want.abs().max().item())
    diff = (got - want).abs()
    if torch.isnan(diff).any():
        return float("inf")
    return diff.max().item() / scale


def check(directory, case, worst):
    klass = load(directory, case["module"], case["class"])
    what = "%s on %d-D input" % (case["name"], case["ndim"])
    failures = []

    def compare(label, got, want):
        e = error(got, want)
        worst[0] = max(worst[0], e)
        worst[1].setdefault(label, 0.0)
        worst[1][label] = max(worst[1][label], e)
        if not e <= TOL:
            failures.append("%s: %s differs from normlab's by %.3g (max |diff| / max(1, max |normlab|))"
                            % (what, label, e))

    m = make(klass, case)
    names = klass.NORMLAB_NAMES
    # the starting values
    for name, values in case["start"].items():
        compare("start of " + name, getattr(m, names[name]), tensor(values))
    for attr, _ in list(m.named_parameters()) + list(m.named_buffers()):
        if attr != "num_batches_tracked" and attr not in names.values():
            failures.append("%s: %s is not among NORMLAB_NAMES" % (what, attr))
    with torch.no_grad():
        for name, values in case["params"].items():
            getattr(m, names[name]).copy_(tensor(values))
    m.train()
    shape = case["shape"]
    for step in case["steps"]:
        x = tensor(step["x"], shape).requires_grad_(True)
        for p in m.parameters():
            p.grad = None
        y = m(x)
    compare("y (training)", y, tensor(case["y"]))
    y.backward(tensor(case["dy"], shape))
    compare("dx", x.grad, tensor(case["dx"]))
    for name, values in case["dparams"].items():
        compare("d" + name, getattr(m, names[name]).grad, tensor(values))
    for name, values in case["running"].items():
        compare(name, getattr(m, names[name]), tensor(values))
    m.eval()
    with torch.no_grad():
        y_eval = m(tensor(case["x_eval"], shape))
    compare("y (eval)", y_eval, tensor(case["y_eval"]))

    # it trains: SGD on a regression of a fixed batch
    torch.manual_seed(0)
    m = make(klass, case)
    params = list(m.parameters())
    if params:
        x = tensor(case["steps"][0]["x"], shape)
        target = torch.randn(shape)
        opt = torch.optim.SGD(params, lr=0.01)
        m.train()
        losses = []
        for _ in range(30):
            opt.zero_grad()
            loss = ((m(x) - target) ** 2).mean()
            loss.backward()
            opt.step()
            losses.append(loss.item())
        if not (all(math.isfinite(v) for v in losses) and losses[-1] < 0.99 * losses[0]):
            failures.append("%s: 30 SGD steps took the loss from %.5g to %.5g" % (what, losses[0], losses[-1]))
        else:
            print("%s: trains, loss %.4f -> %.4f in 30 SGD steps" % (what, losses[0], losses[-1]))
    return failures


def main():
    directory = sys.argv[1]
    with open(os.path.join(directory, "cases.json")) as f:
        cases = json.load(f)
    print("torch %s" % torch.__version__)
    failures = []
    worst = [0.0, {}]
    for case in cases:
        before = worst[0]
        worst[0] = 0.0
        failures += check(directory, case, worst)
        print("%s on %d-D input: largest normalized difference %.3g" % (case["name"], case["ndim"], worst[0]))
        worst[0] = max(before, worst[0])
    for label, e in sorted(worst[1].items()):
        print("  %-22s %.3g" % (label, e))
    print("%d cases, largest normalized difference %.3g (bound %g)" % (len(cases), worst[0], TOL))
    for line in failures:
        print("FAIL " + line)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
