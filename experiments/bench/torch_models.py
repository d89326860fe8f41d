"""The PyTorch models torch_run.py trains: normlab's architectures
(core/arch/*.c) as a PyTorch user writes them, with normlab's
initialization and normlab's parameter names (`normlab show CONFIG
--params`), so that a run's weights load by name (torch_run.py
--init-from). torch_run.py's ARCHS table names each row's builder here;
this module imports torch, so torch_run.py imports it once torch is known
to be there.

The transformers are written as a competent PyTorch user writes them
today, not as the goldens' modules (tests/golden/make_goldens.py's Lm and
Vit, which spell attention out to expose its probabilities): one fused q,
k, v projection (attn.qkv, whose weight is normlab's q, k and v weights
one after another: load_normlab concatenates them) and
F.scaled_dot_product_attention, causal for the lm; the recurrent nets are
nn.LSTM / nn.GRU (placement none) or the cell with normalizers inside it
(placement in_cell, layer or rms: make_goldens.cell_norm's statistics at
every step, as core/layers/rnn.c's nl_rnn_norm_layer).
"""
import collections
import math
import os
import re
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "golden"))
sys.path.insert(0, os.path.join(HERE, ".."))
import make_goldens  # noqa: E402  (sets one thread on import: torch_run sets its own after)
sys.path.insert(0, HERE)
from evonorm_formulas import evonorm_of  # noqa: E402

# a normalizer with a learned shift makes the layer before it drop its bias
# (model.bias auto, core/arch/parts.c's nl_arch_layer_bias)
SHIFT = {"none": False, "batch": True, "layer": True, "group": True, "rms": False,
         "expr": False}  # a formula's declared bias is not a learned shift to the builder
ACTIVATIONS = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
# core/arch/rnn.c: the permuted task's one pixel order
PERMUTE_PIXELS_SEED = 1234


