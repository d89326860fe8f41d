#!/usr/bin/python3
"""PyTorch eager's side of a normlab sweep: the same runs, one at a time.

Issue 27 asks that a sweep of the quickstart grid on one GPU finish at least
8x faster than the same runs made one after another with PyTorch eager. This
script is that peer. It reads the experiment file normlab sweeps (base, set,
grid, derived, exclude), so the runs cannot drift from the experiment, and
runs each one as its own Python process (what a person running
`python train.py --norm ...` in a loop does: import, CUDA context, data load
and training, every time), or all in this process with --in-process (PyTorch's
best case: one import, one context). It prints one CSV row per run and the
total wall time:

  /usr/bin/python3 experiments/bench/sweep_torch.py experiments/quickstart.yaml --device cuda
  /usr/bin/python3 experiments/bench/sweep_torch.py experiments/quickstart.yaml --device cpu \\
      --set train.epochs=1 --set data.train_size=1000 --in-process

to be compared with `normlab sweep experiments/quickstart.yaml --set device=...`
timed over the whole command (a whole-process timer, or `time`).

What a run does, as normlab does it (configs/README.md): MLP only
(model.arch mlp, model.widths); the normalizer between each hidden linear
layer and its ReLU, built as torch_bench.py builds it (normlab's "layer" on
features is LayerNorm, "group" GroupNorm(model.norm.groups)), a layer feeding
an affine normalizer without bias; the first data.train_size training images
and data.test_size test images of Fashion-MNIST, standardized by the training
split's mean and std; floor(train_size / batch) steps an epoch, reshuffled
every epoch; SGD with train.optimizer.lr, momentum and weight_decay;
cross-entropy; the training loss read back every train.log_every steps, the
test split evaluated (eval mode, no autograd) every train.eval_every steps
and at the end. Keys this script does not model are an error, not ignored.
"""
import argparse
import copy
import itertools
import os
import subprocess
import sys
import time

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from normlab_py.normlab_files import read_idx  # noqa: E402

FASHION_MNIST = "/usr/share/datasets/fashion-mnist"
# the config keys a run's behaviour here depends on; anything else in a
# resolved config is refused rather than silently left out
MODELLED = {"data.dataset", "data.train_size", "data.test_size", "data.standardize", "data.path",
            "model.arch", "model.widths", "model.norm.type", "model.norm.groups", "device",
            "train.batch_size", "train.epochs", "train.steps", "train.optimizer.lr",
            "train.optimizer.momentum", "train.optimizer.weight_decay", "train.optimizer.type",
            "train.eval_every", "train.log_every", "seed", "threads", "name"}


def flatten(d, prefix=""):
    for k, v in d.items():
        key = prefix + k
        if isinstance(v, dict):
            yield from flatten(v, key + ".")
        else:
            yield key, v


def set_key(d, dotted, value):
    *path, last = dotted.split(".")
    for p in path:
        d = d.setdefault(p, {})
    d[last] = value


def get_key(d, dotted, default=None):
    for p in dotted.split("."):
        if not isinstance(d, dict) or p not in d:
            return default
        d = d[p]
    return d


def parse_value(text):
    return yaml.safe_load(text) if text != "" else None


def plan(exp_path, sets):
    """the runs of the experiment: (name, config dict), in normlab's order"""
    with open(exp_path) as f:
        exp = yaml.safe_load(f)
    base = exp["base"]
    if isinstance(base, str):
        with open(os.path.join(os.path.dirname(exp_path), base)) as f:
            base = yaml.safe_load(f)
    fixed = dict(exp.get("set") or {})
    fixed.update(sets)
    grid = exp.get("grid") or {}
    keys = list(grid)
    runs = []
    for values in itertools.product(*(grid[k] for k in keys)):
        cfg = copy.deepcopy(base)
        for k, v in fixed.items():
            set_key(cfg, k, v)
        for k, v in zip(keys, values):
            set_key(cfg, k, v)
        for key, rule in (exp.get("derived") or {}).items():
            x = get_key(cfg, rule["scale_with"])
            value = rule["base_value"] * (x / rule["base_at"]) ** rule.get("power", 1)
            set_key(cfg, key, round(value) if rule.get("round", False) else value)
        if any(all(get_key(cfg, k) == v for k, v in ex.items()) for ex in exp.get("exclude") or []):
            continue
        name = "_".join(f"{k.split('.')[-1]}-{v}" for k, v in zip(keys, values))
        runs.append((name, cfg))
    return runs


def idx_file(directory, stem):
    for name in (stem + "-ubyte.gz", stem + "-ubyte", stem + ".idx-ubyte.gz"):
        path = os.path.join(directory, name)
        if os.path.exists(path):
            return path
    sys.exit(f"sweep_torch.py: no {stem}-ubyte[.gz] in {directory}")


def load_data(cfg, torch, device):
    directory = get_key(cfg, "data.path") or FASHION_MNIST
    n_train = get_key(cfg, "data.train_size", 0) or None
    n_test = get_key(cfg, "data.test_size", 0) or None
    x = torch.tensor(read_idx(idx_file(directory, "train-images-idx3"))[:n_train], dtype=torch.float32)
    y = torch.tensor(read_idx(idx_file(directory, "train-labels-idx1"))[:n_train], dtype=torch.long)
    tx = torch.tensor(read_idx(idx_file(directory, "t10k-images-idx3"))[:n_test], dtype=torch.float32)
    ty = torch.tensor(read_idx(idx_file(directory, "t10k-labels-idx1"))[:n_test], dtype=torch.long)
    x, tx = x.reshape(len(x), -1) / 255.0, tx.reshape(len(tx), -1) / 255.0
    if get_key(cfg, "data.standardize", True):
        mean, std = x.mean(), x.std()
        x, tx = (x - mean) / std, (tx - mean) / std
    return x.to(device), y.to(device), tx.to(device), ty.to(device)


