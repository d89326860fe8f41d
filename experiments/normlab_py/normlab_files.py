"""normlab's files, data and generator from Python, for the scripts that
put PyTorch beside a normlab run on the same numbers: torch_run.py's
parity mode (tests/peer/same_model.py) and the LN-LSTM replay
(experiments/replay/lnlstm_replay.py). Plain Python and numpy; torch is
the callers'.

- Pcg32: core/base/rng.c's generator (PCG32 seeded through splitmix64 with
  a stream), its below() and Fisher-Yates shuffle;
- image_batches / window_starts: the training batches core/data's
  batchers draw (images: every epoch the identity order shuffled on the
  shuffle stream, the incomplete last batch dropped; token windows: each
  start below length - context on the windows stream);
- read_idx, pixels, standardize: core/data's images (an IDX file, the
  pixels times the float 1/255, per channel the training split's mean and
  population std in double);
- param_layout / read_final_model: a final.nlck's parameter arena
  (core/model/builder.c's allocate_parameters: the decayed weights first,
  then the normalizers' parameters and the biases, each in build order and
  padded to 16 floats), its layout as `normlab show --params` prints it or
  as arena_layout computes it from the parameters' shapes.
"""
import csv
import gzip
import io
import os
import struct
import subprocess

import numpy as np

MASK64 = (1 << 64) - 1
# core/base/rng.h's streams
STREAM_SHUFFLE = 2
STREAM_WINDOWS = 5
# core/model/builder.c's round_floats: every parameter starts on 16 floats
ARENA_ALIGN = 16
FINAL_MAGIC = b"NLFINAL\0"
HEADER_BYTES = 48


# ---- the generator (core/base/rng.c) ----
def splitmix64(state):
    state = (state + 0x9E3779B97F4A7C15) & MASK64
    z = state
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
    return state, z ^ (z >> 31)


class Pcg32:
    def __init__(self, seed, stream):
        sm = (seed ^ ((stream * 0xD1342543DE82EF95) & MASK64)) & MASK64
        self.state = 0
        sm, z = splitmix64(sm)
        self.inc = ((z << 1) | 1) & MASK64
        self.u32()
        sm, z = splitmix64(sm)
        self.state = (self.state + z) & MASK64
        self.u32()

    def u32(self):
        old = self.state
        self.state = (old * 6364136223846793005 + self.inc) & MASK64
        xorshifted = (((old >> 18) ^ old) >> 27) & 0xFFFFFFFF
        rot = old >> 59
        return ((xorshifted >> rot) | (xorshifted << ((-rot) & 31))) & 0xFFFFFFFF

    def below(self, bound):
        threshold = ((1 << 32) - bound) % bound
        while True:
            r = self.u32()
            if r >= threshold:
                return r % bound

    def shuffle(self, idx):
        for i in range(len(idx) - 1, 0, -1):
            j = self.below(i + 1)
            idx[i], idx[j] = idx[j], idx[i]


# ---- the batches (core/data/data.c, core/data/tokens.c) ----
def image_batches(seed, n, batch):
    """the training batches' sample indices, endlessly, as nl_batcher draws
    them: each epoch the identity order shuffled, the last partial batch
    dropped"""
    rng = Pcg32(seed, STREAM_SHUFFLE)
    while True:
        order = list(range(n))
        rng.shuffle(order)
        for k in range(n // batch):
            yield order[k * batch:(k + 1) * batch]


def window_starts(seed, length, context, batch):
    """the training windows' starts, a batch at a time, endlessly, as
    nl_window_batcher draws them (random windows)"""
    rng = Pcg32(seed, STREAM_WINDOWS)
    while True:
        yield [rng.below(length - context) for _ in range(batch)]


def read_idx(path):
    """an IDX file's array (gzip or not; core/data/idx.c)"""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    dims = [int.from_bytes(raw[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def pixels(raw):
    """uint8 pixels as normlab's floats: each times the float 1/255"""
    return raw.astype(np.float32) * np.float32(1.0 / 255.0)


def standardize(train, test):
    """train and test (N, C, H, W) float32 standardized per channel by the
    training split's mean and population std in double, as normlab does
    (a std of 0 counts as 1); returns the two float32 arrays"""
    train64, test64 = train.astype(np.float64), test.astype(np.float64)
    for ch in range(train.shape[1]):
        mean = train64[:, ch].mean()
        std = np.sqrt(((train64[:, ch] - mean) ** 2).mean())
        if not std > 1e-12:
            std = 1.0
        inv = 1.0 / std
        train64[:, ch] = (train64[:, ch] - mean) * inv
        test64[:, ch] = (test64[:, ch] - mean) * inv
    return train64.astype(np.float32), test64.astype(np.float32)


# ---- the final model's parameters ----
def arena_layout(params):
    """[(name, shape, offset)] in the arena for params [(name, shape,
    decayed)] in build order: the decayed ones first, then the others, each
    padded to ARENA_ALIGN floats"""
    out, at = [], 0
    for decayed_pass in (True, False):
        for name, shape, decayed in params:
            if bool(decayed) != decayed_pass:
                continue
            out.append((name, tuple(shape), at))
            size = int(np.prod(shape))
            at += (size + ARENA_ALIGN - 1) // ARENA_ALIGN * ARENA_ALIGN
    return out


def param_layout(normlab, target, sets=()):
    """[(name, shape, offset)] of the model a config or run directory
    builds, from `normlab show TARGET --params` (offsets in floats into the
    parameter arena, which final.nlck holds as it is)"""
    cmd = [normlab, "show", target, "--params"]
    for s in sets:
        cmd += ["--set", s]
    text = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    out = []
    for row in csv.DictReader(io.StringIO(text)):
        shape = tuple(int(d) for d in row["shape"].split("x"))
        out.append((row["name"], shape, int(row["offset"])))
    return out


def read_final_model(run_dir, layout):
    """{name: float32 array} of run_dir/final.nlck (core/train/final_model.h:
    a 48-byte header, the config keys, three i64 sizes, then the parameter
    arena) for a layout [(name, shape, offset)]"""
    with open(os.path.join(run_dir, "final.nlck"), "rb") as f:
        raw = f.read()
    if raw[:8] != FINAL_MAGIC:
        raise ValueError("%s/final.nlck: not a final model" % run_dir)
    at = HEADER_BYTES
    keys = struct.unpack_from("<q", raw, at)[0]
    at += 8 + keys
    n_params, _, _ = struct.unpack_from("<qqq", raw, at)
    at += 24
    flat = np.frombuffer(raw, np.float32, count=n_params, offset=at)
    end = max(off + (int(np.prod(s)) + ARENA_ALIGN - 1) // ARENA_ALIGN * ARENA_ALIGN
              for _, s, off in layout)
    if end != n_params:
        raise ValueError("%s/final.nlck: its arena holds %d floats, this layout %d"
                         % (run_dir, n_params, end))
    return {name: flat[off:off + int(np.prod(shape))].reshape(shape).copy()
            for name, shape, off in layout}


def params_offset(raw):
    """the byte offset of the parameter arena in a final.nlck's bytes, and
    its float count"""
    at = HEADER_BYTES + 8 + struct.unpack_from("<q", raw, HEADER_BYTES)[0]
    return at + 24, struct.unpack_from("<q", raw, at)[0]
