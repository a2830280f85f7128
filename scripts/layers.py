#!/usr/bin/env python3
"""layers.py - the core's layering, checked: no include pointing up a layer,
no file depending on a file of a higher layer, no dependency cycle.

Usage:
    scripts/layers.py [--root DIR] [--lib LIBRARY.a]... [--nm NM] [--layout DIR] check
    scripts/layers.py [--root DIR] [--lib LIBRARY.a]... [--nm NM] [--layout DIR] report

The layer order is read from docs/architecture.md (the one line of the form
`core/base < core/config < ... < core/cmd`), so the check and the docs
cannot disagree.  A file's layer is its folder: core/<layer>/<file>.

What is checked (`check` exits 1 and says what and where on any failure):
  - every `#include "x.h"` of a core file names a core header of its own
    layer or a lower one; core header basenames are unique and none is
    also the name of an SDK header (<gnarl/x.h>);
  - no plugin or SDK file includes a core header (plugins link nothing of
    gnarl);
  - headers include each other without a cycle;
  - with --lib: every function or object a core file uses from another
    core file (as the linker sees it: `nm` of the static library) is
    defined in its own layer or a lower one, and these uses form no cycle.
    One use is not a dependency: the command table in cmd/cli.c calls the
    commands it lists (gnarl_cmd_*), which call cli.c's helpers back.

`report` prints the same facts without failing.  --layout DIR takes the
layer order and each file's layer (by basename) from another tree: for a
flat core/ (the figures before the layer folders existed).
"""
import argparse
import collections
import os
import re
import subprocess
import sys

LAYER_LINE = re.compile(r'^\s*core/(\w+)(\s*<\s*core/\w+)+\s*$')
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"', re.M)
DISPATCH = ('cli.c', 'gnarl_cmd_')  # the command table's calls into the commands
SOURCE_EXT = ('.c', '.h')


def layer_order(root):
    doc = os.path.join(root, 'docs', 'architecture.md')
    try:
        with open(doc, encoding='utf-8') as f:
            for line in f:
                if LAYER_LINE.match(line):
                    return [p.strip()[len('core/'):] for p in line.split('<')]
    except OSError:
        pass
    return None


def core_files(root):
    """Every .c/.h under core/, as paths relative to root."""
    out = []
    for d, _, names in os.walk(os.path.join(root, 'core')):
        for n in sorted(names):
            if n.endswith(SOURCE_EXT):
                out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)


def files_under(root, top):
    out = []
    for d, _, names in os.walk(os.path.join(root, top)):
        for n in sorted(names):
            if n.endswith(SOURCE_EXT):
                out.append(os.path.relpath(os.path.join(d, n), root))
    return sorted(out)


def includes(root, path):
    with open(os.path.join(root, path), encoding='utf-8', errors='replace') as f:
        text = f.read()
    return [(text.count('\n', 0, m.start()) + 1, m.group(1)) for m in INCLUDE.finditer(text)]


def folder_layer(path):
    parts = path.split(os.sep)
    return parts[1] if len(parts) == 3 and parts[0] == 'core' else None


class Layout:
    """Which layer each core file is in, and the order of the layers."""

    def __init__(self, root, layout_root=None):
        self.order = layer_order(layout_root or root)
        self.by_name = {}
        src = layout_root or root
        for p in core_files(src):
            lay = folder_layer(p)
            if lay:
                self.by_name[os.path.basename(p)] = lay
        for p in core_files(root):
            lay = folder_layer(p)
            if lay and not layout_root:
                self.by_name[os.path.basename(p)] = lay

    def layer(self, name):
        """The layer of a file by basename: its own, else its .c/.h twin's."""
        name = os.path.basename(name)
        if name in self.by_name:
            return self.by_name[name]
        stem, ext = os.path.splitext(name)
        return self.by_name.get(stem + ('.c' if ext == '.h' else '.h'))

    def rank(self, name):
        lay = self.layer(name)
        return self.order.index(lay) if self.order and lay in self.order else None