class Spec:
    """what the builders read of a resolved config (core/model/spec.h's
    fields under their config keys)"""

    def __init__(self, cfg, get):
        self.cfg, self.get = cfg, get
        self.arch = get(cfg, "model.arch")
        self.norm = get(cfg, "model.norm.type")
        self.placement = get(cfg, "model.norm.placement")
        self.groups = get(cfg, "model.norm.groups", 8)
        self.eps = float(get(cfg, "model.norm.eps", 1e-5))
        self.affine = get(cfg, "model.norm.affine", True)
        self.momentum = get(cfg, "model.norm.momentum", 0.1)
        self.track = get(cfg, "model.norm.track_running_stats", True)
        self.init = get(cfg, "model.init", "auto")
        self.init_std_value = get(cfg, "model.init_std", 0.01)
        self.activation = get(cfg, "model.activation", "relu")
        # a formula in a norm -> activation pair's place (core/arch/parts.c
        # nl_arch_norm_act): timm's EvoNorm module, no activation after it
        self.evonorm = evonorm_of(cfg, get)
        self.replace_act = get(cfg, "model.norm.activation", "keep") == "replace"
        bias = get(cfg, "model.bias", "auto")
        self.bias = None if bias == "auto" else bool(bias)

    def layer_bias(self, feeds_norm):
        """nl_arch_layer_bias"""
        if self.bias is not None:
            return self.bias
        return not (feeds_norm and SHIFT[self.norm] and self.affine)

    def init_std(self, fan_in, fan_out, activation_follows):
        """nl_arch_init_std"""
        kind = self.init
        if kind == "gaussian":
            return float(self.init_std_value)
        if kind == "auto":
            kind = "he" if activation_follows and self.activation == "relu" else "xavier"
        if kind == "he":
            return math.sqrt(2.0 / fan_in)
        gain = 5.0 / 3.0 if activation_follows and self.activation == "tanh" else 1.0
        return gain * math.sqrt(2.0 / (fan_in + fan_out))

    def tfm_std(self, fan_in, fan_out):
        """nl_arch_tfm_std: init auto is GPT-2's N(0, 0.02)"""
        return 0.02 if self.init == "auto" else self.init_std(fan_in, fan_out, False)

    def embedding_std(self):
        """nl_arch_embedding_std"""
        return float(self.init_std_value) if self.init == "gaussian" else 0.02

    def norm_module(self, c, image):
        """the normalizer before an activation (placement before / a
        resnet's), on images or feature vectors"""
        if self.norm == "none":
            return nn.Identity()
        if self.evonorm:
            import timm.layers  # noqa: E402  (only the EvoNorm rows need timm)
            cls = getattr(timm.layers, self.evonorm)
            if self.evonorm == "EvoNorm2dB0":
                return cls(c, apply_act=True, momentum=self.momentum, eps=self.eps)
            return cls(c, groups=self.groups, apply_act=True, eps=self.eps)
        if self.norm == "batch":
            cls = nn.BatchNorm2d if image else nn.BatchNorm1d
            return cls(c, eps=self.eps, momentum=self.momentum, affine=self.affine,
                       track_running_stats=self.track)
        if self.norm == "layer":
            return nn.GroupNorm(1, c, eps=self.eps, affine=self.affine) if image else \
                nn.LayerNorm(c, eps=self.eps, elementwise_affine=self.affine)
        if self.norm == "group":
            return nn.GroupNorm(self.groups, c, eps=self.eps, affine=self.affine)
        return make_goldens.RMSNorm(c, self.eps, self.affine)

    def act(self):
        return ACTIVATIONS[self.activation]()

    def pair_act(self):
        """the activation of a norm -> activation pair: none where the
        formula takes its place (model.norm.activation replace)"""
        return nn.Identity() if self.replace_act else self.act()

    def conv(self, in_c, out_c, kernel, stride, feeds_norm):
        """nl_arch_conv: padding kernel / 2, He or Glorot normal, bias 0"""
        m = nn.Conv2d(in_c, out_c, kernel, stride=stride, padding=kernel // 2,
                      bias=self.layer_bias(feeds_norm))
        normal_(m, self.init_std(in_c * kernel * kernel, out_c * kernel * kernel, True))
        return m

    def linear(self, fan_in, fan_out, bias, std):
        m = nn.Linear(fan_in, fan_out, bias=bias)
        normal_(m, std)
        return m

    def classifier(self, fan_in, classes):
        """nl_arch_classifier"""
        return self.linear(fan_in, classes, self.layer_bias(False),
                           self.init_std(fan_in, classes, False))


def normal_(m, std):
    with torch.no_grad():
        m.weight.normal_(0.0, std)
        if m.bias is not None:
            m.bias.zero_()


# ---- mlp, cnn (core/arch/mlp.c, cnn.c) ----

def build_mlp(s, in_shape, classes):
    layers = [("flatten_input", nn.Flatten())]
    prev = int(math.prod(in_shape))
    for i, w in enumerate(s.get(s.cfg, "model.widths"), 1):
        fc = s.linear(prev, w, s.layer_bias(True), s.init_std(prev, w, True))
        layers += [("fc%d" % i, fc), ("norm%d" % i, s.norm_module(w, False)), ("act%d" % i, s.pair_act())]
        prev = w
    layers.append(("classifier", s.classifier(prev, classes)))
    return nn.Sequential(collections.OrderedDict(layers))


def build_cnn(s, in_shape, classes):
    prev, h, w_ = in_shape
    pool = nn.MaxPool2d if s.get(s.cfg, "model.pool", "max") == "max" else nn.AvgPool2d
    layers, index = [], 0
    for stage, w in enumerate(s.get(s.cfg, "model.widths"), 1):
        for _ in range(s.get(s.cfg, "model.convs_per_stage", 1)):
            index += 1
            layers += [("conv%d" % index, s.conv(prev, w, 3, 1, True)),
                       ("norm%d" % index, s.norm_module(w, True)), ("act%d" % index, s.pair_act())]
            prev = w
        layers.append(("pool%d" % stage, pool(2)))
        h, w_ = h // 2, w_ // 2
    layers += [("flatten", nn.Flatten()), ("classifier", s.classifier(prev * h * w_, classes))]
    return nn.Sequential(collections.OrderedDict(layers))


