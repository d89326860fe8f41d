#!/usr/bin/python3
"""packs.py - a sweep's runs as the Python checks read them: from the run
directories (SWEEP/runs/RUN/...) or from the one SQLite file `normlab pack`
puts them in (SWEEP/runs.sqlite), alike.

    tests/packs.py --self-test [NORMLAB]   the self-test (test_packs); with
                                           NORMLAB, also against its pack/export
    tests/packs.py --write-pack SWEEP [--schema 1|2] [--keep]
                                           pack SWEEP/runs/ as the format says
                                           (a stand-in for checking readers; the
                                           tool is `normlab pack`)
    tests/packs.py --unpack SWEEP          write SWEEP/runs/ back, remove the pack
    tests/packs.py --cat PATH              a file by its path, packed or not

A run inside a packed sweep keeps its path, SWEEP/runs/RUN; SWEEP/runs/ is
gone. As normlab reads them (core/results/store.c): a run whose directory
SWEEP/runs/RUN exists is read from it, any other from the pack.

The pack (core/results/store.h; schema_version 2, and 1 read too):
  normlab_pack(key, value): schema_version, kind, runs, normlab_version
  dictionaries(name, body) [2]: 'config.yaml', 'summary.json', 'metrics.csv'
    (the sweep's first run's files; empty where it had none): zlib preset
    dictionaries
  runs(id, run, status, config, config_size, summary, summary_size,
    metrics, metrics_size) [2]: each a zlib stream deflated against the
    dictionary of its file's name, with its length; NULL where the run had
    no such file
  runs(id, run, status, config, summary, metrics_header, metrics_format)
    [1]: config and summary as their text; metrics.csv's rows in
    metrics(run_id, row, step, epoch, split, loss, ...) where metrics_header
    is not NULL, metrics_format per header column: g (the shortest
    %.{1..17}g text that reads back as the number), fN (%.Nf), t (the
    cell's TEXT, else a number's shortest %g text); NULL an empty cell.
    metrics.csv = header + "\n" + per row (ORDER BY row) its cells joined
    by "," + "\n"; where metrics_header is NULL, metrics.csv is in files.
    (A schema-2 runs table with config_size and summary_size beside
    metrics_header and a metrics table is read too: which columns runs has
    decides, not the number.)
  files(run_id, path, [size,] body): every other file of a run; [2] body a
    zlib stream where its length is not size (SQLite Archive's rule), else
    the bytes.

Packs are opened read-only (an immutable URI: nothing written beside them,
no journal); a pack that changes on disk is opened again.

API: pack_path, is_packed, has_runs, run_names, run_files, read_run_file,
read_run_text, run_packed, split_run_path, read_path, as_text, export_run,
unpack, Pack / open_pack, read_pack_blob_runs; write_pack, pack_bytes (the
writer the self-tests and simulated packs use)."""
import io
import json
import math
import os
import pathlib
import shutil
import sqlite3
import sys
import tempfile
import zlib

PACK_FILE = "runs.sqlite"
RUNS_DIR = "runs"
CONFIG = "config.yaml"
SUMMARY = "summary.json"
METRICS = "metrics.csv"
KIND = "normlab sweep runs"
SCHEMA = 2
# what a pack leaves out of a run (core/results/files.h: the writer's
# marker, a sweep's claim)
LIVE_FILES = (".normlab-run", ".normlab-claim")
# metrics.csv's columns the metrics table has, in its order
# (core/results/metrics.c), for the writer
METRICS_COLUMNS = ("step", "epoch", "split", "loss", "accuracy", "lr", "elapsed_s", "grad_norm")


class PackError(Exception):
    """a pack that cannot be read as one"""


# ---- the numbers of metrics.csv ----

def shortest(value):
    """the shortest %g text that reads back as VALUE (core/results/
    store_metrics.c's nl_store_format_number 'g'; %.17g where none does)"""
    for p in range(1, 18):
        text = "%.*g" % (p, value)
        if float(text) == value:
            return text
    return text


def format_number(kind, decimals, value):
    return "%.*f" % (decimals, value) if kind == "f" else shortest(value)


def parse_format(header, fmt):
    """[(column, kind, decimals)] of a metrics_header and metrics_format"""
    cols, kinds = header.split(","), fmt.split(",")
    if len(cols) != len(kinds) or not header:
        raise PackError(f"metrics_header '{header}' and metrics_format '{fmt}' do not describe a metrics.csv")
    out = []
    for c, k in zip(cols, kinds):
        if k in ("g", "t"):
            out.append((c, k, 0))
        elif k[:1] == "f" and k[1:].isdigit():
            out.append((c, "f", int(k[1:])))
        else:
            raise PackError(f"metrics_format '{fmt}': '{k}' is no column format")
    return out


def metrics_text(db, run_id, header, fmt):
    """metrics.csv's bytes from the metrics rows of RUN_ID (DB's
    text_factory bytes), its header and format as runs has them"""
    cols = parse_format(header.decode(), (fmt or b"").decode())
    sql = "SELECT %s FROM metrics WHERE run_id = ? ORDER BY row" % ", ".join(
        '"%s"' % c.replace('"', '""') for c, _, _ in cols)
    out = [header, b"\n"]
    for row in db.execute(sql, (run_id,)):
        cells = []
        for (_, kind, decimals), v in zip(cols, row):
            if v is None:
                cells.append(b"")
            elif isinstance(v, bytes):  # TEXT: the cell as it was
                cells.append(v)
            else:
                cells.append(format_number("g" if kind == "t" else kind, decimals, float(v)).encode())
        out += [b",".join(cells), b"\n"]
    return b"".join(out)


