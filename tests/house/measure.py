#!/usr/bin/python3
"""The house's size, measured: functions longer than a limit in core/ and
cmd/ (the kernels of core/cpu and core/cuda aside), and include cycles
between modules (a module is a .c and its .h: core/train/run.{c,h}).

    tests/house/measure.py [--limit 80] [--list] [--check ALLOWED] [--root DIR]

A function is a definition whose opening brace and closing brace stand at
the start of a line (the house style); its length counts the lines from its
signature's first line to the closing brace. A cycle is a strongly
connected set of two or more modules in the graph "A's .c or .h includes
B's .h"; a folder cycle the same between folders (core/plot, cmd), where a
folder includes another when one of its files includes one of the other's.
A file name spelled outside core/results/: a string literal in core/ or cmd/
that holds one of the names core/results/files.h defines as a path component
("metrics.csv", "%s/summary.json", "../trace.csv", a gnuplot script's
\"../metrics.csv\"; a directory's name such as "runs" only as a path's end
beside a '/' or a "%s"), since results/ alone knows the run directory's
format. A column name spelled outside core/results/: a string literal that is
one of metrics.csv's or series.csv's column names (core/results/metrics.c's
and series.c's tables) handed to a column lookup (a call of a function whose
name ends in _col or is field: nl_csv_table_col(&t, "step")); results/'s
nl_metrics_col and nl_series_col name them instead. A summary.json key or
summary.csv column spelled outside core/results/: a string literal that is one
of the names core/results/summary_keys.h defines, where it is a key handed to
a JSON call (nl_json_flat_get(json, "wall_s", ...), nl_json_string(j,
"device", ...)) or a column lookup, or anywhere when the name has an
underscore ("final_test_loss"): a one-word name ("status", "device") is also
a config key or a word, a multi-word one is the results format's.

A folder's internal header (a name ending in internal.h: plot/internal.h,
data/data_internal.h) is included by its own folder's files alone; an include
of another folder's fails, as a folder cycle does.

A file (.c, .h, .cu, .cuh) in core/ or cmd/ is at most 900 lines, kernels
included: a longer one is split along a seam of its own, and no line of
ALLOWED excuses one.

A function a header of core/X/ (or cmd/) declares is defined in a .c or .cu
file of that folder, so that a folder's headers say what the folder
provides: one defined in another folder only (a non-static definition,
read as the identifier before the parameter list of a top-level statement
with a body) is named with its definitions; one defined nowhere in core/ or
cmd/ is not this check's.

A layer or the builder decides no layout and no storage type: in core/layers/
and core/norm/ (the reorder layer itself, layers/reorder.c, aside) no
function sets an activation's storage type (an assignment to value_store or
grad_store), inserts a layout conversion (a call of nl_reorder_to_nchw) or
sets a layout to a constant (an assignment of a number to a field ending
in "block"). The plan's passes decide these (core/plan/) and the layers
receive them; a line 'layout FILE FUNCTION # reason' excuses one function
while it is worked off.

--check ALLOWED (test_house): exits 1 naming every long function, cycle or
declaration defined elsewhere that ALLOWED does not list, so the house does
not grow back while the listed ones are worked off (a file over 900 lines
is never listed). A function is listed by file and name, a cycle by its
modules, a folder cycle by its folders and the reason it stays (the line's
comment), a declaration another folder defines by its header and function
and the reason it stays; a cycle that lost members is still allowed, one
that gained any is not. Entries no longer needed are named, to be deleted.

--root DIR measures the core/ and cmd/ under DIR instead of this checkout's
(tests/house/planted.py plants what each check must fail on in a copy)."""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KERNELS = ("core/cpu/", "core/cuda/")


