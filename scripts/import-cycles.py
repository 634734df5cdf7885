#!/usr/bin/env python3
"""Import cycles between the files of a Rust crate's `src/`, and imports that point
upwards from the bottom layers.

Usage: scripts/import-cycles.py [SRC_DIR]   (default: delivery/src)

An edge A -> B means a path in A (a `use`, or an inline `crate::…`/`super::…`/
`self::…` path) names an item of B; a path resolves to the deepest module file it
reaches (`crate::route::walker::walk` -> route/walker.rs, `crate::model::Rule` ->
model/mod.rs). `mod x;` declarations are not edges. Prints every strongly connected
component with more than one file, and exits 1 if there is one, or if a file under
store/ or model/ imports a step module.
"""
import os
import re
import sys

STEPS = {"api", "dispatch", "issues", "alerts", "bulk_retry", "route", "transform",
         "ingest", "cli", "dashboard", "monitor", "destinations", "catalog"}
BOTTOM = ("store", "model")


def module_of(rel):
    parts = rel[:-3].split("/")
    if parts[-1] in ("mod", "lib", "main"):
        parts = parts[:-1]
    return parts


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "delivery/src"
    files = {}
    for root, _, names in os.walk(src):
        for n in names:
            if n.endswith(".rs"):
                rel = os.path.relpath(os.path.join(root, n), src)
                if rel.startswith("bin/") or rel == "main.rs":
                    continue
                files[tuple(module_of(rel))] = rel

    def resolve(mod):
        for i in range(len(mod), -1, -1):
            if tuple(mod[:i]) in files:
                return files[tuple(mod[:i])]
        return None

    path_re = re.compile(r"\b(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)+)")
    group_re = re.compile(r"\buse\s+(crate|super|self)((?:::[A-Za-z_][A-Za-z0-9_]*)*)::\{([^;]*)\};", re.S)
    edges = {rel: set() for rel in files.values()}
    for mod, rel in files.items():
        text = open(os.path.join(src, rel)).read()
        # Test modules may import anything; they are not part of the layering.
        text = re.split(r"#\[cfg\(test\)\]\s*mod tests", text)[0]
        text = re.sub(r"//[^\n]*", "", text)
        here = list(mod)
        # A file's `super` is its parent module; for `x/mod.rs` that is x's parent.

        def absolute(head, tail):
            segs = [s for s in tail.split("::") if s]
            if head == "crate":
                base = []
            elif head == "self":
                base = here[:]
            else:
                base = here[:-1]
                while segs and segs[0] == "super":
                    base = base[:-1]
                    segs = segs[1:]
            return base + segs

        targets = []
        for m in group_re.finditer(text):
            prefix = absolute(m.group(1), m.group(2))
            for item in re.split(r",", re.sub(r"\{[^}]*\}", "", m.group(3))):
                item = item.strip().split(" as ")[0].strip()
                if item and item != "self":
                    targets.append(prefix + item.split("::"))
                elif item == "self":
                    targets.append(prefix)
            for inner in re.finditer(r"(\w+)::\{([^}]*)\}", m.group(3)):
                for item in inner.group(2).split(","):
                    item = item.strip().split(" as ")[0].strip()
                    if item:
                        targets.append(prefix + [inner.group(1), item])
        for m in path_re.finditer(group_re.sub("", text)):
            targets.append(absolute(m.group(1), m.group(2)))
        for t in targets:
            dest = resolve(t)
            if dest and dest != rel:
                edges[rel].add(dest)

    index, low, stack, on, sccs = {}, {}, [], set(), []
    counter = [0]

    def strong(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in edges[v]:
            if w not in index:
                strong(w)
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

    sys.setrecursionlimit(10000)
    for v in sorted(edges):
        if v not in index:
            strong(v)
    print(f"{len(files)} files, {sum(len(e) for e in edges.values())} import edges")
    print(f"import cycles: {len(sccs)}")
    for c in sorted(sccs, key=len, reverse=True):
        print(f"  {len(c)} files: " + ", ".join(c))
    upward = []
    for rel, outs in sorted(edges.items()):
        if rel.split("/")[0] in BOTTOM or rel[:-3] in BOTTOM:
            for d in sorted(outs):
                top = d.split("/")[0].removesuffix(".rs")
                if top in STEPS:
                    upward.append(f"{rel} -> {d}")
    print(f"store/model importing a step module: {len(upward)}")
    for u in upward:
        print("  " + u)
    return 1 if sccs or upward else 0


if __name__ == "__main__":
    sys.exit(main())