# ---- one pack ----

def _decompress(body, size, dictionary, what):
    d = zlib.decompressobj(zdict=dictionary) if dictionary else zlib.decompressobj()
    try:
        data = d.decompress(body) + d.flush()
    except zlib.error as e:
        raise PackError(f"{what}: its compressed bytes do not inflate: {e}")
    if not d.eof or d.unused_data or (size is not None and len(data) != size):
        raise PackError(f"{what}: its compressed bytes do not give back the {size} bytes recorded")
    return data


class Pack:
    """a runs.sqlite opened read-only"""

    def __init__(self, path):
        self.path = path
        if not os.path.isfile(path):
            raise PackError(f"{path}: no such file")
        uri = pathlib.Path(os.path.abspath(path)).as_uri() + "?mode=ro&immutable=1"
        self.db = sqlite3.connect(uri, uri=True, check_same_thread=False)
        self.db.text_factory = bytes
        try:
            meta = dict(self.db.execute("SELECT key, value FROM normlab_pack").fetchall())
        except sqlite3.DatabaseError as e:
            self.db.close()
            raise PackError(f"{path}: not a normlab pack ({e})")
        self.schema = int(meta.get(b"schema_version", b"0") or 0)
        if meta.get(b"kind", b"").decode("utf-8", "replace") != KIND or self.schema not in (1, 2):
            self.db.close()
            raise PackError(f"{path}: not a normlab pack of schema 1 or 2 (kind {meta.get(b'kind')!r}, "
                            f"schema_version {meta.get(b'schema_version')!r})")
        self._ids = {r.decode("utf-8", "surrogateescape"): i
                     for i, r in self.db.execute("SELECT id, run FROM runs ORDER BY run")}
        self._cols = {c[1].decode() for c in self.db.execute("PRAGMA table_info(runs)")}
        self._dicts = {}

    def close(self):
        self.db.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def runs(self):
        """the runs' names, sorted"""
        return sorted(self._ids)

    def has_run(self, run):
        return run in self._ids

    def dictionary(self, name):
        if name not in self._dicts:
            row = None
            if self.schema >= 2:
                row = self.db.execute("SELECT body FROM dictionaries WHERE name = ?", (name,)).fetchone()
            self._dicts[name] = row[0] if row and row[0] is not None else None
        return self._dicts[name]

    def _text(self, run, name, col):
        """config.yaml, summary.json or metrics.csv as runs keeps it (COL,
        beside it COL_size where sized): bytes, None where NULL"""
        sized = col + "_size" in self._cols
        body, size = self.db.execute(f"SELECT {col}, {col + '_size' if sized else 'NULL'} FROM runs WHERE id = ?",
                                     (self._ids[run],)).fetchone()
        if body is None or not sized:
            return body
        return _decompress(body, size, self.dictionary(name), f"{self.path}: {name} of run {run}")

    def _file_row(self, run, path):
        row = self.db.execute("SELECT body, %s FROM files WHERE run_id = ? AND path = ?" % (
            "size" if self.schema >= 2 else "NULL"), (self._ids[run], path)).fetchone()
        if row is None or row[0] is None:
            return None
        body, size = row
        if size is None or len(body) == size:
            return body
        return _decompress(body, size, None, f"{self.path}: {path} of run {run}")

    def metrics(self, run):
        """metrics.csv of RUN from runs (deflated, or made again from its
        rows); None where runs does not keep it (then it is in files, or
        there is none)"""
        if "metrics" in self._cols:
            return self._text(run, METRICS, "metrics")
        if "metrics_header" not in self._cols:
            return None
        header, fmt = self.db.execute("SELECT metrics_header, metrics_format FROM runs WHERE id = ?",
                                      (self._ids[run],)).fetchone()
        return None if header is None else metrics_text(self.db, self._ids[run], header, fmt)

    def read(self, run, name):
        """the bytes of file NAME (a path relative to the run) of RUN; None
        where the run or the file is not there"""
        if run not in self._ids:
            return None
        if name in (CONFIG, SUMMARY):
            return self._text(run, name, "config" if name == CONFIG else "summary")
        if name == METRICS:
            text = self.metrics(run)
            if text is not None:
                return text
        return self._file_row(run, name)

    def files(self, run):
        """RUN's files' paths, sorted (as normlab lists them)"""
        if run not in self._ids:
            return []
        i = self._ids[run]
        out = [p.decode("utf-8", "surrogateescape") for (p,) in
               self.db.execute("SELECT path FROM files WHERE run_id = ?", (i,))]
        metrics = "metrics" if "metrics" in self._cols else "metrics_header" if "metrics_header" in self._cols \
            else "NULL"
        config, summary, header = self.db.execute(
            f"SELECT config IS NOT NULL, summary IS NOT NULL, {metrics} IS NOT NULL FROM runs WHERE id = ?",
            (i,)).fetchone()
        out += [n for n, there in ((CONFIG, config), (SUMMARY, summary), (METRICS, header)) if there]
        return sorted(out)

    def read_all(self, run, names=None):
        """{path: bytes} of RUN's files (only NAMES where given)"""
        got = {p: self.read(run, p) for p in (names if names is not None else self.files(run))}
        return {p: b for p, b in got.items() if b is not None}


