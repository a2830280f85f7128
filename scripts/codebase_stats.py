#!/usr/bin/env python3
"""codebase_stats.py - the figures of issue 16, from one command, so a
"before" and an "after" are measured the same way.

Usage:
    scripts/codebase_stats.py [--root DIR] [--lib build/core/libgnarl_core.a] [--layout DIR]

Prints: C files and lines per folder; the layering facts of layers.py
(upward includes and uses, include and dependency cycles; --lib for the
latter); the functions core's trainer.h exports; the code lines (not blank,
not comment) of each reward term and of the SDK's example; and the pairs the
`duplicates` tool finds in core/ and plugins/ (when it is installed).
--layout DIR takes the layer of each file from another tree (to measure a
tree whose core/ is flat against the layers of this one).
"""
import argparse
import os
import re
import shutil
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import layers  # noqa: E402

COMMENT = re.compile(r'/\*.*?\*/|//[^\n]*', re.S)
PROTOTYPE = re.compile(r'\b(gnarl_\w+)\s*\([^;{}]*\)\s*(__attribute__\s*\(\(.*?\)\)\s*)?;', re.S)


def c_files(root):
    for top in ('core', 'plugins', 'sdk', 'tests', 'fuzz'):
        for p in layers.files_under(root, top):
            yield p


def line_count(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        return sum(1 for _ in f)


def code_lines(path):
    with open(path, encoding='utf-8', errors='replace') as f:
        text = COMMENT.sub(lambda m: '\n' * m.group(0).count('\n'), f.read())
    return sum(1 for line in text.splitlines() if line.strip())


def per_folder(root):
    folders = {}
    for p in c_files(root):
        d = os.path.dirname(p)
        n, lines = folders.get(d, (0, 0))
        folders[d] = (n + 1, lines + line_count(os.path.join(root, p)))
    return folders


def exported(root, header):
    paths = [p for p in layers.core_files(root) if os.path.basename(p) == header]
    if not paths:
        return []
    with open(os.path.join(root, paths[0]), encoding='utf-8') as f:
        text = COMMENT.sub(' ', f.read())
    return sorted({m.group(1) for m in PROTOTYPE.finditer(text)})


def duplicates(root, sub):
    tool = shutil.which('duplicates')
    if not tool:
        return 'not measured (the duplicates tool is not installed)'
    out = subprocess.run([tool, '--repo', os.path.join(root, sub), '--most', '200',
                          '--seconds', '120'], capture_output=True, text=True).stdout
    first = out.splitlines()[0] if out else ''
    m = re.match(r'(\d+) pairs? of places.*?\((\d+) by shape alone(?:, (\d+) of those marked '
                 r'boilerplate)?', first)
    if first.startswith('no duplicates'):
        return '0 pairs'
    if not m:
        return first or 'no answer'
    pairs, shape, boiler = int(m.group(1)), int(m.group(2)), int(m.group(3) or 0)
    return '%d pairs: %d identical, %d alike in shape (%d of those boilerplate)' % (
        pairs, pairs - shape, shape, boiler)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--root', default=os.path.join(os.path.dirname(__file__), '..'))
    ap.add_argument('--lib', action='append', default=[])
    ap.add_argument('--layout')
    a = ap.parse_args()
    root = os.path.abspath(a.root)

    print('== C files and lines per folder')
    folders = per_folder(root)
    for d in sorted(folders):
        print('%-40s %4d files %6d lines' % (d, *folders[d]))
    for top in ('core', 'plugins'):
        n = sum(v[0] for d, v in folders.items() if d == top or d.startswith(top + '/'))
        lines = sum(v[1] for d, v in folders.items() if d == top or d.startswith(top + '/'))
        print('%-40s %4d files %6d lines' % (top + '/ (all)', n, lines))
    over = sorted((line_count(os.path.join(root, p)), p) for p in c_files(root)
                  if line_count(os.path.join(root, p)) > 800)
    print('files over 800 lines: %d %s' % (len(over), ', '.join('%s (%d)' % (p, n)
                                                               for n, p in over)))

    print('\n== layering (scripts/layers.py)')
    f = layers.analyse(root, a.lib, a.layout and os.path.abspath(a.layout))
    print('layers: %s' % ' < '.join(f['order'] or ['?']))
    print('upward includes: %d' % len(f['upward_includes']))
    for u in f['upward_includes']:
        print('  ' + u)
    print('upward uses: %d' % len(f['upward_uses']))
    for u in f['upward_uses']:
        print('  ' + u)
    print('header include cycles: %d' % len(f['include_cycles']))
    if a.lib:
        print('dependency cycles (what the linker sees): %d' % len(f['use_cycles']))
        for c in f['use_cycles']:
            print('  ' + ' <-> '.join(c))
            for e in f['use_cycle_edges'][tuple(c)]:
                print('      ' + e)
    else:
        print('dependency cycles: not measured (give --lib build/core/libgnarl_core.a)')
    for name in ('plugin.h', 'plugin_host.h'):
        if any(os.path.basename(p) == name for p in layers.core_files(root)):
            clash = os.path.exists(os.path.join(root, 'sdk/include/gnarl', name))
            print('core header %s%s' % (name, ' (clashes with <gnarl/%s>)' % name if clash
                                        else ''))

    print('\n== functions exported by trainer.h')
    names = exported(root, 'trainer.h')
    print('%d: %s' % (len(names), ' '.join(names)))

    print('\n== code lines of each reward term (not blank, not comment)')
    rewards = os.path.join(root, 'plugins', 'rewards')
    total = 0
    for n in sorted(os.listdir(rewards)):
        if n.endswith(('.c', '.h')):
            c = code_lines(os.path.join(rewards, n))
            total += c if n.endswith('.c') else 0
            print('%-28s %4d' % (n, c))
    print('%-28s %4d' % ('(the nine .c together)', total))
    for extra in ('sdk/examples/reward_template/reward_rupees.c', 'sdk/include/gnarl/reward.h'):
        if os.path.exists(os.path.join(root, extra)):
            print('%-28s %4d' % (os.path.basename(extra), code_lines(os.path.join(root, extra))))

    print('\n== duplicates (pairs of places sharing 6+ lines)')
    for sub in ('core', 'plugins', 'plugins/rewards'):
        print('%-16s %s' % (sub + '/', duplicates(root, sub)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
