#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make bench: what MKTME costs the kernel, measured on the model.

Boots the guest under QEMU -icount (shift=0: one nanosecond of guest time
per instruction, so results repeat run to run) and runs
bench/guest/mktme-bench.c.  The model encrypts in the emulator, outside
guest time: the numbers are the kernel's own work for MKTME (KeyID
bookkeeping, cache flushes, re-keying copies, PCONFIG, revocation), and
ratios against the same work without a key are what to compare.  On
hardware, CLFLUSH, WBINVD and PCONFIG cost far more than the one
instruction each is here.

    bench.py [--runs N] [--run DIR] [-- ARGS for mktme-bench]

Writes DIR/results.txt (default build/bench) and prints a table; with
N > 1 it also prints how far the runs differ.  Exit 0 when every run
completed.
"""
import argparse
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'scripts'))
from kernel_log import KERNEL_ERRORS  # noqa: E402
LINE = re.compile(r'^bench (\S+) ([-+]?[0-9.]+) (.*?)(?: -- (.*))?$')


def run_once(run_dir, bench_args, timeout):
    args = ' '.join(bench_args)
    cmd = [os.path.join(TOP, 'scripts', 'run-guest.sh'), '--run', run_dir,
           '--timeout', str(timeout),
           '--append', f'mktme_bench=1 kunit.enable=0 loglevel=4 mktme_args="{args}"',
           '--', '-icount', 'shift=0,sleep=off']
    rc = subprocess.call(cmd, stdout=subprocess.DEVNULL)
    results, done, trouble = {}, False, []
    with open(os.path.join(run_dir, 'console.log'), errors='replace') as f:
        for ln in f:
            m = LINE.match(ln.strip())
            if ln.strip() == 'bench done':
                done = True
            elif m:
                results[m.group(1)] = (float(m.group(2)), m.group(3), m.group(4) or '')
            if KERNEL_ERRORS.search(ln):
                trouble.append(ln.strip())
    return rc, done and rc == 0 and not trouble, results, trouble


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--runs', type=int, default=1)
    ap.add_argument('--run', default=os.path.join(TOP, 'build', 'bench'))
    ap.add_argument('--timeout', type=int, default=900)
    ap.add_argument('bench_args', nargs='*')
    args = ap.parse_args()

    runs = []
    for i in range(args.runs):
        d = os.path.join(args.run, f'run{i + 1}')
        os.makedirs(d, exist_ok=True)
        print(f'bench: run {i + 1} of {args.runs} (guest under -icount, console {d}/console.log)',
              flush=True)
        sys.stdout.flush()
        rc, done, res, trouble = run_once(d, args.bench_args, args.timeout)
        if not done:
            why = f'the kernel reported: {trouble[0]}' if trouble else f'exit {rc}'
            print(f'bench: run {i + 1} did not finish cleanly ({why}); see {d}/console.log',
                  file=sys.stderr)
            sys.exit(1)
        runs.append(res)

    first = runs[0]
    out = []
    for name, (value, unit, note) in first.items():
        spread = ''
        if len(runs) > 1:
            vals = [r[name][0] for r in runs if name in r]
            lo, hi = min(vals), max(vals)
            if unit == '%':
                spread = f'  (runs differ by {hi - lo:.2f} points)'
            elif hi:
                spread = f'  (runs differ by {100 * (hi - lo) / hi:.1f} %)'
        out.append(f'{name:<28} {value:>14,.2f} {unit:<10}{spread}' +
                   (f'  {note}' if note else ''))
    text = '\n'.join(out)
    print(text)
    with open(os.path.join(args.run, 'results.txt'), 'w') as f:
        f.write(text + '\n')
    print(f'bench: results in {os.path.join(args.run, "results.txt")}')


if __name__ == '__main__':
    main()