_OPEN = {}
_OPEN_MAX = 8


def open_pack(path):
    """the pack at PATH, kept open while the file on disk stays the same"""
    key = os.path.abspath(path)
    st = os.stat(key)
    stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
    hit = _OPEN.get(key)
    if hit and hit[0] == stamp:
        return hit[1]
    if hit:
        hit[1].close()
        del _OPEN[key]
    while len(_OPEN) >= _OPEN_MAX:
        _OPEN.pop(next(iter(_OPEN)))[1].close()
    p = Pack(key)
    _OPEN[key] = (stamp, p)
    return p


def read_pack_blob_runs(data, names=None):
    """{run: {path: bytes}} of a runs.sqlite given as bytes (a blob out of
    git history): every file, or those of NAMES a run has"""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, PACK_FILE)
        with open(path, "wb") as f:
            f.write(data)
        with Pack(path) as p:
            return {run: p.read_all(run, names) for run in p.runs()}


# ---- a sweep, packed or not ----

def pack_path(sweep_dir):
    return os.path.join(sweep_dir, PACK_FILE)


def is_packed(sweep_dir):
    return os.path.isfile(pack_path(sweep_dir))


def has_runs(sweep_dir):
    """SWEEP has a runs/ directory or a pack"""
    return os.path.isdir(os.path.join(sweep_dir, RUNS_DIR)) or is_packed(sweep_dir)


def _pack_of(sweep_dir):
    return open_pack(pack_path(sweep_dir)) if is_packed(sweep_dir) else None


def run_names(sweep_dir):
    """the runs' names, sorted: runs/'s entries (os.listdir), and the
    pack's runs"""
    runs = os.path.join(sweep_dir, RUNS_DIR)
    names = set(os.listdir(runs)) if os.path.isdir(runs) else set()
    p = _pack_of(sweep_dir)
    if p:
        names.update(p.runs())
    return sorted(names)


def _run_dir(sweep_dir, run):
    return os.path.join(sweep_dir, RUNS_DIR, run)


