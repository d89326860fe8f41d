#!/usr/bin/env python3
"""How much of a `normlab run` step its matrix products take, and what that
bounds: the ceiling of issue 56's stop rule for a config family.

Runs the command under `perf record` (self time, no call graphs), sorts the
samples by symbol and sums them by the kinds in KINDS, first match wins:

  products   the multiplies themselves: OpenBLAS's sgemm kernels and their
             packing (a BLAS call packs its operands every call), normlab's
             register-tiled products, Winograd's 16 small GEMMs with its
             output transform (one function), its weight gradient; and
             everything in oneDNN (libdnnl and the code it generates at run
             time, perf's [JIT] samples): its sgemm and its convolution
             primitives, whose data layout work (reorders) is counted with
             them
  conv_prep  what a convolution does to feed its products: im2col / col2im
             and Winograd's input transform, and conv2d.c's chunks around
             their sgemm calls (bias, col2im inlined)
  rest       everything else: normalizers, activations, attention, the
             cells' gates, the optimizer, copies, the loader, the kernel

archs_table.py divides a config's measured normlab / PyTorch ratio by these
shares: the ratio normlab would reach if every part but the products (and,
second, but products and conv_prep) cost nothing at all. Where that is
below a target, no work outside the products reaches it; the products at
OpenBLAS's (or normlab's own) rate stop it, and only faster products pass.

usage: product_share.py OUT.txt -- COMMAND...
The report goes to OUT.txt (and stdout); perf's data to a temporary file.
"""
import os
import re
import subprocess
import sys
import tempfile
import time

# (kind, pattern on the symbol): the first match names a symbol's kind
KINDS = [
    ("products", r"^sgemm_|^dgemm_|^sgemv_|^tiled_product|^tile_\d|^nl_cpu_gemm|^packed_panel_rows"
                 r"|^panel_rows|^skinny_|^narrow_|^sgemm_forward_share|^sgemm_input_grad_share"
                 r"|^winograd\b|^winograd\.|^multiply|^nl_cpu_winograd_weight_grad|^lowp_share"),
    ("conv_prep", r"^im2col|^col2im|^transform_inputs|^transform_|^forward_chunk|^backward_chunk"),
]


def classify(symbol, dso=""):
    if dso.startswith("[JIT]") or dso.startswith("libdnnl"):
        return "products"
    for kind, pattern in KINDS:
        if re.search(pattern, symbol):
            return kind
    return "rest"


def main(argv):
    if "--" not in argv or len(argv) < 3:
        sys.exit(__doc__)
    split = argv.index("--")
    opts, command = argv[1:split], argv[split + 1:]
    out_path = opts[0]
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "perf.data")
        started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        load = open("/proc/loadavg").read().split()[:3]
        subprocess.run(["perf", "record", "-q", "-F", "499", "-o", data, "--"] + command,
                       check=True, stdout=subprocess.DEVNULL)
        report = subprocess.run(["perf", "report", "-i", data, "--no-children", "--sort",
                                 "dso,symbol", "--stdio"], check=True, capture_output=True,
                                text=True).stdout
    rows = []
    for line in report.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(.+?)\s+\[([.k])\]\s+(\S+)", line)
        if m:
            rows.append((float(m.group(1)), m.group(3), m.group(4), m.group(2)))
    totals = {"products": 0.0, "conv_prep": 0.0, "rest": 0.0}
    for share, _, symbol, dso in rows:
        totals[classify(symbol, dso)] += share
    whole = sum(totals.values()) or 1.0
    lines = [f"# perf record -F 499 {' '.join(command)}",
             f"# {started}, load {' '.join(load)}",
             "# share of the run's samples by kind (KINDS in product_share.py):"]
    for kind in ("products", "conv_prep", "rest"):
        lines.append(f"{kind:10s} {100 * totals[kind] / whole:6.1f}%")
    lines.append("# the top symbols by self time, with their kind:")
    jit = sum(share for share, _, _, dso in rows if dso.startswith("[JIT]"))
    if jit:
        lines.append(f"{jit:6.2f}% [.] oneDNN's generated code, every address  (products)")
    named = [r for r in rows if not r[3].startswith("[JIT]")]
    for share, space, symbol, dso in named[:25]:
        lines.append(f"{share:6.2f}% [{space}] {symbol}  ({classify(symbol, dso)})")
    text = "\n".join(lines) + "\n"
    with open(out_path, "w") as f:
        f.write(text)
    sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv)