# ---- resnet (core/arch/resnet.c) ----

class BasicBlock(nn.Module):
    """post: conv-norm-act-conv-norm, + shortcut, act (He et al. 2015);
    pre: norm-act-conv-norm-act-conv, + shortcut (He et al. 2016), a
    projection (stride 2 or a new width) taking the pre-activated input"""

    def __init__(self, s, in_c, width, stride, pre):
        super().__init__()
        self.pre = pre
        project = stride != 1 or in_c != width
        if pre:
            self.norm1 = s.norm_module(in_c, True)
            self.act1 = s.pair_act()
            self.conv1 = s.conv(in_c, width, 3, stride, True)
            self.norm2 = s.norm_module(width, True)
            self.act2 = s.pair_act()
            self.conv2 = s.conv(width, width, 3, 1, False)
            if project:
                self.shortcut = nn.Module()
                self.shortcut.conv = s.conv(in_c, width, 1, stride, False)
        else:
            self.conv1 = s.conv(in_c, width, 3, stride, True)
            self.norm1 = s.norm_module(width, True)
            self.act1 = s.pair_act()
            self.conv2 = s.conv(width, width, 3, 1, True)
            self.norm2 = s.norm_module(width, True)
            self.act2 = s.act()
            if project:
                self.shortcut = nn.Module()
                self.shortcut.conv = s.conv(in_c, width, 1, stride, True)
                self.shortcut.norm = s.norm_module(width, True)

    def forward(self, x):
        if self.pre:
            pre = self.act1(self.norm1(x))
            short = self.shortcut.conv(pre) if hasattr(self, "shortcut") else x
            y = self.conv2(self.act2(self.norm2(self.conv1(pre))))
            return y + short
        short = self.shortcut.norm(self.shortcut.conv(x)) if hasattr(self, "shortcut") else x
        y = self.norm2(self.conv2(self.act1(self.norm1(self.conv1(x)))))
        return self.act2(y + short)


class ResNet(nn.Module):
    def __init__(self, s, in_shape, classes):
        super().__init__()
        self.pre = s.placement == "pre"
        widths = s.get(s.cfg, "model.widths")
        stem = s.get(s.cfg, "model.stem_width", 0) or widths[0]
        self.stem = nn.Module()
        self.stem.conv = s.conv(in_shape[0], stem, 3, 1, True)
        if not self.pre:
            self.stem.norm = s.norm_module(stem, True)
            self.stem.act = s.pair_act()
        self.stages = []
        prev = stem
        for i, width in enumerate(widths, 1):
            stage = nn.Module()
            for k in range(1, s.get(s.cfg, "model.blocks_per_stage", 1) + 1):
                stride = 2 if i > 1 and k == 1 else 1
                setattr(stage, "block%d" % k, BasicBlock(s, prev, width, stride, self.pre))
                prev = width
            setattr(self, "stage%d" % i, stage)
            self.stages.append(stage)
        if self.pre:
            self.final = nn.Module()
            self.final.norm = s.norm_module(prev, True)
            self.final.act = s.pair_act()
        self.classifier = s.classifier(prev, classes)

    def forward(self, x):
        x = self.stem.conv(x)
        if not self.pre:
            x = self.stem.act(self.stem.norm(x))
        for stage in self.stages:
            for block in stage.children():
                x = block(x)
        if self.pre:
            x = self.final.act(self.final.norm(x))
        return self.classifier(x.mean(dim=(2, 3)))


def build_resnet(s, in_shape, classes):
    return ResNet(s, in_shape, classes)


# ---- lm, vit (core/arch/lm.c, vit.c, transformer.c) ----