def read_run_file(sweep_dir, run, name):
    """the bytes of NAME (summary.json, config.yaml, metrics.csv or any
    path relative to the run) of RUN of the sweep; None where there is no
    such file (a run directory that exists is read, as normlab does, the
    pack otherwise)"""
    d = _run_dir(sweep_dir, run)
    if os.path.isdir(d):
        try:
            with open(os.path.join(d, name), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            return None
    p = _pack_of(sweep_dir)
    return p.read(run, name) if p else None


def as_text(data, newline=None):
    """DATA decoded as open(path, newline=NEWLINE).read() decodes the file"""
    if data is None:
        return None
    return io.TextIOWrapper(io.BytesIO(data), newline=newline).read()


def read_run_text(sweep_dir, run, name, newline=None):
    return as_text(read_run_file(sweep_dir, run, name), newline)


def run_files(sweep_dir, run):
    """RUN's files, paths relative to it, sorted"""
    d = _run_dir(sweep_dir, run)
    if os.path.isdir(d):
        out = []
        for top, dirs, files in os.walk(d):
            out += [os.path.relpath(os.path.join(top, f), d) for f in files]
        return sorted(out)
    p = _pack_of(sweep_dir)
    return p.files(run) if p else []


def split_run_path(path):
    """(SWEEP, RUN, REL) of a path SWEEP/runs/RUN[/REL] whose run is in
    SWEEP's pack (REL '' for the run itself); None for any other path or a
    run with a directory of its own"""
    parts = os.path.normpath(path).split(os.sep)
    for i in range(len(parts) - 2, -1, -1):
        if parts[i] != RUNS_DIR or i + 1 >= len(parts):
            continue
        sweep = os.sep.join(parts[:i]) or ("/" if path.startswith("/") else ".")
        run, rel = parts[i + 1], "/".join(parts[i + 2:])
        if not os.path.isdir(_run_dir(sweep, run)) and is_packed(sweep) and _pack_of(sweep).has_run(run):
            return sweep, run, rel
    return None


def run_packed(run_dir):
    """RUN_DIR (SWEEP/runs/RUN) is a run inside its sweep's pack"""
    s = split_run_path(run_dir)
    return s is not None and s[2] == ""


def read_path(path):
    """the bytes of a file by its path: on disk, or a packed run's file by
    its old path SWEEP/runs/RUN/REL; None where neither has it"""
    try:
        with open(path, "rb") as f:
            return f.read()
    except (FileNotFoundError, NotADirectoryError):
        pass
    s = split_run_path(path)
    if s is None or not s[2]:
        return None
    return _pack_of(s[0]).read(s[1], s[2])


def export_run(sweep_dir, run, dest):
    """RUN's files written into the new directory DEST (a copy of its
    directory, or its files out of the pack)"""
    d = _run_dir(sweep_dir, run)
    if os.path.isdir(d):
        shutil.copytree(d, dest)
        return dest
    p = _pack_of(sweep_dir)
    if p is None or not p.has_run(run):
        raise FileNotFoundError(f"{d}: no such run (no directory, not in {pack_path(sweep_dir)})")
    os.makedirs(dest)
    for rel in p.files(run):
        full = os.path.join(dest, rel)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(p.read(run, rel))
    return dest


def unpack(sweep_dir):
    """the pack's runs written back to SWEEP/runs/ and the pack removed
    (`normlab export csv` writes them back too): for a scratch copy that a
    check then edits file by file"""
    p = _pack_of(sweep_dir)
    if p is None:
        return False
    os.makedirs(os.path.join(sweep_dir, RUNS_DIR), exist_ok=True)
    for run in p.runs():
        if not os.path.isdir(_run_dir(sweep_dir, run)):
            export_run(sweep_dir, run, _run_dir(sweep_dir, run))
    key = os.path.abspath(pack_path(sweep_dir))
    if key in _OPEN:
        _OPEN.pop(key)[1].close()
    os.remove(pack_path(sweep_dir))
    return True


# ---- writing one (the format above; normlab pack is the tool) ----

def _split_metrics(data):
    """(header, rows of cells) of a metrics.csv the table can keep, else
    None (core/results/store_pack.c's split_metrics and metrics_layout)"""
    if not data or not data.endswith(b"\n") or b"\0" in data or b'"' in data or b"\r" in data:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    lines = text[:-1].split("\n")
    header = lines[0].split(",")
    rows = [line.split(",") for line in lines[1:]]
    if len(header) > len(METRICS_COLUMNS) or any(len(r) != len(header) for r in rows) or \
            any(c not in METRICS_COLUMNS for c in header) or len(set(header)) != len(header):
        return None
    return header, rows


def _number(cell):
    """the finite number CELL reads as (C's strtod over all of it), else None"""
    try:
        v = float(cell)
    except ValueError:
        return None
    return v if math.isfinite(v) and cell.strip() == cell and "_" not in cell else None


def _column_format(cells):
    """('g', 0), ('f', N) or ('t', 0): the format that gives back every cell"""
    if all(_number(c) is not None and shortest(float(c)) == c for c in cells):
        return "g", 0
    decimals = None
    for c in cells:
        dot = c.find(".")
        n = len(c) - dot - 1 if dot >= 0 else 0
        decimals = n if decimals is None else decimals
        if _number(c) is None or any(x in c for x in "eE ") or n != decimals or "%.*f" % (n, float(c)) != c:
            return "t", 0
    return "f", decimals or 0


def _deflate(data, dictionary=None):
    c = zlib.compressobj(9, zlib.DEFLATED, 15, 8, zlib.Z_DEFAULT_STRATEGY, **({"zdict": dictionary} if dictionary
                                                                               else {}))
    return c.compress(data) + c.flush()


def _disk_files(run_dir):
    out = []
    for top, dirs, files in os.walk(run_dir):
        dirs.sort()
        for f in files:
            rel = os.path.relpath(os.path.join(top, f), run_dir).replace(os.sep, "/")
            if rel not in LIVE_FILES:
                out.append(rel)
    return sorted(out)


def _schema_sql(schema, rows):
    """the tables of a pack of SCHEMA; ROWS: metrics.csv's rows in a
    metrics table (schema 1's), else deflated in runs (schema 2's)"""
    sized = schema >= 2
    value = "BLOB" if sized else "TEXT"
    text = "%s %s, " + ("%s_size INTEGER, " if sized else "")
    runs = "".join(text % ((c, value, c) if sized else (c, value)) for c in ("config", "summary"))
    runs += "metrics_header TEXT, metrics_format TEXT" if rows else "metrics BLOB, metrics_size INTEGER"
    metrics = ", ".join('"%s" %s' % (c, "INTEGER" if c == "step" else "TEXT" if c == "split" else "REAL")
                        for c in METRICS_COLUMNS)
    return [
        "CREATE TABLE normlab_pack(key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        "CREATE TABLE runs(id INTEGER PRIMARY KEY, run TEXT NOT NULL UNIQUE, status TEXT, %s)" % runs,
        "CREATE TABLE files(run_id INTEGER NOT NULL REFERENCES runs(id), path TEXT NOT NULL, %sbody BLOB NOT NULL, "
        "PRIMARY KEY (run_id, path)) WITHOUT ROWID" % ("size INTEGER NOT NULL, " if sized else ""),
    ] + ([
        "CREATE TABLE metrics(run_id INTEGER NOT NULL REFERENCES runs(id), row INTEGER NOT NULL, %s, "
        "PRIMARY KEY (run_id, row)) WITHOUT ROWID" % metrics,
        "CREATE VIEW run_metrics AS SELECT runs.run, metrics.* FROM metrics JOIN runs ON runs.id = metrics.run_id",
    ] if rows else []) + (["CREATE TABLE dictionaries(name TEXT PRIMARY KEY, body BLOB NOT NULL)"] if sized else [])


def _status(summary):
    try:
        s = json.loads(summary)
        return s.get("status") if isinstance(s, dict) else None
    except (ValueError, TypeError):
        return None


def _insert_metrics(db, rid, metrics, empty_as_null):
    """metrics.csv's rows into the metrics table, its header and format
    into runs; False (nothing kept) where they do not give it back"""
    split = _split_metrics(metrics) if metrics is not None else None
    if not split:
        return False
    header, rows = split
    layout = [_column_format([r[i] for r in rows]) for i in range(len(header))]
    fmt = ",".join("f%d" % d if k == "f" else k for k, d in layout)
    db.execute("UPDATE runs SET metrics_header = ?, metrics_format = ? WHERE id = ?", (",".join(header), fmt, rid))
    names = ", ".join('"%s"' % c for c in header)
    sql = "INSERT INTO metrics(run_id, row, %s) VALUES (?, ?, %s)" % (names, ", ".join("?" * len(header)))
    for n, cells in enumerate(rows, 1):
        vals = []
        for (kind, _), c in zip(layout, cells):
            if kind != "t" or (_number(c) is not None and shortest(float(c)) == c):
                vals.append(float(c))
            else:  # nan, a number printed otherwise, an empty cell: its text
                vals.append(None if empty_as_null and c == "" else c)
        db.execute(sql, [rid, n] + vals)
    if metrics_text(db, rid, ",".join(header).encode(), fmt.encode()) == metrics:
        return True
    # a cell SQLite keeps otherwise (143237060 in a t column: REAL affinity
    # reads the text as a number; -0): kept whole in files, as schema 1's
    # description says (normlab's schema-1 writer refused such a sweep)
    db.execute("DELETE FROM metrics WHERE run_id = ?", (rid,))
    db.execute("UPDATE runs SET metrics_header = NULL, metrics_format = NULL WHERE id = ?", (rid,))
    return False


def _insert_run(db, schema, rows, run, files, dicts, empty_as_null):
    """RUN's row, its metrics rows (ROWS) and its other files; FILES {path: bytes}"""
    texts = (CONFIG, SUMMARY) if rows else (CONFIG, SUMMARY, METRICS)
    values = []
    for name in texts:
        data = files.get(name)
        if schema < 2:
            values.append(None if data is None else data.decode("utf-8", "surrogateescape"))
        else:
            values += [None, None] if data is None else [_deflate(data, dicts.get(name)), len(data)]
    if rows:
        values += [None, None]
    rid = db.execute("INSERT INTO runs VALUES (NULL, ?, ?, %s)" % ", ".join("?" * len(values)),
                     [run, _status(files.get(SUMMARY))] + values).lastrowid
    kept = rows and _insert_metrics(db, rid, files.get(METRICS), empty_as_null)
    for rel, body in sorted(files.items()):
        if rel in texts or (kept and rel == METRICS):
            continue
        if schema < 2:
            db.execute("INSERT INTO files VALUES (?, ?, ?)", (rid, rel, body))
        else:
            z = zlib.compress(body, 9)
            db.execute("INSERT INTO files VALUES (?, ?, ?, ?)", (rid, rel, len(body), z if len(z) < len(body)
                                                                  else body))


def write_runs(path, runs, schema=SCHEMA, empty_as_null=False, rows=None):
    """a pack at PATH of RUNS {run: {path: bytes}}; ROWS (schema 1's way,
    and by default so in schema 1 alone): metrics.csv in a metrics table"""
    rows = schema < 2 if rows is None else rows
    db = sqlite3.connect(path)
    db.text_factory = bytes
    try:
        for sql in _schema_sql(schema, rows):
            db.execute(sql)
        dicts = {}
        first = sorted(runs)[0] if runs else None
        if schema >= 2:  # the first run's texts (empty where it has none)
            for name in (CONFIG, SUMMARY) + (() if rows else (METRICS,)):
                dicts[name] = runs[first].get(name, b"") if first else b""
                db.execute("INSERT INTO dictionaries VALUES (?, ?)", (name, dicts[name]))
        for key, value in (("schema_version", str(schema)), ("kind", KIND), ("runs", str(len(runs))),
                           ("normlab_version", "tests/packs.py")):
            db.execute("INSERT INTO normlab_pack VALUES (?, ?)", (key, value))
        for run in sorted(runs):
            _insert_run(db, schema, rows, run, runs[run], dicts, empty_as_null)
        db.commit()
        db.execute("VACUUM")
    finally:
        db.close()


def write_pack(sweep_dir, schema=SCHEMA, remove=True, empty_as_null=False, rows=None):
    """SWEEP/runs/ into SWEEP/runs.sqlite as the format says, runs/ then
    removed (unless REMOVE is false); the pack's path. EMPTY_AS_NULL, ROWS:
    write_runs'"""
    runs_dir = os.path.join(sweep_dir, RUNS_DIR)
    runs = {}
    for run in sorted(os.listdir(runs_dir)):
        d = os.path.join(runs_dir, run)
        runs[run] = {}
        for rel in _disk_files(d):
            with open(os.path.join(d, rel), "rb") as f:
                runs[run][rel] = f.read()
    path = pack_path(sweep_dir)
    tmp = "%s.tmp.%d" % (path, os.getpid())
    if os.path.exists(tmp):
        os.remove(tmp)
    write_runs(tmp, runs, schema, empty_as_null, rows)
    # read back and compared file for file, as normlab pack does: a cell
    # SQLite keeps otherwise ("0.50" in a REAL column, -0) is refused
    with Pack(tmp) as p:
        for run, files in runs.items():
            if p.files(run) != sorted(files):
                raise PackError(f"{tmp}: run {run}'s files {p.files(run)}, not {sorted(files)}; nothing packed")
            for rel, body in files.items():
                if p.read(run, rel) != body:
                    os.remove(tmp)
                    raise PackError(f"{sweep_dir}/runs/{run}/{rel} does not come back from the pack byte for "
                                    "byte; nothing packed")
    os.replace(tmp, path)
    if remove:
        shutil.rmtree(runs_dir)
    return path


def pack_bytes(runs, schema=SCHEMA):
    """the bytes of a pack of RUNS {run: {path: bytes or str}}"""
    runs = {r: {p: b.encode() if isinstance(b, str) else b for p, b in files.items()} for r, files in runs.items()}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, PACK_FILE)
        write_runs(path, runs, schema)
        with open(path, "rb") as f:
            return f.read()


