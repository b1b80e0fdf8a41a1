#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Compare the kernel's mm selftests run plain and under a default key.

The guest runs each mm selftest NAME twice: as mm/NAME and, with every
anonymous page under a default MKTME key, as mm-keyed/NAME.  Keyed, each
must give the same results: the same top-level result (ok, skip, not ok)
and the same totals line.  Prints one line per difference, then

    mm selftests: keyed/plain wall time ratio R (plain P s, keyed K s)

(a figure, not a test: make bench measures performance).

    mm-selftests.py CONSOLE_LOG [--counts FILE]

--counts writes "passed failed skipped": a pair that agrees passes, one
that differs fails, a test run only one way (MKTME_TESTS) is skipped.
"""
import argparse
import re
import sys

RETRY = re.compile(r'^\s+# MKTME-RETRY: (\S+) failed \(exit (\d+)\)')
RESULT = re.compile(r'^(ok|not ok) \d+ (mm(?:-keyed)?)/(\S+)(.*)$')
TOTALS = re.compile(r'^\s+(?:# )+Totals: (.*)$')
WALL = re.compile(r'^mktme-init: mm selftests wall time: plain (\d+) ms, keyed (\d+) ms')


def parse(path):
    """{(kind, name): (result, totals)} and the wall times."""
    runs, totals, wall = {}, None, None
    with open(path, errors='replace') as f:
        for line in f:
            line = line.rstrip('\n')
            if m := RETRY.match(line):
                print(f'mm selftests: {m.group(1)} failed once (exit {m.group(2)}) '
                      'and was run again')
                totals = None
            elif m := TOTALS.match(line):
                totals = m.group(1)         # the last one before the result
            elif m := RESULT.match(line):
                res = m.group(1)
                if '# SKIP' in m.group(4):
                    res = 'skip'
                runs[(m.group(2), m.group(3))] = (res, totals)
                totals = None
            elif re.match(r'^(ok|not ok) \d+ ', line):
                totals = None
            elif m := WALL.match(line):
                wall = (int(m.group(1)), int(m.group(2)))
    return runs, wall


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('console')
    ap.add_argument('--counts')
    args = ap.parse_args()
    runs, wall = parse(args.console)
    names = sorted({name for _, name in runs})
    passed = failed = skipped = 0
    for name in names:
        plain, keyed = runs.get(('mm', name)), runs.get(('mm-keyed', name))
        if not plain or not keyed:
            skipped += 1
            continue
        if plain == keyed:
            passed += 1
            continue
        failed += 1
        print(f'mm selftests: {name}: plain {plain or "not run"}, keyed {keyed or "not run"}')
    if wall and wall[0]:
        print(f'mm selftests: keyed/plain wall time ratio {wall[1] / wall[0]:.2f} '
              f'(plain {wall[0] / 1000:.1f} s, keyed {wall[1] / 1000:.1f} s)')
    elif names:
        print('mm selftests: no wall times in the console log')
    if args.counts:
        with open(args.counts, 'w') as f:
            f.write(f'{passed} {failed} {skipped}\n')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
