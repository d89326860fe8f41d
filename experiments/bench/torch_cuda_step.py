#!/usr/bin/python3
"""PyTorch's training step on a GPU, the peer for `normlab run --device cuda`:
the model a resolved normlab config describes (torch_run.build_model, the
same builders and fused optimizer the CPU peer uses), trained on batches
already on the GPU, timed two ways:

- eager: forward, loss, backward and optimizer step as a user writes them;
- graph: the whole step (zero_grad, forward, backward, opt.step) recorded
  once as a CUDA graph after three warm-up steps on a side stream and
  replayed, the strongest PyTorch for small models (what PyTorch's own
  "CUDA Graphs" recipe shows).

  python3 experiments/bench/torch_cuda_step.py RESOLVED.json|yaml [...] \
      --batch 128 [--batch 2 ...] [--steps 300] [--modes eager,graph] [--device cuda]

RESOLVED is a config with every key filled in (`normlab validate --print`;
JSON needs no PyYAML on the GPU machine). One JSON line per (config, batch,
mode) on standard output: samples_per_s, ms_per_step, the torch and GPU
names. TF32 is off (normlab's cuBLAS products run fp32) and cuDNN picks
its fastest kernels (benchmark on). The batches are random tensors of the
config's shapes: the rate does not depend on the pixel values, and data
already on the device is PyTorch's best case.
"""
import argparse
import json
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)


def load(path):
    with open(path) as f:
        if path.endswith(".json"):
            return json.load(f)
        import yaml
        return yaml.safe_load(f)


def shapes(cfg, get):
    """(input shape without the batch, classes, token model?)"""
    arch = get(cfg, "model.arch")
    if arch in ("lm", "rnn_lm"):
        kind = get(cfg, "data.dataset")
        if kind == "synthetic_text":
            vocab = get(cfg, "data.markov.vocab", 16)
        elif kind == "text" and get(cfg, "data.vocabulary", "bytes") == "bytes":
            vocab = 256
        else:
            sys.exit("torch_cuda_step: token data %s with vocabulary %s is not mirrored"
                     % (kind, get(cfg, "data.vocabulary")))
        return (get(cfg, "model.context"),), vocab, True
    if get(cfg, "data.dataset") == "synthetic":
        return tuple(get(cfg, "data.shape")), get(cfg, "data.classes", 10), False
    return (1, 28, 28), 10, False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("configs", nargs="+")
    ap.add_argument("--batch", type=int, action="append", required=True)
    ap.add_argument("--steps", type=int, default=300, help="timed steps per point")
    ap.add_argument("--modes", default="eager,graph")
    ap.add_argument("--device", default="cuda")
    args = ap.parse_args()

    import torch
    import torch.nn.functional as F
    import torch_run
    get = torch_run.get
    dev = torch.device(args.device)
    on_gpu = dev.type == "cuda"
    if on_gpu:
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
    gpu = torch.cuda.get_device_name(0) if on_gpu else "cpu"

    def sync():
        if on_gpu:
            torch.cuda.synchronize()

    for path in args.configs:
        cfg = load(path)
        in_shape, classes, tokens = shapes(cfg, get)
        for batch in args.batch:
            for mode in args.modes.split(","):
                torch.manual_seed(1)
                model = torch_run.build_model(cfg, None if tokens else in_shape, classes).to(dev)
                image = get(cfg, "model.arch") in ("cnn", "resnet")
                if image:
                    model = model.to(memory_format=torch.channels_last)
                model.train()
                opt = torch_run.make_optimizer(cfg, torch, model)
                if mode == "graph" and isinstance(opt, torch.optim.AdamW):
                    # a recorded AdamW keeps its step count on the device
                    # (set before the first step creates the state)
                    for group in opt.param_groups:
                        group["capturable"] = True
                if tokens:
                    x = torch.randint(0, classes, (batch,) + in_shape, device=dev)
                    y = torch.randint(0, classes, (batch,) + in_shape, device=dev)
                else:
                    x = torch.randn((batch,) + in_shape, device=dev)
                    if image:
                        x = x.contiguous(memory_format=torch.channels_last)
                    y = torch.randint(0, classes, (batch,), device=dev)

                def step():
                    opt.zero_grad(set_to_none=False)
                    out = model(x)
                    loss = F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))
                    loss.backward()
                    opt.step()
                    return loss

                row = {"config": os.path.basename(path), "arch": get(cfg, "model.arch"),
                       "norm": get(cfg, "model.norm.type"), "batch": batch, "mode": mode,
                       "torch": torch.__version__, "device": gpu}
                try:
                    if mode == "graph":
                        side = torch.cuda.Stream()
                        side.wait_stream(torch.cuda.current_stream())
                        with torch.cuda.stream(side):
                            for _ in range(3):
                                step()
                        torch.cuda.current_stream().wait_stream(side)
                        graph = torch.cuda.CUDAGraph()
                        with torch.cuda.graph(graph):
                            step()
                        run = graph.replay
                    else:
                        run = step
                    for _ in range(10):
                        run()
                    sync()
                    t0 = time.perf_counter()
                    for _ in range(args.steps):
                        run()
                    sync()
                    dt = time.perf_counter() - t0
                    row.update(steps=args.steps, ms_per_step=1e3 * dt / args.steps,
                               samples_per_s=batch * args.steps / dt)
                except Exception as e:  # a mode this torch cannot record: say so, go on
                    row.update(error="%s: %s" % (type(e).__name__, str(e).splitlines()[0][:200]))
                print(json.dumps(row), flush=True)


if __name__ == "__main__":
    main()