# ---- the self-test ----

# metrics.csv with a 'g' column (elapsed_s), 'fN' columns (step f0: the
# shortest %g of 100 is 1e+02; epoch f4, lr f6) and 't' columns (split's
# words; loss with a nan among numbers, accuracy with an empty cell)
METRICS_TEXT = ("step,epoch,split,loss,accuracy,lr,elapsed_s\n"
                "0,0.0000,test,2.30258509,0.1,0.010000,0.028\n"
                "100,0.2133,train,1.5,,0.010000,1e-05\n"
                "200,0.4267,train,nan,0.5,0.005000,123456789012\n"
                "300,0.6400,test,0.25,1e+22,0.000010,0.3\n")


def _sample_sweep(root, live=True):
    """a sweep directory of three runs: every kind of file a run has (and
    a writer's marker, which a pack leaves out, where LIVE)"""
    runs = {
        "a_seed-1": {CONFIG: "name: a_seed-1\nseed: 1\nmodel:\n  norm:\n    type: batch  # é\n",
                     SUMMARY: '{"name": "a_seed-1", "status": "finished", "started_at": "2026-11-28T00:43:04Z"}\n',
                     METRICS: METRICS_TEXT,
                     "series.csv": "step,series,layer,name,value\n" + "".join(
                         "%d,grad,l%d,norm,%.6g\n" % (s, s % 3, s / 7) for s in range(400)),
                     "eval/test.json": '{"accuracy": 0.9}\n', "final.nlck": bytes(range(256)) * 3,
                     "tiny.txt": "x"},
        "a_seed-2": {CONFIG: "name: a_seed-2\nseed: 2\nmodel:\n  norm:\n    type: batch  # é\n",
                     SUMMARY: '{"name": "a_seed-2", "status": "diverged"}\n',
                     # not kept in the table: a quoted cell
                     METRICS: 'step,split,loss\n0,"test",1\n', "empty.txt": ""},
        "b_seed-1": {SUMMARY: '{"name": "b_seed-1"}', METRICS: "step,split,loss\n",
                     "trace.csv": "t\n" + "0.5\n" * 10},
        # a cell REAL affinity reads as a number (its shortest %g is
        # 1.4323706e+08): kept whole in files
        "c_seed-1": {METRICS: "step,split,loss\n1,train,nan\n2,train,143237060\n"},
    }
    for run, files in runs.items():
        for rel, body in files.items():
            full = os.path.join(root, RUNS_DIR, run, rel)
            os.makedirs(os.path.dirname(full), exist_ok=True)
            with open(full, "wb") as f:
                f.write(body.encode() if isinstance(body, str) else body)
    if live:
        with open(os.path.join(root, RUNS_DIR, "a_seed-1", LIVE_FILES[0]), "w") as f:
            f.write("live")
    return {r: {p: b.encode() if isinstance(b, str) else b for p, b in fs.items()} for r, fs in runs.items()}