def transformer_init(s, model):
    """normlab's: every linear N(0, tfm_std), its bias 0 (none where
    model.bias is false), the embeddings and the class token N(0,
    embedding_std), the normalizers' gains 1 and shifts 0"""
    with torch.no_grad():
        for name, m in model.named_modules():
            if isinstance(m, nn.Linear):
                # the fused q, k, v: three of normlab's projections, each d -> d
                fan_out = m.out_features // 3 if name.endswith("attn.qkv") else m.out_features
                m.weight.normal_(0.0, s.tfm_std(m.in_features, fan_out))
                if s.bias is False:
                    m.register_parameter("bias", None)
                elif m.bias is not None:
                    m.bias.zero_()
            elif isinstance(m, nn.Embedding):
                m.weight.normal_(0.0, s.embedding_std())
        if hasattr(model, "cls_token"):
            model.cls_token.normal_(0.0, s.embedding_std())
        for m in model.modules():  # the normalizers' eps and momentum as configured
            if hasattr(m, "eps"):
                m.eps = s.eps
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.momentum = s.momentum
    return model


def gelu_kind(s):
    return "none" if s.get(s.cfg, "model.gelu", "erf") == "erf" else "tanh"


def token_norm(kind, d, groups):
    """a normalizer over the last axis, as make_goldens.token_norm names it;
    rms as nn.RMSNorm (one fused op) rather than the goldens' torch ops"""
    return nn.RMSNorm(d, eps=1e-5) if kind == "rms" else make_goldens.token_norm(kind, d, groups)


def rows(module, x):
    """module on x's rows: the batch and group norms take (rows, d)"""
    if isinstance(module, (nn.LayerNorm, nn.RMSNorm)):
        return module(x)
    return module(x.reshape(-1, x.shape[-1])).reshape(x.shape)


