#!/usr/bin/env python3
"""The import graph of rawtask's modules, one node per file under src/.

An edge a -> b means a names b: a `crate::`, `super::` or `self::` path (in a `use` or inline,
comments and unit tests left out) that resolves to the file of b, following `pub use`
re-exports to the file that defines the item. A parent declaring its own children is the
module tree, not an import, and is left out. Prints the pairs of files that import each
other, the cycles (strongly connected components), and the edges from the core to a layer;
each line reads `none` when the house rules hold.

    python3 .ci/import-graph.py [src] [-v: every file's edges] [-w: with the paths behind them]
"""
import os, re, sys
root = sys.argv[1] if len(sys.argv) > 1 else 'src'
files = {}
for d, _, fs in os.walk(root):
    for f in fs:
        if f.endswith('.rs'):
            p = os.path.join(d, f)
            rel = os.path.relpath(p, root)[:-3]
            parts = rel.split('/')
            if parts[-1] in ('mod', 'lib'):
                parts = parts[:-1]
            files[tuple(parts)] = p
def resolve(path):
    # longest prefix of path that is a module file
    for n in range(len(path), -1, -1):
        if tuple(path[:n]) in files:
            return tuple(path[:n])
    return None
def strip_comments(src):
    # Doc strings in attributes (`doc = "[`x`]: crate::x"`, intra-doc link targets) and other
    # string literals name paths without importing them: blank them first.
    src = re.sub(r'"(?:[^"\\]|\\.)*"', '""', src, flags=re.S)
    out = []
    for line in src.split('\n'):
        s = line.strip()
        if s.startswith('//'):
            continue
        out.append(re.sub(r'//.*', '', line))
    return '\n'.join(out)
def expand_use(body):
    # expand a::{b, c::{d}} into paths
    body = body.strip()
    m = re.match(r'^(.*?)\{(.*)\}$', body, re.S)
    if not m:
        return [body]
    prefix, inner = m.group(1), m.group(2)
    items, depth, cur = [], 0, ''
    for ch in inner:
        if ch == '{': depth += 1
        if ch == '}': depth -= 1
        if ch == ',' and depth == 0:
            items.append(cur); cur = ''
        else:
            cur += ch
    items.append(cur)
    res = []
    for it in items:
        it = it.strip()
        if it:
            res += expand_use(prefix + it)
    return res
edges = {}
why = {}
def absolute(mod, path):
    segs = [x for x in path.split('::') if x]
    while segs and segs[-1] == 'self' and len(segs) > 1: segs = segs[:-1]
    if not segs: return None
    if segs[0] == 'crate': return segs[1:]
    if segs[0] in ('super', 'self'):
        cur = list(mod)
        while segs and segs[0] in ('super', 'self'):
            if segs[0] == 'super': cur = cur[:-1]
            segs = segs[1:]
        return cur + segs
    return None
# item re-exports: module -> {name: absolute path}
reexports = {}
for mod, p in files.items():
    src = strip_comments(open(p).read())
    src = re.split(r'#\[cfg\(test\)\]\s*mod tests', src)[0]
    for m in re.finditer(r'\bpub(?:\([^)]*\))?\s+use\s+([^;]+);', src):
        for path in expand_use(m.group(1)):
            path = path.strip()
            alias = None
            am = re.match(r'^(.*?)\s+as\s+(\w+)$', path)
            if am: path, alias = am.group(1), am.group(2)
            full = absolute(mod, path)
            if full:
                reexports.setdefault(mod, {})[alias or full[-1]] = full
def resolve_item(full, depth=0):
    r = resolve(full)
    if r is None or depth > 10: return r
    rest = full[len(r):]
    if rest and rest[0] in reexports.get(r, {}):
        target = reexports[r][rest[0]] + rest[1:]
        r2 = resolve_item(target, depth + 1)
        if r2 is not None: return r2
    return r
for mod, p in files.items():
    src = strip_comments(open(p).read())
    # an inline `mod tests` has its own `super`: leave unit tests out of the graph
    src = re.split(r'#\[cfg\(test\)\]\s*mod tests', src)[0]
    paths = []
    for m in re.finditer(r'\buse\s+([^;]+);', src):
        paths += expand_use(m.group(1))
    paths += re.findall(r'\b((?:crate|super|self)(?:::\w+)+)', src)
    base = list(mod)
    tgt = set()
    for path in paths:
        path = re.sub(r'\s+as\s+\w+$', '', path.strip())
        segs = [s for s in path.split('::') if s]
        while segs and segs[-1] == 'self' and len(segs) > 1: segs = segs[:-1]
        if not segs: continue
        if segs[0] == 'crate':
            full = segs[1:]
        elif segs[0] in ('super', 'self'):
            cur = list(base)
            while segs and segs[0] in ('super', 'self'):
                if segs[0] == 'super': cur = cur[:-1]
                segs = segs[1:]
            full = cur + segs
        else:
            continue
        r = resolve_item(full)
        if r is not None and r != mod and r != ():
            # ignore edges to own ancestors' mod.rs when only via re-export? keep them
            tgt.add(r)
            why.setdefault((mod, r), set()).add(path)
    edges[mod] = tgt
name = lambda m: '/'.join(m) or 'lib'
# A parent module declaring and re-exporting its children is the module tree, not an import:
# drop parent -> own child edges, so that a child reaching back through the parent's
# re-exports shows up as a cycle with nothing to hide behind.
for m in edges:
    edges[m] = {t for t in edges[m] if not (len(t) == len(m) + 1 and t[:len(m)] == m)}
if '-w' in sys.argv:
    for (a, b), ps in sorted(why.items()):
        if b in edges[a]:
            print(name(a), '->', name(b), ':', ' '.join(sorted(ps)))
if '-v' in sys.argv:
    for m in sorted(edges):
        print(name(m), '->', ', '.join(sorted(name(t) for t in edges[m])))
# cycles: pairs and longer, via Tarjan SCC
idx = {}; low = {}; st = []; on = set(); sccs = []; c = [0]
sys.setrecursionlimit(10000)
def sc(v):
    idx[v] = low[v] = c[0]; c[0] += 1; st.append(v); on.add(v)
    for w in edges.get(v, ()):
        if w not in idx:
            sc(w); low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], idx[w])
    if low[v] == idx[v]:
        comp = []
        while True:
            w = st.pop(); on.discard(w); comp.append(w)
            if w == v: break
        if len(comp) > 1: sccs.append(comp)
for v in edges:
    if v not in idx: sc(v)
pairs = sorted({tuple(sorted((name(a), name(b)))) for a in edges for b in edges[a] if a in edges.get(b, ())})
print('mutual pairs:', pairs or 'none')
# cycles ignoring edges to ancestor modules (a child naming its parent's re-exports)
print('cycles (SCCs):', [sorted(name(m) for m in s) for s in sccs] or 'none')
# The core (and the crate-private helpers it shares with the layers), and the layers on top.
core = {'raw', 'runnable', 'task', 'builder', 'schedule', 'schedule_info', 'sync', 'identity',
        'storage', 'abort', 'panic'}
layers = {'capi', 'ffi', 'background', 'scope', 'cancel', 'compat', 'home'}
bad = []
for m, ts in edges.items():
    if m and m[0] in core:
        for t in ts:
            if t and t[0] in layers:
                bad.append((name(m), name(t)))
print('core -> layer edges:', sorted(bad) or 'none')
# A non-zero exit for CI when a house rule is broken.
sys.exit(1 if pairs or sccs or bad else 0)