def _check_sweep(sweep, want, what):
    """every file of WANT read back byte for byte through the API"""
    failures = []
    if run_names(sweep) != sorted(want):
        failures.append(f"{what}: run_names {run_names(sweep)}, want {sorted(want)}")
    for run, files in want.items():
        if run_files(sweep, run) != sorted(files):
            failures.append(f"{what}: {run}'s files {run_files(sweep, run)}, want {sorted(files)}")
        for rel, body in files.items():
            got = read_run_file(sweep, run, rel)
            if got != body:
                failures.append(f"{what}: {run}/{rel} reads back as {got!r:.60}..., want {body!r:.60}...")
            if read_path(os.path.join(sweep, RUNS_DIR, run, rel)) != body:
                failures.append(f"{what}: read_path of {run}/{rel} is not the file")
        if read_run_file(sweep, run, "no-such-file") is not None:
            failures.append(f"{what}: {run}/no-such-file reads as a file")
    if read_run_file(sweep, "no-such-run", SUMMARY) is not None:
        failures.append(f"{what}: a run that is not there reads as one")
    return failures


def _pack_layout(path):
    """what a pack of the sample sweep holds where: (schema, the runs
    columns beside run and status, the dictionaries, files compressed,
    whether a config needs its dictionary; with a metrics table: a_seed-1's
    metrics_format, the runs whose metrics.csv is in files, accuracy's NULL
    and TEXT cells)"""
    db = sqlite3.connect(pathlib.Path(os.path.abspath(path)).as_uri() + "?mode=ro&immutable=1", uri=True)
    try:
        q = lambda sql: db.execute(sql).fetchone()[0]  # noqa: E731
        schema = q("SELECT value FROM normlab_pack WHERE key = 'schema_version'")
        cols = ",".join(c[1] for c in db.execute("PRAGMA table_info(runs)").fetchall()[3:])
        out = [schema, cols]
        if schema == "2":
            needs = False
            try:  # a config deflated against its dictionary: not read without it
                zlib.decompress(q("SELECT config FROM runs WHERE run = 'a_seed-2'"))
            except zlib.error:
                needs = True
            out += [q("SELECT group_concat(name) FROM (SELECT name FROM dictionaries ORDER BY name)"),
                    q("SELECT count(*) FROM files WHERE length(body) < size"), needs]
        if "metrics_format" in cols:
            out += [q("SELECT metrics_format FROM runs WHERE run = 'a_seed-1'"),
                    q("SELECT group_concat(run) FROM runs WHERE metrics_header IS NULL"),
                    q("SELECT count(*) FROM metrics WHERE accuracy IS NULL"),
                    q("SELECT count(*) FROM metrics WHERE typeof(accuracy) = 'text'")]
    finally:
        db.close()
    return tuple(out)


