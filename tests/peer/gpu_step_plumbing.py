"""The GPU checklist's PyTorch side (experiments/bench/torch_cuda_step.py),
run here on the CPU so that a lent GPU's few minutes are not spent finding
that it no longer builds a model: every config the checklist times
(gpu_checklist.sh's TIMED_CONFIGS), resolved by this normlab and handed
over as JSON as gpu_pack.sh does, two eager steps each. Each must give one
row with a positive rate; the graph mode needs a GPU and is not run.

  tests/peer/run.sh gpu_step_plumbing.py SOURCE_DIR NORMLAB
"""
import json
import os
import re
import subprocess
import sys
import tempfile

import yaml

src, normlab = sys.argv[1], sys.argv[2]
bench = os.path.join(src, "experiments", "bench")
with open(os.path.join(bench, "gpu_checklist.sh")) as f:
    configs = re.search(r'^TIMED_CONFIGS="(.*)"$', f.read(), re.M).group(1).split()
assert configs, "gpu_checklist.sh names no TIMED_CONFIGS"
failures = []
with tempfile.TemporaryDirectory() as tmp:
    paths = []
    for name in configs:
        text = subprocess.run([normlab, "validate", "--print",
                               os.path.join(src, "configs", name + ".yaml")],
                              check=True, capture_output=True, text=True).stdout
        path = os.path.join(tmp, name + ".json")
        with open(path, "w") as f:
            json.dump(yaml.safe_load(text), f)
        paths.append(path)
    out = subprocess.run([sys.executable, os.path.join(bench, "torch_cuda_step.py"), *paths,
                          "--batch", "4", "--steps", "2", "--modes", "eager", "--device", "cpu"],
                         capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit("torch_cuda_step.py exited %d:\n%s" % (out.returncode, out.stderr))
    rows = [json.loads(line) for line in out.stdout.splitlines() if line.startswith("{")]
    seen = {r["config"] for r in rows}
    for name in configs:
        if name + ".json" not in seen:
            failures.append("%s: no row" % name)
    for r in rows:
        if "error" in r or not r.get("samples_per_s", 0) > 0:
            failures.append("%s batch %s: %s" % (r["config"], r["batch"], r.get("error", r)))
if failures:
    sys.exit("torch_cuda_step.py on the CPU:\n  " + "\n  ".join(failures))
print("torch_cuda_step.py: %d configs, one eager row each on the CPU" % len(configs))