def check_modelled(cfg):
    if get_key(cfg, "data.dataset") != "fashion-mnist":
        sys.exit("sweep_torch.py: data.dataset must be fashion-mnist")
    if get_key(cfg, "model.arch", "mlp") != "mlp":
        sys.exit("sweep_torch.py: model.arch must be mlp")
    if get_key(cfg, "train.optimizer.type", "sgd") != "sgd":
        sys.exit("sweep_torch.py: train.optimizer.type must be sgd")
    extra = sorted(k for k, _ in flatten(cfg) if k not in MODELLED)
    if extra:
        sys.exit("sweep_torch.py: keys this script does not model: " + ", ".join(extra))


def train_one(cfg, device):
    """one run; returns (steps, final test accuracy)"""
    import torch
    from torch import nn
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    import torch_bench

    check_modelled(cfg)
    torch.manual_seed(get_key(cfg, "seed", 0))
    x, y, tx, ty = load_data(cfg, torch, device)
    norm = get_key(cfg, "model.norm.type", "none")
    groups = get_key(cfg, "model.norm.groups", 8)
    bias = norm == "none" or not torch_bench.NORM_MODULES[norm][2]
    layers, d = [], x.shape[1]
    for width in get_key(cfg, "model.widths", [256, 256]):
        layers += [nn.Linear(d, width, bias=bias), torch_bench.norm_module(norm, width, groups, False), nn.ReLU()]
        d = width
    model = nn.Sequential(*layers, nn.Linear(d, 10)).to(device)
    opt = torch.optim.SGD(model.parameters(), lr=get_key(cfg, "train.optimizer.lr", 0.01),
                          momentum=get_key(cfg, "train.optimizer.momentum", 0.0),
                          weight_decay=get_key(cfg, "train.optimizer.weight_decay", 0.0))
    batch = get_key(cfg, "train.batch_size", 32)
    per_epoch = len(x) // batch
    steps = get_key(cfg, "train.steps") or get_key(cfg, "train.epochs", 1) * per_epoch
    log_every, eval_every = get_key(cfg, "train.log_every", 10), get_key(cfg, "train.eval_every", 100)
    loss_fn = nn.CrossEntropyLoss()

    def evaluate():
        model.eval()
        with torch.no_grad():
            correct = sum((model(tx[i:i + 1000]).argmax(1) == ty[i:i + 1000]).sum().item()
                          for i in range(0, len(tx), 1000))
        model.train()
        return correct / len(tx)

    accuracy = None
    for step in range(steps):
        if step % per_epoch == 0:
            order = torch.randperm(len(x), device=device)
        idx = order[(step % per_epoch) * batch:(step % per_epoch + 1) * batch]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[idx]), y[idx])
        loss.backward()
        opt.step()
        if (step + 1) % log_every == 0:
            loss.item()
        if (step + 1) % eval_every == 0 or step + 1 == steps:
            accuracy = evaluate()
    return steps, accuracy


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("experiment")
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="a fixed setting for every run, as normlab sweep --set")
    ap.add_argument("--in-process", action="store_true", help="every run in this process")
    ap.add_argument("--threads", type=int, help="torch.set_num_threads (cpu)")
    ap.add_argument("--run", type=int, help=argparse.SUPPRESS)  # one run, in a child process
    a = ap.parse_args()
    sets = {}
    for s in a.set:
        key, _, value = s.partition("=")
        sets[key] = parse_value(value)
    runs = plan(a.experiment, sets)
    if a.run is not None:
        import torch
        if a.threads:
            torch.set_num_threads(a.threads)
        steps, acc = train_one(runs[a.run][1], a.device)
        print(f"{steps},{acc:.4f}")
        return
    if a.in_process:
        import torch
        if a.threads:
            torch.set_num_threads(a.threads)
    print("run,steps,test_accuracy,wall_s")
    t0 = time.perf_counter()
    for i, (name, cfg) in enumerate(runs):
        t = time.perf_counter()
        if a.in_process:
            steps, acc = train_one(cfg, a.device)
            result = f"{steps},{acc:.4f}"
        else:
            child = [sys.executable, os.path.abspath(__file__), a.experiment, "--device", a.device, "--run", str(i)]
            child += [f"--set={s}" for s in a.set] + ([f"--threads={a.threads}"] if a.threads else [])
            done = subprocess.run(child, stdout=subprocess.PIPE, text=True)
            if done.returncode:
                sys.exit(f"sweep_torch.py: run {name} failed (exit status {done.returncode})")
            result = done.stdout.strip()
        print(f"{name},{result},{time.perf_counter() - t:.3f}", flush=True)
    mode = "one process" if a.in_process else "a process per run"
    print(f"# {len(runs)} runs, {mode}, device {a.device}: {time.perf_counter() - t0:.2f} s in all", flush=True)


if __name__ == "__main__":
    main()