# the layouts the self-test writes: (schema, metrics in rows, empty cells
# NULL, what _pack_layout gives)
LAYOUTS = [
    (2, False, False, ("2", "config,config_size,summary,summary_size,metrics,metrics_size",
                       "config.yaml,metrics.csv,summary.json", 3, True)),
    (1, True, False, ("1", "config,summary,metrics_header,metrics_format",
                      "f0,f4,t,t,t,f6,g", "a_seed-2,c_seed-1", 0, 1)),
    (1, True, True, ("1", "config,summary,metrics_header,metrics_format",
                     "f0,f4,t,t,t,f6,g", "a_seed-2,c_seed-1", 1, 0)),
    (2, True, True, ("2", "config,config_size,summary,summary_size,metrics_header,metrics_format",
                     "config.yaml,summary.json", 3, True, "f0,f4,t,t,t,f6,g", "a_seed-2,c_seed-1", 1, 0)),
]


def _against_normlab(normlab, tmp):
    """normlab's own pack of a copy of a small committed sweep read back
    here byte for byte, and packs of schema 1 and 2 written here read by
    normlab (export csv) file for file"""
    import subprocess
    failures = []
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    source = os.path.join(root, "results", "bn-vit")  # 6 runs: config, summary, metrics
    extra = {p: b for p, b in _sample_sweep(os.path.join(tmp, "extra"))["a_seed-1"].items()
             if p not in (CONFIG, SUMMARY, METRICS)}
    extra["empty.txt"] = b""

    def copy(dest):
        """the sweep's files, its runs as directories (packed or not), the
        first with files of every other kind"""
        shutil.copytree(source, dest, ignore=shutil.ignore_patterns("plots", RUNS_DIR, PACK_FILE))
        for i, run in enumerate(run_names(source)):
            export_run(source, run, os.path.join(dest, RUNS_DIR, run))
            for rel, body in (extra.items() if i == 0 else ()):
                os.makedirs(os.path.dirname(os.path.join(dest, RUNS_DIR, run, rel)), exist_ok=True)
                with open(os.path.join(dest, RUNS_DIR, run, rel), "wb") as f:
                    f.write(body)
        return dest

    theirs = copy(os.path.join(tmp, "theirs"))
    want = {r: {p: read_run_file(theirs, r, p) for p in run_files(theirs, r)} for r in run_names(theirs)}
    p = subprocess.run([normlab, "pack", theirs], capture_output=True, text=True)
    if p.returncode != 0:
        failures.append(f"normlab pack {theirs}: exit {p.returncode}: {p.stderr.strip()[:300]}")
    else:
        failures += _check_sweep(theirs, want, "normlab's pack")
    for schema in (1, 2):
        ours = copy(os.path.join(tmp, f"ours{schema}"))
        try:
            write_pack(ours, schema)
        except PackError as e:
            failures.append(f"a schema-{schema} pack of {source}'s runs: {e}")
            continue
        out = os.path.join(tmp, f"exported{schema}")  # a sweep: --out stands for its runs/
        os.makedirs(out)
        p = subprocess.run([normlab, "export", "csv", ours, "--out", os.path.join(out, RUNS_DIR)],
                           capture_output=True, text=True)
        if p.returncode != 0:
            failures.append(f"normlab export csv of a schema-{schema} pack written here: exit {p.returncode}: "
                            f"{p.stderr.strip()[:300]}")
            continue
        got = {r: {rel: read_run_file(out, r, rel) for rel in run_files(out, r)} for r in run_names(out)}
        if got != want:
            failures.append(f"normlab export csv of a schema-{schema} pack written here differs from the runs")
    return failures


def self_test(normlab=None):
    try:
        return _self_test(normlab)
    finally:
        for p in list(_OPEN):
            _OPEN.pop(p)[1].close()


