#!/usr/bin/python3
"""Adds a regenerated fixture's new cases to the committed one, keeping every
tensor already committed byte for byte (another torch build or CPU moves
some of the old ones by float rounding; a new case need not move them).

    cp tests/fixtures/norm_goldens.nlfx /tmp/old.nlfx
    .venv-peer/bin/python tests/golden/make_goldens.py norm
    python3 tests/golden/splice_fixture.py /tmp/old.nlfx tests/fixtures/norm_goldens.nlfx \
        tests/fixtures/norm_goldens.nlfx

writes OUT: OLD's tensors in their order, then NEW's tensors that OLD lacks,
then NEW's case index ("cases", "case0", ...), and says how many of OLD's
tensors NEW computed differently. The format is make_goldens.py's."""
import struct
import sys


def read(path):
    b = open(path, "rb").read()
    assert b[:4] == b"NLFX", path
    _, count = struct.unpack_from("<II", b, 4)
    off, out = 12, []
    for _ in range(count):
        start = off
        (length,) = struct.unpack_from("<I", b, off)
        name = b[off + 4:off + 4 + length].decode()
        off += 4 + length
        _, ndim = struct.unpack_from("<II", b, off)
        dims = struct.unpack_from("<%dI" % ndim, b, off + 8)
        off += 8 + 4 * ndim
        values = 1
        for d in dims:
            values *= d
        off += 4 * values
        out.append((name, b[start:off]))
    return out


def is_index(name):
    return name == "cases" or (name.startswith("case") and name[4:].isdigit())


def main(old_path, new_path, out_path):
    old, new = read(old_path), read(new_path)
    old_d, new_d = dict(old), dict(new)
    moved = [n for n, raw in old if not is_index(n) and n in new_d and new_d[n] != raw]
    keep = [raw for n, raw in old if not is_index(n)]
    added = [raw for n, raw in new if n not in old_d and not is_index(n)]
    index = [raw for n, raw in new if is_index(n)]
    with open(out_path, "wb") as f:
        f.write(b"NLFX" + struct.pack("<II", 1, len(keep) + len(added) + len(index)))
        f.write(b"".join(keep + added + index))
    merged = dict(read(out_path))
    assert all(merged[n] == raw for n, raw in old if not is_index(n))
    print("%s: %d tensors kept, %d added (%d of the kept ones the new run computed otherwise)"
          % (out_path, len(keep), len(added), len(moved)))


if __name__ == "__main__":
    main(*sys.argv[1:4])
