#!/usr/bin/python3
"""PyTorch's autograd on normlab's formula normalizers (model.norm.type expr).

Turns each formula's text into torch code (the same grammar: ^ is **, a
reduction takes its axes as a list, running(...) is the batch's value in
training and the running average in evaluation) and writes what autograd
computes for it into tests/fixtures/formula_goldens.nlfx, which
tests/test_norm_expr.c compares normlab's derived programs against:
    /usr/bin/python3 tests/golden/formula_torch.py          (Debian's python3-torch)
The cases are every built-in's formula, as `normlab list --formulas` prints
them, and the formulas below that no built-in has (the five new normalizers
of configs/expr/ among them). test_norm_expr fails when a registry formula
has no case here, so a changed formula asks for this to run again.

A value is held as (N, G, C/G, P): batch, channel groups, the channels of
a group, positions (an image's pixels, a sequence's tokens). A reduction
over channels reduces the channels of each group (all of them when
model.norm.groups is 1); spatial and tokens reduce the positions.
"""
import os
import struct
import subprocess
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "fixtures", "formula_goldens.nlfx")

# formulas no built-in has: (expr, params, ndim, groups)
EXTRA = [
    # EvoNorm-B0 (Liu et al. 2020), timm's EvoNorm2dB0 form
    ("weight * x / max(sqrt(running(var(x, [batch, spatial])) + eps), v * x + sqrt(var(x, [spatial]) + eps)) + bias",
     "weight = 1 per channel, bias = 0 per channel, v = 1 per channel", 4, 1),
    # EvoNorm-S0: x * sigmoid(v x) / group std
    ("weight * x * sigmoid(v * x) / sqrt(var(x, [channels, spatial]) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel, v = 1 per channel", 4, 2),
    # DyT with erf in place of tanh
    ("weight * erf(alpha * x) + bias", "alpha = 0.5, weight = 1 per channel, bias = 0 per channel", 3, 1),
    # a power (quadratic) mean over the batch with running statistics, its
    # start given (init=0; without it a mean of squares starts at 1)
    ("weight * x / sqrt(running(mean(x^2, [batch, tokens]), init=0) + eps) + bias",
     "weight = 1 per channel, bias = 0 per channel", 3, 1),
    # nGPT-style: each token onto the sphere, a learned per-channel scale
    ("weight * x / sqrt(sum(x^2, [channels]) + eps)", "weight = 8 per channel", 3, 1),
    # layer norm without its mean, a learned temperature
    ("x / (t * sqrt(mean(x^2, [channels]) + eps))", "t = 1", 2, 1),
    # the rest of the vocabulary
    ("abs(x) ^ 1.5 - relu(x - 0.25) * rsqrt(var(x, [batch]) + 1) + log(exp(-x) + 2) + min(x, b) - max(2 * x, -b)",
     "b = 0.1 per channel", 2, 1),
    ("tanh(x) * running(std(x, [batch, spatial])) + sum(x, [channels, spatial]) / 50 - running(rms(x, [batch, spatial]))",
     "", 4, 3),
]

AXES = {"batch": 0, "channels": 2, "spatial": 3, "tokens": 3}
N = 4
MOMENTUM = 0.1
EPS = 1e-5


def shape_of(ndim):
    """the input's (N, C, P) and normlab's own input shape for test_norm_expr"""
    if ndim == 4:
        return 6, 12, (N, 6, 3, 4)  # C, P = H*W
    if ndim == 3:
        return 6, 5, (N, 5, 6, 1)  # D, T; (N, T, D) arrives as (N, T, D, 1)
    return 6, 1, (N, 6, 1, 1)