def _self_test(normlab):
    """packs of schema 2 and 1 written here from a scratch sweep read back
    byte for byte (schema 2's texts deflated against their dictionaries;
    schema 1's metrics.csv kept in rows with g, fN and t columns, an empty
    cell as TEXT and as NULL, one kept whole in files; files stored
    compressed and as they are); a run directory beside the pack read
    first; a pack given as bytes; export and unpack give the files back"""
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        plain = os.path.join(tmp, "plain")
        want = _sample_sweep(plain, live=False)
        failures += _check_sweep(plain, want, "the run directories")
        for schema, rows, null, expect in LAYOUTS:
            what = f"a schema-{schema} pack" + (" (metrics.csv in rows%s)" % (", empty cells NULL" if null else "")
                                                if rows else "")
            sweep = os.path.join(tmp, f"s{schema}{'r' if rows else ''}{'n' if null else ''}")
            _sample_sweep(sweep)
            try:
                write_pack(sweep, schema, empty_as_null=null, rows=rows)
            except PackError as e:
                failures.append(f"{what}: {e}")
                continue
            if os.path.exists(os.path.join(sweep, RUNS_DIR)) or not is_packed(sweep) or not has_runs(sweep):
                failures.append(f"{what}: runs/ still there or no pack")
            failures += _check_sweep(sweep, want, what)
            layout = _pack_layout(pack_path(sweep))
            if layout != expect:
                failures.append(f"{what}: its tables hold {layout}, want {expect} (_pack_layout)")
            with open(pack_path(sweep), "rb") as f:
                blob = f.read()
            got = read_pack_blob_runs(blob)
            if got != want:
                failures.append(f"{what}: read_pack_blob_runs differs from the files")
            if read_pack_blob_runs(blob, [SUMMARY, CONFIG]) != {
                    r: {p: b for p, b in fs.items() if p in (SUMMARY, CONFIG)} for r, fs in want.items()}:
                failures.append(f"{what}: read_pack_blob_runs of summary.json and config.yaml differs")
            if split_run_path(os.path.join(sweep, RUNS_DIR, "a_seed-1", "eval", "test.json")) != \
                    (sweep, "a_seed-1", "eval/test.json") or not run_packed(os.path.join(sweep, RUNS_DIR, "b_seed-1")) \
                    or run_packed(os.path.join(sweep, RUNS_DIR, "d_seed-1")):
                failures.append(f"{what}: split_run_path / run_packed")
            dest = export_run(sweep, "a_seed-1", os.path.join(tmp, "export-" + os.path.basename(sweep)))
            if {rel: read_path(os.path.join(dest, rel)) for rel in _disk_files(dest)} != want["a_seed-1"]:
                failures.append(f"{what}: export_run differs from the run's files")
        if failures:
            return failures
        # a run directory beside the pack (a pack killed before it removed
        # them all) is read from the directory
        sweep = os.path.join(tmp, "s2")
        os.makedirs(os.path.join(sweep, RUNS_DIR, "a_seed-2"))
        with open(os.path.join(sweep, RUNS_DIR, "a_seed-2", SUMMARY), "w") as f:
            f.write("{}")
        if read_run_file(sweep, "a_seed-2", SUMMARY) != b"{}" or read_run_file(sweep, "a_seed-2", CONFIG) is not None \
                or run_names(sweep) != sorted(want):
            failures.append("a run directory beside the pack is not read first")
        shutil.rmtree(os.path.join(sweep, RUNS_DIR))
        # a changed pack is opened again; unpack gives the directories back
        sweep1 = os.path.join(tmp, "s1rn")
        read_run_file(sweep1, "a_seed-1", SUMMARY)
        shutil.copyfile(pack_path(sweep), pack_path(sweep1) + ".new")
        os.replace(pack_path(sweep1) + ".new", pack_path(sweep1))
        if _pack_layout(pack_path(sweep1))[0] != "2" or read_run_file(sweep1, "b_seed-1", SUMMARY) != \
                want["b_seed-1"][SUMMARY] or open_pack(pack_path(sweep1)).schema != 2:
            failures.append("a pack replaced on disk is read as the old one")
        unpack(sweep1)
        if is_packed(sweep1):
            failures.append("unpack left the pack")
        failures += _check_sweep(sweep1, want, "an unpacked pack")
        # a damaged value is refused, not read as another
        bad = os.path.join(tmp, "bad")
        _sample_sweep(bad)
        write_pack(bad)
        db = sqlite3.connect(pack_path(bad))
        db.execute("UPDATE runs SET summary_size = summary_size + 1")
        db.commit()
        db.close()
        try:
            read_run_file(bad, "a_seed-1", SUMMARY)
            failures.append("a summary.json whose size is not its stream's is read")
        except PackError:
            pass
        if normlab:
            failures += _against_normlab(normlab, tmp)
    return failures


def main():
    args = sys.argv[1:]
    if args[:1] == ["--self-test"] and len(args) <= 2:
        failures = self_test(args[1] if len(args) == 2 else None)
        for f in failures:
            print(f"packs.py self-test: {f}")
        print(f"packs.py: {len(failures)} problem(s)" if failures else
              "packs.py: packs of schema 1 and 2 read back byte for byte" + (" (and normlab's)" if args[1:] else ""))
        return 1 if failures else 0
    if args[:1] == ["--write-pack"] and len(args) >= 2:
        schema = int(args[args.index("--schema") + 1]) if "--schema" in args else SCHEMA
        print(write_pack(args[1], schema, remove="--keep" not in args))
        return 0
    if args[:1] == ["--unpack"] and len(args) == 2:
        return 0 if unpack(args[1]) else 1
    if args[:1] == ["--cat"] and len(args) == 2:
        data = read_path(args[1])
        if data is None:
            print(f"packs.py: {args[1]}: no such file, on disk or packed", file=sys.stderr)
            return 1
        sys.stdout.buffer.write(data)
        return 0
    sys.exit(__doc__.split("\n\n")[1])


if __name__ == "__main__":
    sys.exit(main())