def sccs(graph):
    """Strongly connected components with more than one node, sorted."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]
    sys.setrecursionlimit(100000)

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
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
                out.append(sorted(comp))

    nodes = set(graph) | {w for ws in graph.values() for w in ws}
    for v in sorted(nodes):
        if v not in index:
            visit(v)
    return sorted(out)


def symbol_uses(libs, nm='nm'):
    """{file.c: {other.c: [symbols]}} from nm of static libraries."""
    defs, uses = {}, collections.defaultdict(set)
    for lib in libs:
        # nm of an archive: "name.c.o:" opens each member's symbols.
        out = subprocess.run([nm, lib], capture_output=True, text=True, check=True).stdout
        src = None
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 1 and parts[0].endswith(':'):
                src = parts[0][:-1]
                src = src[:-2] if src.endswith('.o') else src
            elif src and len(parts) == 3 and parts[1] in 'TDBRVW':
                defs[parts[2]] = src
            elif src and len(parts) == 2 and parts[0] == 'U':
                uses[src].add(parts[1])
    graph = collections.defaultdict(lambda: collections.defaultdict(list))
    for src, syms in uses.items():
        for s in sorted(syms):
            dst = defs.get(s)
            if not dst or dst == src:
                continue
            if src == DISPATCH[0] and s.startswith(DISPATCH[1]):
                continue
            graph[src][dst].append(s)
    return graph


def analyse(root, libs, layout_root=None, nm='nm'):
    lay = Layout(root, layout_root)
    facts = {'order': lay.order, 'problems': [], 'upward_includes': [], 'upward_uses': [],
             'include_cycles': [], 'use_cycles': [], 'unplaced': []}
    problems = facts['problems']
    if not lay.order:
        problems.append('docs/architecture.md: no layer line (core/base < core/config < ...)')
    files = core_files(root)
    headers = collections.defaultdict(list)
    for p in files:
        if p.endswith('.h'):
            headers[os.path.basename(p)].append(p)
        if lay.order and lay.layer(p) not in lay.order:
            facts['unplaced'].append(p)
    for name, paths in sorted(headers.items()):
        if len(paths) > 1:
            problems.append('header name %s is used twice: %s (includes go by basename)'
                            % (name, ', '.join(paths)))
        if os.path.exists(os.path.join(root, 'sdk', 'include', 'gnarl', name)):
            problems.append('%s has the name of the SDK header <gnarl/%s>: rename it'
                            % (paths[0], name))
    for p in facts['unplaced']:
        problems.append('%s: not in a layer folder (core/<layer>/, layers: %s)'
                        % (p, ' < '.join(lay.order)))

    # Includes of core files.
    inc_graph = collections.defaultdict(set)
    for p in files:
        for line, target in includes(root, p):
            name = os.path.basename(target)
            if name not in headers:
                continue
            if p.endswith('.h'):
                inc_graph[p].add(headers[name][0])
            a, b = lay.rank(p), lay.rank(name)
            if a is not None and b is not None and b > a:
                facts['upward_includes'].append('%s:%d includes %s (layer %s above %s)'
                                                % (p, line, target, lay.layer(name),
                                                   lay.layer(p)))
    facts['include_cycles'] = sccs(inc_graph)

    # Plugins and the SDK include no core header.
    for top in ('plugins', 'sdk'):
        for p in files_under(root, top):
            here = os.path.dirname(os.path.join(root, p))
            for line, target in includes(root, p):
                if os.path.exists(os.path.join(here, target)):
                    continue
                if os.path.basename(target) in headers:
                    problems.append('%s:%d includes the core header %s: plugins and the SDK '
                                    'use only <gnarl/...> headers' % (p, line, target))

    # What the linker sees.
    if libs:
        graph = symbol_uses(libs, nm)
        for src in sorted(graph):
            for dst, syms in sorted(graph[src].items()):
                a, b = lay.rank(src), lay.rank(dst)
                if a is not None and b is not None and b > a:
                    facts['upward_uses'].append('%s uses %s of %s (layer %s above %s)'
                                                % (src, ', '.join(syms), dst, lay.layer(dst),
                                                   lay.layer(src)))
        facts['use_cycles'] = sccs({k: set(v) for k, v in graph.items()})
        facts['use_cycle_edges'] = {
            tuple(c): ['%s -> %s: %s' % (a, b, ', '.join(graph[a][b]))
                       for a in c for b in c if b in graph.get(a, {})]
            for c in facts['use_cycles']}
    for u in facts['upward_includes'] + facts['upward_uses']:
        problems.append('points up a layer: ' + u)
    for c in facts['include_cycles']:
        problems.append('include cycle: ' + ' <-> '.join(c))
    for c in facts['use_cycles']:
        problems.append('dependency cycle: %s (%s)'
                        % (' <-> '.join(c), '; '.join(facts['use_cycle_edges'][tuple(c)])))
    return facts


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', default=os.path.join(os.path.dirname(__file__), '..'))
    ap.add_argument('--lib', action='append', default=[])
    ap.add_argument('--layout', help='take layers from this tree (for a flat core/)')
    ap.add_argument('--nm', default='nm', help='the nm program (binutils)')
    ap.add_argument('what', choices=['check', 'report'])
    a = ap.parse_args()
    for lib in a.lib:
        if not os.path.exists(lib):
            print('layers.py: %s does not exist (build first)' % lib, file=sys.stderr)
            return 2
    f = analyse(os.path.abspath(a.root), a.lib, a.layout and os.path.abspath(a.layout), a.nm)
    print('layers: %s' % (' < '.join(f['order'] or ['?'])))
    print('upward includes: %d, upward uses: %d, include cycles: %d, dependency cycles: %s'
          % (len(f['upward_includes']), len(f['upward_uses']), len(f['include_cycles']),
             len(f['use_cycles']) if a.lib else 'not checked (no --lib)'))
    for p in f['problems']:
        print(('error: ' if a.what == 'check' else '  ') + p)
    return 1 if a.what == 'check' and f['problems'] else 0


if __name__ == '__main__':
    sys.exit(main())