def run_case(expr, params_text, ndim, groups, seed):
    C, P, _ = shape_of(ndim)
    G = groups
    gen = torch.Generator().manual_seed(seed)
    x_ncp = torch.randn(N, C, P, generator=gen) * 2.0 + 1.5
    dy_ncp = torch.randn(N, C, P, generator=gen)
    x_eval = torch.randn(N, C, P, generator=gen) * 2.0 + 1.5
    params = {}
    for entry in [e.strip() for e in params_text.split(",") if e.strip()]:
        name, rest = [s.strip() for s in entry.split("=")]
        words = rest.split()
        init = float(words[0])
        per_channel = len(words) > 1
        count = C if per_channel else 1
        value = init + 0.25 * torch.sin(torch.arange(1, count + 1, dtype=torch.float32) * (len(params) + 3))
        params[name] = (value, per_channel)

    def as4(t):  # (N, C, P) -> (N, G, C/G, P)
        return t.reshape(t.shape[0], G, C // G, P)

    running_values = []

    def namespace(x, eval_mode, param_tensors):
        calls = [0]

        def reduce(kind):
            def f(u, axes):
                dims = sorted({AXES[a] for a in axes})
                if kind == "sum":
                    return u.sum(dim=dims, keepdim=True)
                if kind == "mean":
                    return u.mean(dim=dims, keepdim=True)
                if kind == "var":
                    return u.var(dim=dims, unbiased=False, keepdim=True)
                if kind == "std":
                    return u.var(dim=dims, unbiased=False, keepdim=True).sqrt()
                if kind == "amax":
                    return torch.amax(u, dim=dims, keepdim=True)
                if kind == "amin":
                    return torch.amin(u, dim=dims, keepdim=True)
                return (u * u).mean(dim=dims, keepdim=True).sqrt()
            return f

        def running(r, init=None):
            k = calls[0]
            calls[0] += 1
            return running_values[k] if eval_mode else r

        ns = {"x": x, "eps": EPS, "batch": "batch", "channels": "channels", "spatial": "spatial",
              "tokens": "tokens", "sqrt": torch.sqrt, "rsqrt": torch.rsqrt, "exp": torch.exp,
              "log": torch.log, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "erf": torch.erf,
              "abs": torch.abs, "relu": torch.relu, "min": lambda a, b: torch.minimum(torch.as_tensor(a), torch.as_tensor(b)),
              "max": lambda a, b: torch.maximum(torch.as_tensor(a), torch.as_tensor(b)),
              "softplus": torch.nn.functional.softplus,
              "clamp": lambda u, lo, hi: torch.clamp(torch.as_tensor(u), lo, hi),
              "detach": lambda u: torch.as_tensor(u).detach(),
              "running": running}
        for kind in ("mean", "var", "std", "rms", "sum", "amax", "amin"):
            ns[kind] = reduce(kind)
        for name, t in param_tensors.items():
            ns[name] = t
        return ns

    text = expr.replace("^", "**")
    x = as4(x_ncp).clone().requires_grad_(True)
    ptensors = {}
    for name, (value, per_channel) in params.items():
        shaped = value.reshape(1, G, C // G, 1) if per_channel else value.reshape(1, 1, 1, 1)
        ptensors[name] = shaped.clone().requires_grad_(True)

    # training: record each running(...)'s batch value, in call order
    recorded = []

    def record_running(r, init=None):
        recorded.append(r.detach())
        return r

    ns = namespace(x, False, ptensors)
    ns["running"] = record_running
    y = eval(text, {"__builtins__": {}}, ns)  # noqa: S307 (our own cases)
    y = y.expand(N, G, C // G, P)
    y.backward(as4(dy_ncp))
    # the running statistics after one update from normlab's start (a mean
    # and a sum at 0, a spread or a mean of squares at 1, or init=), a
    # variance kept unbiased
    updated = []
    for r, (kind, start) in zip(recorded, running_kinds(expr)):
        count = 1
        full = (N, G, C // G, P)
        for d in range(4):
            if r.shape[d] == 1 and full[d] > 1:
                count *= full[d]
        value = r * (count / (count - 1) if kind == "var" and count > 1 else 1.0)
        updated.append((1 - MOMENTUM) * start + MOMENTUM * value)
    running_values.extend(updated)
    with torch.no_grad():
        ns_eval = namespace(as4(x_eval), True, {k: v.detach() for k, v in ptensors.items()})
        y_eval = eval(text, {"__builtins__": {}}, ns_eval).expand(N, G, C // G, P)  # noqa: S307

    def back(t):  # (N, G, C/G, P) -> normlab's memory order
        t = t.reshape(N, C, P)
        if ndim == 3:
            return t.permute(0, 2, 1).contiguous()  # (N, T, D)
        return t.contiguous()

    out = {"x": back(as4(x_ncp)), "dy": back(as4(dy_ncp)), "x_eval": back(as4(x_eval)),
           "y": back(y.detach()), "dx": back(x.grad), "y_eval": back(y_eval)}
    for name, (value, per_channel) in params.items():
        out["param." + name] = value
        out["dparam." + name] = ptensors[name].grad.reshape(-1)
    for k, r in enumerate(updated):
        # the running statistic in normlab's dense (b, c or group, p) order
        out["running%d" % k] = r.reshape(-1)
    return out


def top_level(text, sep):
    """text split at sep outside parentheses and brackets"""
    parts, depth, last = [], 0, 0
    for i, ch in enumerate(text):
        depth += 1 if ch in "([" else -1 if ch in ")]" else 0
        if depth == 0 and text.startswith(sep, i):
            parts.append(text[last:i].strip())
            last = i + len(sep)
    return parts + [text[last:].strip()]


def inside(text, at):
    """the text between the parenthesis at `at` and its match"""
    depth = 0
    for i in range(at, len(text)):
        depth += 1 if text[i] == "(" else -1 if text[i] == ")" else 0
        if depth == 0:
            return text[at + 1:i]
    raise ValueError("unbalanced: " + text)


def running_kinds(expr):
    """each running(...)'s reduction and start, in the order of the text:
    init= where given; else 1 for var, std, rms and for a mean or sum of
    u^2 (an even power), u * u or abs(u); else 0 (core/norm/formula_parse.c,
    nl_formula_running_default)"""
    kinds = []
    at = 0
    while True:
        at = expr.find("running(", at)
        if at < 0:
            return kinds
        args = top_level(inside(expr, at + len("running")), ",")
        kind = args[0].split("(")[0].strip()
        if len(args) > 1:
            start = float(args[1].split("=")[1])
        elif kind in ("var", "std", "rms"):
            start = 1.0
        else:
            u = top_level(inside(args[0], len(kind)), ",")[0]
            power = top_level(u, "^")
            product = top_level(u, "*")
            squared = len(power) == 2 and float(power[1]) > 0 and float(power[1]) % 2 == 0
            square = len(product) == 2 and product[0] == product[1]
            magnitude = u.startswith("abs(") and inside(u, 3) == u[4:-1]
            start = 1.0 if squared or square or magnitude else 0.0
        kinds.append((kind, start))
        at += 1


def write(path, tensors):
    with open(path, "wb") as f:
        f.write(b"NLFX" + struct.pack("<II", 1, len(tensors)))
        for name, data, dtype in tensors:
            b = name.encode()
            f.write(struct.pack("<I", len(b)) + b)
            f.write(struct.pack("<II", dtype, 1) + struct.pack("<I", len(data)))
            f.write(struct.pack("<%d%s" % (len(data), "f" if dtype == 0 else "i"), *data))


def builtin_cases():
    """every registry formula, from `normlab list --formulas` (kind, ndim, expr, params)"""
    binary = os.environ.get("NORMLAB", os.path.join(ROOT, "build", "normlab"))
    lines = subprocess.run([binary, "list", "--formulas"], check=True, capture_output=True,
                           text=True).stdout.splitlines()
    cases = []
    for line in lines:
        kind, ndim, groups, expr, params = line.split("\t")
        cases.append((expr, params, int(ndim), int(groups)))
    return cases


def main():
    torch.set_num_threads(1)
    cases = builtin_cases() + EXTRA
    tensors = []
    for i, (expr, params, ndim, groups) in enumerate(cases):
        out = run_case(expr, params, ndim, groups, 1000 + i)
        text = "%s\t%s\t%d\t%d" % (expr, params, ndim, groups)
        tensors.append(("case%d.text" % i, list(text.encode()), 1))
        for name, t in out.items():
            tensors.append(("case%d.%s" % (i, name), t.reshape(-1).tolist(), 0))
    write(OUT, tensors)
    print("wrote %d cases to %s (torch %s)" % (len(cases), OUT, torch.__version__))


if __name__ == "__main__":
    sys.exit(main())