class Block(nn.Module):
    """a transformer block (core/tfm: the lm's and the vit's) with normlab's
    parameter names but one fused projection attn.qkv for q, k and v, and
    F.scaled_dot_product_attention (causal for the lm): the normalizer at
    placement pre, post, peri or none, qk_norm on each head's q and k"""

    def __init__(self, d, heads, ratio, norm, placement, qk_norm, gelu, groups, causal):
        super().__init__()
        self.d, self.heads, self.placement, self.causal = d, heads, placement, causal
        self.attn = nn.Module()
        self.attn.qkv = nn.Linear(d, 3 * d)
        self.attn.proj = nn.Linear(d, d)
        if qk_norm and norm != "none":
            self.attn.q_norm = token_norm(norm, d // heads, groups)
            self.attn.k_norm = token_norm(norm, d // heads, groups)
        self.mlp = nn.Module()
        self.mlp.fc1 = nn.Linear(d, ratio * d)
        self.mlp.fc2 = nn.Linear(ratio * d, d)
        self.gelu = nn.GELU(approximate=gelu)
        if placement != "none" and norm != "none":
            for i in (1, 2):
                setattr(self, "norm%d" % i, token_norm(norm, d, groups))
                if placement == "peri":
                    setattr(self, "norm%d_out" % i, token_norm(norm, d, groups))

    def norm(self, name, x):
        return rows(getattr(self, name), x) if hasattr(self, name) else x

    def heads_of(self, x, norm):
        """(N, T, D) -> (N, heads, T, D / heads), each head's vector normalized
        where qk_norm puts a normalizer"""
        n, t, _ = x.shape
        x = x.reshape(n, t, self.heads, self.d // self.heads)
        if norm and hasattr(self.attn, norm):
            x = rows(getattr(self.attn, norm), x)
        return x.transpose(1, 2)

    def attention(self, h):
        q, k, v = self.attn.qkv(h).split(self.d, dim=-1)
        y = F.scaled_dot_product_attention(self.heads_of(q, "q_norm"), self.heads_of(k, "k_norm"),
                                           self.heads_of(v, None), is_causal=self.causal)
        return self.attn.proj(y.transpose(1, 2).reshape(h.shape))

    def branch(self, x, i):
        f = self.attention if i == 1 else lambda h: self.mlp.fc2(self.gelu(self.mlp.fc1(h)))
        if self.placement == "post":
            return self.norm("norm%d" % i, x + f(x))
        h = self.norm("norm%d" % i, x) if self.placement in ("pre", "peri") else x
        out = f(h)
        if self.placement == "peri":
            out = self.norm("norm%d_out" % i, out)
        return x + out

    def forward(self, x):
        return self.branch(self.branch(x, 1), 2)


def blocks(s, causal):
    g = s.get
    return nn.ModuleList(Block(g(s.cfg, "model.d_model"), g(s.cfg, "model.heads"),
                               g(s.cfg, "model.mlp_ratio", 4), s.norm, s.placement,
                               g(s.cfg, "model.qk_norm", False), gelu_kind(s), s.groups, causal)
                         for _ in range(g(s.cfg, "model.layers")))


class Lm(nn.Module):
    """normlab's lm: token + position embeddings, the blocks (causal), a
    final norm for pre and peri, the head (tied: the token table)"""

    def __init__(self, s, vocab):
        super().__init__()
        d, context = s.get(s.cfg, "model.d_model"), s.get(s.cfg, "model.context")
        self.tie = s.get(s.cfg, "model.tie_embeddings", True)
        self.tok_emb = nn.Embedding(vocab, d)
        self.pos_emb = nn.Embedding(context, d)
        self.blocks = blocks(s, True)
        if s.placement in ("pre", "peri") and s.norm != "none":
            self.final_norm = token_norm(s.norm, d, s.groups)
        if not self.tie:
            self.head = nn.Linear(d, vocab, bias=False)

    def forward(self, tokens):
        x = self.tok_emb(tokens) + self.pos_emb.weight[:tokens.shape[1]]
        for block in self.blocks:
            x = block(x)
        if hasattr(self, "final_norm"):
            x = rows(self.final_norm, x)
        return F.linear(x, self.tok_emb.weight) if self.tie else self.head(x)


class Vit(nn.Module):
    """normlab's vit: patches (a patch's values in channel, row, column
    order, the patches row-major: make_goldens.patches_of), a linear patch
    embedding, a class token (pool cls), learned positions, the blocks
    without a mask, a final norm for pre and peri, the class token's output
    or the tokens' mean, a linear classifier"""

    def __init__(self, s, in_shape, classes):
        super().__init__()
        d, self.patch = s.get(s.cfg, "model.d_model"), s.get(s.cfg, "model.patch")
        self.mean_pool = s.get(s.cfg, "model.token_pool", "cls") == "mean"
        tokens = (in_shape[1] // self.patch) ** 2
        self.patch_embed = nn.Linear(in_shape[0] * self.patch * self.patch, d)
        if not self.mean_pool:
            self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.pos_emb = nn.Embedding(tokens + (0 if self.mean_pool else 1), d)
        self.blocks = blocks(s, False)
        if s.placement in ("pre", "peri") and s.norm != "none":
            self.final_norm = token_norm(s.norm, d, s.groups)
        self.head = nn.Linear(d, classes)

    def forward(self, images):
        n = images.shape[0]
        x = self.patch_embed(make_goldens.patches_of(images, self.patch))
        if not self.mean_pool:
            x = torch.cat([self.cls_token.expand(n, 1, -1), x], dim=1)
        x = x + self.pos_emb.weight
        for block in self.blocks:
            x = block(x)
        if hasattr(self, "final_norm"):
            x = rows(self.final_norm, x)
        return self.head(x.mean(dim=1) if self.mean_pool else x[:, 0])


def build_lm(s, in_shape, classes):
    return transformer_init(s, Lm(s, classes))


def build_vit(s, in_shape, classes):
    return transformer_init(s, Vit(s, in_shape, classes))


# ---- rnn, rnn_lm (core/arch/rnn.c, core/layers/rnn.c) ----

class CellNorm(nn.Module):
    """a normalizer inside the cell: per-sample statistics over the row
    (layer: centred; rms: not), a gain (affine) and, on the lstm's cell
    state with a kind that has one, a shift"""

    def __init__(self, width, kind, eps, affine, gain_init, shift):
        super().__init__()
        self.kind, self.eps = kind, eps
        self.weight = nn.Parameter(torch.full((width,), float(gain_init))) if affine else None
        self.bias = nn.Parameter(torch.zeros(width)) if affine and shift else None

    def forward(self, x):
        return make_goldens.cell_norm(self.kind, x, 1.0 if self.weight is None else self.weight,
                                      self.bias, self.eps)


class NormCell(nn.Module):
    """one recurrent layer with normalizers inside the cell, at every step
      u = N_x(x_t w_ih^T) + N_h(h_{t-1} w_hh^T) + bias
    then the plain cell's gates from u; the lstm's h_t = o tanh(N_c(c_t))
    (c_t itself without cell_state); the gru's n gate
    tanh(N_x(.)_n + bias_n + r * N_h(.)_n). Weights and bias U(-1/sqrt(H),
    1/sqrt(H)) as PyTorch's cells start; gains cell_gamma (default 1)."""

    def __init__(self, s, cell, in_features, hidden):
        super().__init__()
        gates = (4 if cell == "lstm" else 3) * hidden
        self.cell, self.hidden = cell, hidden
        bound = 1.0 / math.sqrt(hidden)
        self.weight_ih = nn.Parameter(torch.empty(gates, in_features).uniform_(-bound, bound))
        self.weight_hh = nn.Parameter(torch.empty(gates, hidden).uniform_(-bound, bound))
        self.bias = nn.Parameter(torch.empty(gates).uniform_(-bound, bound))
        gain = s.get(s.cfg, "model.norm.cell_gamma", 0) or 1.0
        self.norm_ih = CellNorm(gates, s.norm, s.eps, s.affine, gain, False)
        self.norm_hh = CellNorm(gates, s.norm, s.eps, s.affine, gain, False)
        self.cell_state = cell == "lstm" and s.get(s.cfg, "model.norm.cell_state", True)
        if self.cell_state:
            self.norm_c = CellNorm(hidden, s.norm, s.eps, s.affine, gain, SHIFT[s.norm])

    def forward(self, x):
        n, t, _ = x.shape
        h = x.new_zeros(n, self.hidden)
        c = x.new_zeros(n, self.hidden)
        # per-sample statistics: every step's input projection at once
        a_all = self.norm_ih(x @ self.weight_ih.t())
        ys = []
        for step in range(t):
            a = a_all[:, step]
            b = self.norm_hh(h @ self.weight_hh.t())
            h, c = make_goldens.cell_update(self.cell, a, b, self.bias, h, c,
                                            self.norm_c if self.cell_state else (lambda c_t: c_t))
            ys.append(h)
        return torch.stack(ys, 1)


class Recurrent(nn.Module):
    """model.layers stacked layers of model.cell over (N, T, D): nn.LSTM /
    nn.GRU (the plain cell), or NormCell layers (placement in_cell); every
    step's hidden state (N, T, H)"""

    def __init__(self, s, in_features):
        super().__init__()
        cell, hidden = s.get(s.cfg, "model.cell", "lstm"), s.get(s.cfg, "model.hidden")
        layers = s.get(s.cfg, "model.layers", 1)
        self.cell = cell
        self.in_cell = s.placement == "in_cell" and s.norm != "none"
        if self.in_cell:
            stack = nn.Module()
            for i in range(layers):
                setattr(stack, "l%d" % i, NormCell(s, cell, in_features if i == 0 else hidden,
                                                   hidden))
        else:
            stack = (nn.LSTM if cell == "lstm" else nn.GRU)(in_features, hidden, num_layers=layers,
                                                            batch_first=True)
        setattr(self, cell, stack)

    def forward(self, x):
        stack = getattr(self, self.cell)
        if not self.in_cell:
            return stack(x)[0]
        for layer in stack.children():
            x = layer(x)
        return x


class RnnClassifier(nn.Module):
    """rnn: the image's C*H rows of W pixels as the sequence (its pixels
    in normlab's fixed order first with permute_pixels), the classifier on
    the top layer's last hidden state"""

    def __init__(self, s, in_shape, classes):
        super().__init__()
        c, h, w = in_shape
        self.steps, self.width = c * h, w
        self.permute = s.get(s.cfg, "model.permute_pixels", False)
        if self.permute:  # core/layers/permute.c: the identity shuffled by normlab's generator
            order = list(range(c * h * w))
            # imported here: normlab_files needs numpy, which only this
            # row's pixel order uses (the GPU peer runs without numpy)
            from normlab_py.normlab_files import Pcg32, STREAM_SHUFFLE
            Pcg32(PERMUTE_PIXELS_SEED, STREAM_SHUFFLE).shuffle(order)
            self.register_buffer("order", torch.tensor(order), persistent=False)
        self.rnn = Recurrent(s, w)
        hidden = s.get(s.cfg, "model.hidden")
        self.classifier = s.classifier(hidden, classes)

    def forward(self, images):
        x = images.reshape(images.shape[0], -1)
        if self.permute:
            x = x[:, self.order]
        y = self.rnn(x.reshape(-1, self.steps, self.width))
        return self.classifier(y[:, -1])


class RnnLm(nn.Module):
    """rnn_lm: a token embedding of model.hidden values (N(0, 1), no
    position table), the recurrent layers, a linear head at every step"""

    def __init__(self, s, vocab):
        super().__init__()
        hidden = s.get(s.cfg, "model.hidden")
        self.embed = nn.Embedding(vocab, hidden)
        with torch.no_grad():
            self.embed.weight.normal_(0.0, float(s.init_std_value) if s.init == "gaussian" else 1.0)
        self.rnn = Recurrent(s, hidden)
        self.head = s.classifier(hidden, vocab)

    def forward(self, tokens):
        return self.head(self.rnn(self.embed(tokens)))


def recurrent_name(name):
    """a parameter's name in normlab's spelling: the stack's module is
    dropped (rnn.), and nn.LSTM's weight_ih_l0 is normlab's l0.weight_ih"""
    if name.startswith("rnn."):
        name = name[len("rnn."):]
    return re.sub(r"^(lstm|gru)\.(weight_ih|weight_hh|bias_ih|bias_hh)_l(\d+)$", r"\1.l\3.\2", name)


def build_rnn(s, in_shape, classes):
    return RnnClassifier(s, in_shape, classes)


def build_rnn_lm(s, in_shape, classes):
    return RnnLm(s, classes)


def normlab_parts(name):
    """the normlab parameters a parameter here is made of, in order: itself,
    or for a fused attn.qkv the q, k and v projections it concatenates"""
    fused = re.match(r"^(.*\.attn)\.qkv\.(weight|bias)$", name)
    if fused:
        return ["%s.%s.%s" % (fused.group(1), part, fused.group(2)) for part in "qkv"]
    return [name]


def normlab_names(model):
    """{(normlab's names of it): the parameter} of a model built here"""
    rename = recurrent_name if isinstance(model, (RnnClassifier, RnnLm)) else (lambda n: n)
    return {tuple(normlab_parts(rename(n))): p for n, p in model.named_parameters()}


def load_normlab(model, weights):
    """normlab's weights ({name: array}, normlab_files.read_final_model)
    into the model (a fused parameter: its parts concatenated along the
    first axis); ValueError naming what does not match"""
    params = normlab_names(model)
    names = {name for parts in params for name in parts}
    missing = sorted(names - set(weights))
    extra = sorted(set(weights) - names)
    if missing or extra:
        raise ValueError("the model's parameters are not normlab's: only here %s, only in "
                         "normlab's %s" % (missing, extra))
    with torch.no_grad():
        for parts, p in params.items():
            w = torch.cat([torch.from_numpy(weights[name]) for name in parts])
            if tuple(w.shape) != tuple(p.shape):
                raise ValueError("%s: normlab's shape %s, here %s" % ("+".join(parts),
                                                                     tuple(w.shape),
                                                                     tuple(p.shape)))
            p.copy_(w)
