#!/usr/bin/env python3
"""The layout rules of ikeheal, checked (make layout; a test of make check).

Floors, lowest first (ARCHITECTURE.md). A file may include, and call into, only files of its own
folder or of a lower floor; and no two files may depend on each other, directly or around a
circle, whether by calling what the other defines or by headers including each other.

  tests/layout/check.py OBJDIR      OBJDIR: the objects of a build (build/obj)

Source includes are read from the tree; calls from the objects' symbol tables (nm): a file that
uses a symbol another file defines depends on it. Prints each violation and exits 1 if any."""
import os
import re
import subprocess
import sys

FLOORS = [
    ("common/", 1),
    ("actions/", 2), ("policy/", 2),
    ("faults/", 3),
    ("agent/notify/", 4),
    ("agent/checks/", 5),
    ("agent/config/", 6),
    ("agent/triage/", 7),
    ("agent/engine/", 8),
    ("agent/fleet/", 8.5),  # the engine's gate (fleet slots), below the drills
    ("agent/drill/", 9),
    ("agent/guard/", 9.5),  # between the drills and the control socket
    ("agent/observe/", 9.5),
    ("agent/control/", 10),
    ("agent/verbs/", 11),
    ("agent/core/", 12),
    ("agent/main.c", 13),
    ("ctl/", 7),          # ikehealctl: a program of its own above the configuration
]
ROOTS = ["common", "actions", "policy", "faults", "agent", "ctl"]
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def place(path):
    for prefix, floor in FLOORS:
        if path == prefix or path.startswith(prefix):
            return prefix, floor
    return None, None


def unit(path):
    """A .c and its .h are one unit (a header belongs to the file it declares)."""
    return path[:-2] if path.endswith((".c", ".h")) else path


def allowed(src, dst):
    sp, sf = place(src)
    dp, df = place(dst)
    if sp is None or dp is None:
        return True
    return sp == dp or df < sf


def resolve(inc, here):
    for cand in (inc, os.path.join("common", inc), os.path.join(os.path.dirname(here), inc)):
        if os.path.isfile(cand):
            return os.path.normpath(cand)
    return None


def sources():
    for root in ROOTS:
        for d, _, files in os.walk(root):
            for f in sorted(files):
                if f.endswith((".c", ".h")):
                    yield os.path.join(d, f)


def circles(edges):
    """Strongly connected components of more than one unit (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    nodes = sorted(set(edges) | {d for v in edges.values() for d in v})
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, ()))))]
        index[root] = low[root] = counter[0]; counter[0] += 1
        stack.append(root); on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]; counter[0] += 1
                    stack.append(w); on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop(); on.discard(w); comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def symbols(objdir):
    """{unit: (defined, undefined)} from one nm over every object under objdir."""
    objs = []
    for d, _, files in os.walk(objdir):
        for f in files:
            if f.endswith(".o"):
                src = os.path.relpath(os.path.join(d, f), objdir)[:-2] + ".c"
                if place(src)[0] is not None:
                    objs.append(os.path.join(d, f))
    out = {os.path.relpath(o, objdir)[:-2]: (set(), set()) for o in objs}
    if not objs:
        return out
    nm = subprocess.run(["nm", "-A", "-g"] + sorted(objs), capture_output=True, text=True, check=True).stdout
    for line in nm.splitlines():
        path, _, rest = line.partition(":")
        fields = rest.split()
        if len(fields) < 2:
            continue
        u = os.path.relpath(path, objdir)[:-2]
        kind, name = fields[-2], fields[-1]
        (out[u][1] if kind == "U" else out[u][0]).add(name)
    return out


def main():
    objdir = sys.argv[1] if len(sys.argv) > 1 else "build/obj"
    problems = []
    inc_edges, why = {}, {}
    for path in sources():
        with open(path, encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                dst = resolve(m.group(1), path)
                if dst is None:
                    continue
                if not allowed(path, dst):
                    problems.append(f"{path}:{n}: includes {dst}, a higher floor ({place(dst)[0]} above {place(path)[0]})")
                if path.endswith(".h") and dst != path:
                    inc_edges.setdefault(path, set()).add(dst)
                    why.setdefault((path, dst), f"{path}:{n} includes {dst}")
    syms = symbols(objdir)
    owner = {}
    for u, (defined, _) in syms.items():
        for s in defined:
            owner.setdefault(s, u)
    call_edges = {}
    for u, (_, undefined) in syms.items():
        for s in undefined:
            o = owner.get(s)
            if o and o != u:
                call_edges.setdefault(u, set()).add(o)
                why.setdefault((u, o), f"{u}.c uses {s} of {o}.c")
                if not allowed(u + ".c", o + ".c"):
                    problems.append(f"{u}.c: calls {s} of {o}.c, a higher floor")
    edges = {}
    for e in (inc_edges, call_edges):
        for k, v in e.items():
            edges.setdefault(k, set()).update(v)
    for comp in circles(edges):
        ties = [why[(a, b)] for a in comp for b in sorted(edges.get(a, ())) if b in comp and (a, b) in why]
        problems.append("circle: " + ", ".join(comp) + "\n    " + "\n    ".join(ties))
    for p in sorted(set(problems)):
        print(p)
    print(f"layout: {len(syms)} units, {sum(len(v) for v in edges.values())} dependencies, "
          f"{len(set(problems))} violations")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
