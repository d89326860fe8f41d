"""The formulas the PyTorch peer (torch_run.py, torch_models.py) mirrors by
timm's EvoNorm modules (timm.layers.evo_norm): configs/expr/evonorm-b0.yaml's
and evonorm-s0.yaml's text, whitespace aside, with their parameters. The same
function (experiments/bench/evonorm_same_function.py checks it against
`normlab export torch`), built with the config's eps, momentum and groups in
place of timm's defaults (B0's eps 1e-3, S0's 32 groups). No torch here:
torch_run.py's check reads it before torch is loaded.
"""

EVONORMS = {
    "weight*x/max(sqrt(running(var(x,[batch,spatial]))+eps),v*x+sqrt(var(x,[spatial])+eps))+bias":
        "EvoNorm2dB0",
    "weight*x*sigmoid(v*x)/sqrt(var(x,[channels,spatial])+eps)+bias": "EvoNorm2dS0",
}
EVONORM_PARAMS = "weight=1perchannel,bias=0perchannel,v=1perchannel"


def evonorm_of(cfg, get):
    """timm's module name for the config's formula, or None"""
    def squeeze(text):
        return "".join(str(text or "").split())
    if get(cfg, "model.norm.type") != "expr" or \
            squeeze(get(cfg, "model.norm.params")) != EVONORM_PARAMS:
        return None
    return EVONORMS.get(squeeze(get(cfg, "model.norm.expr")))