def sources(kinds=(".c", ".h")):
    for top in ("core", "cmd"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in sorted(files):
                if f.endswith(kinds):
                    yield os.path.relpath(os.path.join(d, f), ROOT)


# what an include reaches: a table of kinds (norm/kinds.def) is its
# folder's as much as a header is
INCLUDED = (".c", ".h", ".def")


FILE_LIMIT = 900
FILE_KINDS = (".c", ".h", ".cu", ".cuh")


def long_files():
    """(lines, file) of each source file over FILE_LIMIT lines, as wc -l
    counts them"""
    out = []
    for rel in sources(FILE_KINDS):
        n = open(os.path.join(ROOT, rel), errors="replace").read().count("\n")
        if n > FILE_LIMIT:
            out.append((n, rel))
    return sorted(out, reverse=True)


def long_functions(limit):
    out = []
    for rel in sources():
        if not rel.endswith(".c") or rel.startswith(KERNELS):
            continue
        lines = open(os.path.join(ROOT, rel), errors="replace").read().split("\n")
        start = None
        for i, line in enumerate(lines):
            if line == "{" and i > 0:
                # the signature starts after the last blank, comment or preprocessor line
                j = i - 1
                while j > 0 and lines[j - 1].strip() and not lines[j - 1].startswith(("/", " *", "#", "}")):
                    j -= 1
                start = j
            elif line.startswith("}") and start is not None:
                m = re.search(r"(\w+)\s*\(", " ".join(lines[start:start + 3]))
                n = i - start + 1
                if n > limit:
                    out.append((n, rel, m.group(1) if m else "?"))
                start = None
    return sorted(out, reverse=True)


def code_only(text):
    """text with its comments, string and character literals and
    preprocessor lines blanked, lines and offsets kept"""
    out, i, n, line_start = [], 0, len(text), True
    while i < n:
        c = text[i]
        if line_start and c in " \t":
            out.append(c)
            i += 1
            continue
        if line_start and c == "#":
            j = i
            while j < n and text[j] != "\n":
                if text.startswith("\\\n", j):
                    j += 2
                elif text.startswith("/*", j):
                    end = text.find("*/", j + 2)
                    j = n if end < 0 else end + 2
                else:
                    j += 1
            out.append(re.sub(r"[^\n]", " ", text[i:j]))
            i = j
            continue
        line_start = c == "\n"
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j < 0 else j + 2
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            j = min(j + 1, n)
        else:
            out.append(c)
            i += 1
            continue
        out.append(re.sub(r"[^\n]", " ", text[i:j]))
        i = j
    return "".join(out)


ATTRIBUTE = re.compile(r"\b(__attribute__|__launch_bounds__|__declspec|alignas|_Alignas)\s*\(")


def without_attributes(head):
    while True:
        m = ATTRIBUTE.search(head)
        if not m:
            return head
        depth, j = 0, m.end() - 1
        while j < len(head):
            depth += {"(": 1, ")": -1}.get(head[j], 0)
            if depth == 0:
                break
            j += 1
        head = head[:m.start()] + " " * (j + 1 - m.start()) + head[j + 1:]


def function_named(head):
    """the function a top-level declaration or definition names: the
    identifier before its last top-level parenthesis group (a function
    pointer's "(*f)(...)" names none); None for anything else"""
    head = without_attributes(head)
    if "=" in head or re.search(r"\btypedef\b", head):
        return None
    depth = 0
    for j in range(len(head) - 1, -1, -1):
        if head[j] == ")":
            depth += 1
        elif head[j] == "(":
            depth -= 1
            if depth == 0:
                m = re.search(r"([A-Za-z_]\w*)\s*$", head[:j])
                return m.group(1) if m and m.group(1) not in ("if", "while", "for", "switch", "return",
                                                              "sizeof") else None
    return None


def top_level(code):
    """(kind, name, offset, head) of each top-level statement of `code`
    (code_only's) that names a function: 'declared' (ends in ';') or
    'defined' (has a body); extern "C" and namespace blocks are looked
    into"""
    out, i, n, start, braced = [], 0, len(code), 0, False
    while i < n:
        c = code[i]
        if c == ";":
            name = None if braced else function_named(code[start:i])
            if name:
                out.append(("declared", name, start + len(code[start:i]) - len(code[start:i].lstrip()),
                            code[start:i]))
            start, braced = i + 1, False
        elif c == "{":
            head = code[start:i]
            if re.match(r"\s*(extern|namespace)\b[^(]*$", head):
                start = i + 1
                i += 1
                continue
            depth, j = 0, i
            while j < n:
                depth += {"{": 1, "}": -1}.get(code[j], 0)
                if depth == 0:
                    break
                j += 1
            name = None if braced else function_named(head)
            if name:
                out.append(("defined", name, start + len(head) - len(head.lstrip()), head))
                start, braced = j + 1, False
            else:
                braced = True  # a struct, union, enum or initializer: its statement ends at ';'
            i = j + 1
            continue
        elif c == "}":
            start, braced = i + 1, False
        i += 1
    return out


HEADERS = (".h", ".cuh")


def foreign_definitions():
    """(header, line, function, files defining it) of each function a
    header declares that no file of the header's folder defines and a file
    of another folder does (static definitions are their files' own)"""
    declared, defined = [], {}
    for rel in sources(FILE_KINDS):
        text = open(os.path.join(ROOT, rel), errors="replace").read()
        for kind, name, at, head in top_level(code_only(text)):
            if kind == "defined" and not re.search(r"\bstatic\b", head):
                defined.setdefault(name, set()).add(rel)
            elif kind == "declared" and rel.endswith(HEADERS):
                declared.append((rel, text.count("\n", 0, at) + 1, name))
    out = []
    for rel, line, name in declared:
        where = defined.get(name, set())
        if where and os.path.dirname(rel) not in {os.path.dirname(w) for w in where}:
            out.append((rel, line, name, sorted(where)))
    return sorted(out)


def module_of(rel):
    return os.path.splitext(rel)[0]


def include_edges():
    """module -> the modules whose .h it includes"""
    modules = {module_of(r) for r in sources(INCLUDED)}
    edges = {m: set() for m in modules}
    for rel in sources(INCLUDED):
        here = module_of(rel)
        for inc in re.findall(r'^#include "([^"]+)"', open(os.path.join(ROOT, rel), errors="replace").read(), re.M):
            for base in (os.path.dirname(rel), "core", "cmd"):
                target = module_of(os.path.normpath(os.path.join(base, inc)))
                if target in modules and target != here:
                    edges[here].add(target)
                    break
    return edges


def strongly_connected(edges):
    """Tarjan's strongly connected components of two or more nodes"""
    index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
    sys.setrecursionlimit(10000)

    def visit(v):
        index[v] = low[v] = n[0]
        n[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                sccs.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return sccs


def include_cycles():
    return strongly_connected(include_edges())


def folder_of(module):
    return os.path.dirname(module)


def folder_cycles():
    """cycles between folders (core/plot, cmd, ...): folder A -> B when a
    module of A includes one of B"""
    folders = {}
    for module, targets in include_edges().items():
        here = folder_of(module)
        folders.setdefault(here, set())
        for t in targets:
            folders.setdefault(folder_of(t), set())
            if folder_of(t) != here:
                folders[here].add(folder_of(t))
    return strongly_connected(folders)


def foreign_internal_includes():
    """(file, line, header) of each include of another folder's internal
    header (a name ending in internal.h)"""
    out = []
    for rel in sources(INCLUDED):
        text = open(os.path.join(ROOT, rel), errors="replace").read()
        for m in re.finditer(r'^#include "([^"]*internal\.h)"', text, re.M):
            inc = m.group(1)
            for base in (os.path.dirname(rel), "core", "cmd"):
                if os.path.exists(os.path.join(ROOT, base, inc)):
                    target = os.path.normpath(os.path.join(base, inc))
                    break
            else:
                continue
            if os.path.dirname(target) != os.path.dirname(rel):
                out.append((rel, text.count("\n", 0, m.start()) + 1, target))
    return out


DECIDERS = ("core/layers/", "core/norm/")
DECISIONS = (
    (re.compile(r"\b(value_store|grad_store)\s*=(?!=)"), "sets a storage type"),
    (re.compile(r"\bnl_reorder_to_nchw\s*\("), "inserts a layout conversion"),
    (re.compile(r"\b\w*block\s*=(?!=)\s*\d"), "sets a layout"),
)


def layout_decisions():
    """(file, line, function, what) of each place a layer or the builder
    decides a layout or a storage type (DECISIONS)"""
    out = []
    for rel in sources((".c",)):
        if not rel.startswith(DECIDERS) or rel == "core/layers/reorder.c":
            continue
        code = code_only(open(os.path.join(ROOT, rel), errors="replace").read())
        defined = [(offset, name) for kind, name, offset, _ in top_level(code) if kind == "defined"]
        for pattern, what in DECISIONS:
            for m in pattern.finditer(code):
                inside = [name for offset, name in defined if offset <= m.start()]
                out.append((rel, code.count("\n", 0, m.start()) + 1, inside[-1] if inside else "?", what))
    return sorted(set(out))


FILES_H = "core/results/files.h"


def results_file_names():
    """the names core/results/files.h defines: #define NL_... "name" """
    text = open(os.path.join(ROOT, FILES_H)).read()
    return re.findall(r'^#define NL_\w+ "([^"]+)"', text, re.M)


def code_literals(text):
    """(line, content, offset) of each string literal outside comments and
    char literals"""
    out, i, line, n = [], 0, 1, len(text)
    while i < n:
        c = text[i]
        if c == "\n":
            line += 1
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
            continue
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            end = n if end < 0 else end + 2
            line += text.count("\n", i, end)
            i = end
            continue
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            if c == '"':
                out.append((line, text[i + 1:j], i))
            i = j + 1
            continue
        i += 1
    return out


def stray_file_names():
    """(file, line, name) of each literal outside core/results/ that spells
    a name of results/files.h as a path component"""
    patterns = []
    for name in results_file_names():
        # a directory's name is a word too ("runs" in a message): it counts
        # where it starts or ends the literal beside a '/', or beside a '%s/'
        slash = r"(^|/)@($|/|\\)" if "." in name else r"(^|%s/)@/|/@($|/%s)"
        patterns.append((name, re.compile(slash.replace("@", re.escape(name)))))
    out = []
    for rel in sources(INCLUDED):
        if rel.startswith("core/results/"):
            continue
        for line, lit, _ in code_literals(open(os.path.join(ROOT, rel), errors="replace").read()):
            for name, pat in patterns:
                if pat.search(lit):
                    out.append((rel, line, name))
    return out


COLUMN_TABLES = (("core/results/metrics.c", "nl_metrics_columns"), ("core/results/series.c", "nl_series_columns"))
# a call of a column lookup up to the literal: nl_csv_table_col(&t, | field(row,
LOOKUP = re.compile(r"\b(\w*_col|field)\s*\([^;()\"]*,\s*$")


def results_column_names():
    """metrics.csv's and series.csv's column names, from the tables results/
    writes them by"""
    names = set()
    for rel, table in COLUMN_TABLES:
        text = open(os.path.join(ROOT, rel)).read()
        body = re.search(r"\b%s\[[^]]*\]\s*=\s*\{(.*?)\};" % table, text, re.S)
        if not body:
            sys.exit("%s: no table %s to read the column names from" % (rel, table))
        names.update(re.findall(r'"([^"]+)"', body.group(1)))
    return names


def stray_column_names():
    """(file, line, name) of each column lookup outside core/results/ that
    spells a metrics.csv or series.csv column name"""
    names = results_column_names()
    out = []
    for rel in sources():
        if rel.startswith("core/results/"):
            continue
        text = open(os.path.join(ROOT, rel), errors="replace").read()
        for line, lit, at in code_literals(text):
            if lit in names and LOOKUP.search(text[text.rfind("\n", 0, at) + 1:at]):
                out.append((rel, line, lit))
    return out


SUMMARY_KEYS_H = "core/results/summary_keys.h"
# a JSON call up to the literal key: nl_json_flat_get(json, | nl_json_int(&j,
JSON_KEY = re.compile(r"\bnl_json_\w+\s*\([^;()\"]*,\s*$")


def summary_names():
    """summary.json's keys and summary.csv's columns: #define NL_... "name"
    in core/results/summary_keys.h"""
    text = open(os.path.join(ROOT, SUMMARY_KEYS_H)).read()
    names = set(re.findall(r'^#define NL_\w+ "([^"]+)"', text, re.M))
    if not names:
        sys.exit("%s: no #define NL_... \"name\" lines to read the keys from" % SUMMARY_KEYS_H)
    return names


def stray_summary_names():
    """(file, line, name) of each literal outside core/results/ that spells
    a summary.json key or summary.csv column: a multi-word one anywhere, a
    one-word one as a JSON key or a looked-up column"""
    names = summary_names()
    out = []
    for rel in sources(INCLUDED):
        if rel.startswith("core/results/"):
            continue
        text = open(os.path.join(ROOT, rel), errors="replace").read()
        for line, lit, at in code_literals(text):
            if lit not in names:
                continue
            before = text[text.rfind("\n", 0, at) + 1:at]
            if "_" in lit or JSON_KEY.search(before) or LOOKUP.search(before):
                out.append((rel, line, lit))
    return out


def read_allowed(path):
    functions, cycles, folders, declared, layouts = set(), [], [], set(), set()
    for line in open(path):
        words = line.split("#")[0].split()
        if not words:
            continue
        if words[0] == "function" and len(words) == 3:
            functions.add((words[1], words[2]))
        elif words[0] == "cycle" and len(words) >= 3:
            cycles.append(frozenset(words[1:]))
        elif words[0] == "folders" and len(words) >= 3:
            if "#" not in line or not line.split("#", 1)[1].strip():
                sys.exit("%s: '%s': a folder cycle is allowed only with its reason after '#'"
                         % (path, line.strip()))
            folders.append(frozenset(words[1:]))
        elif words[0] == "declared" and len(words) == 3:
            if "#" not in line or not line.split("#", 1)[1].strip():
                sys.exit("%s: '%s': a function defined in another folder than its header's is allowed "
                         "only with its reason after '#'" % (path, line.strip()))
            declared.add((words[1], words[2]))
        elif words[0] == "layout" and len(words) == 3:
            if "#" not in line or not line.split("#", 1)[1].strip():
                sys.exit("%s: '%s': a layer deciding a layout or storage type is allowed only "
                         "with its reason after '#'" % (path, line.strip()))
            layouts.add((words[1], words[2]))
        else:
            sys.exit("%s: '%s': expected 'function FILE NAME', 'cycle MODULE MODULE...', "
                     "'folders FOLDER FOLDER... # reason', 'declared HEADER FUNCTION # reason' or "
                     "'layout FILE FUNCTION # reason'"
                     % (path, line.strip()))
    return functions, cycles, folders, declared, layouts


def check(path, limit):
    allowed_functions, allowed_cycles, allowed_folders, allowed_declared, allowed_layouts = \
        read_allowed(path)
    decisions = layout_decisions()
    foreign = foreign_definitions()
    fns = long_functions(limit)
    cycles = include_cycles()
    knots = folder_cycles()
    new = ["file over %d lines: %s (%d lines)" % (FILE_LIMIT, rel, n) for n, rel in long_files()]
    new += ["function over %d lines: %s %s (%d lines)" % (limit, rel, name, n)
            for n, rel, name in fns if (rel, name) not in allowed_functions]
    new += ["include cycle: " + " <-> ".join(c)
            for c in cycles if not any(set(c) <= a for a in allowed_cycles)]
    new += ["folder cycle: " + " <-> ".join(c)
            for c in knots if not any(set(c) <= a for a in allowed_folders)]
    new += ["%s:%d: declares %s, which %s defines%s: declare it in that folder's header, or define it in %s/"
            % (rel, line, name, ", ".join(where), "" if len(where) == 1 else " (all of them outside its folder)",
               os.path.dirname(rel)) for rel, line, name, where in foreign if (rel, name) not in allowed_declared]
    new += ["%s:%d: includes %s, another folder's internal header: give it a public one"
            % (rel, line, inc) for rel, line, inc in foreign_internal_includes()]
    new += ["%s:%d: spells %s, a name of %s: use its macro" % (rel, line, name, FILES_H)
            for rel, line, name in stray_file_names()]
    new += ["%s:%d: looks up column '%s' by its name: use results/'s nl_metrics_col or nl_series_col"
            % (rel, line, name) for rel, line, name in stray_column_names()]
    new += ["%s:%d: spells '%s', a summary.json key or summary.csv column: use its macro in %s"
            % (rel, line, name, SUMMARY_KEYS_H) for rel, line, name in stray_summary_names()]
    new += ["%s:%d: %s %s, which the plan's passes decide (core/plan/): the layers receive it"
            % (rel, line, name, what) for rel, line, name, what in decisions
            if (rel, name) not in allowed_layouts]
    for rel, name in sorted(allowed_layouts - {(rel, name) for rel, _, name, _ in decisions}):
        print("%s: layout %s %s decides nothing now: delete its line" % (path, rel, name))
    present = {(rel, name) for _, rel, name in fns}
    for rel, name in sorted(allowed_functions - present):
        print("%s: function %s %s is no longer over %d lines: delete its line" % (path, rel, name, limit))
    for a in allowed_cycles:
        if not any(set(c) <= a for c in cycles):
            print("%s: cycle %s is gone: delete its line" % (path, " ".join(sorted(a))))
    for a in allowed_folders:
        if not any(set(c) <= a for c in knots):
            print("%s: folder cycle %s is gone: delete its line" % (path, " ".join(sorted(a))))
    for rel, name in sorted(allowed_declared - {(rel, name) for rel, _, name, _ in foreign}):
        print("%s: declared %s %s: its folder defines it now, or nothing does: delete its line" % (path, rel, name))
    for line in new:
        print("new in the house (split it, or break the cycle; see %s): %s" % (path, line))
    return 1 if new else 0


def main():
    global ROOT
    if "--root" in sys.argv:
        ROOT = os.path.abspath(sys.argv[sys.argv.index("--root") + 1])
    limit = int(sys.argv[sys.argv.index("--limit") + 1]) if "--limit" in sys.argv else 80
    if "--check" in sys.argv:
        sys.exit(check(sys.argv[sys.argv.index("--check") + 1], limit))
    files = long_files()
    print("files over %d lines in core/ and cmd/: %d" % (FILE_LIMIT, len(files)))
    for n, rel in files:
        print("  %4d  %s" % (n, rel))
    fns = long_functions(limit)
    print("functions over %d lines in core/ and cmd/ (kernels aside): %d" % (limit, len(fns)))
    if "--list" in sys.argv:
        for n, rel, name in fns:
            print("  %4d  %s  %s" % (n, rel, name))
    cycles = include_cycles()
    print("include cycles between modules: %d" % len(cycles))
    for c in cycles:
        print("  " + " <-> ".join(c))
    knots = folder_cycles()
    print("include cycles between folders: %d" % len(knots))
    for c in knots:
        print("  " + " <-> ".join(c))
    elsewhere = foreign_definitions()
    print("functions declared in a header of one folder and defined in another: %d" % len(elsewhere))
    for rel, line, name, where in elsewhere:
        print("  %s:%d  %s  (%s)" % (rel, line, name, ", ".join(where)))
    foreign = foreign_internal_includes()
    print("includes of another folder's internal header: %d" % len(foreign))
    for rel, line, inc in foreign:
        print("  %s:%d  %s" % (rel, line, inc))
    stray = stray_file_names()
    print("run directory file names spelled outside core/results/: %d" % len(stray))
    for rel, line, name in stray:
        print("  %s:%d  %s" % (rel, line, name))
    columns = stray_column_names()
    print("metrics.csv and series.csv columns looked up by name outside core/results/: %d" % len(columns))
    for rel, line, name in columns:
        print("  %s:%d  %s" % (rel, line, name))
    decisions = layout_decisions()
    print("layouts and storage types a layer or the builder decides: %d" % len(decisions))
    for rel, line, name, what in decisions:
        print("  %s:%d  %s  %s" % (rel, line, name, what))
    keys = stray_summary_names()
    print("summary.json keys and summary.csv columns spelled outside core/results/: %d" % len(keys))
    for rel, line, name in keys:
        print("  %s:%d  %s" % (rel, line, name))


if __name__ == "__main__":
    main()
