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

First, the model itself: emulator/tests/baremetal/b-memcpy.c, booted
bare (no kernel, no -icount: the model's work is wall time), copies to,
from and between encrypted memory and clears encrypted pages, as ratios
to the same on plain memory in the same boot.

Then what the option costs when no key is ever created: mktme-bench
--unused, first thing after boot, on this kernel and on the same tree
built without CONFIG_X86_MKTME (make kernel-nomktme), both on the
model's CPU; kernel.unused_option_ratio is the first over the second.

Writes DIR/results.txt (default build/bench) and DIR/results.json (the
object "model": copy_to, copy_from, copy_between as speed relative to
plain, the worse of REP MOVSB and 8-byte moves, and clear_page_slowdown;
"model_detail"; "kernel": the guest's measures of the first run, and
unused_option_ratio) and
prints a table; with N > 1 it also prints how far the runs differ.  Exit
0 when every run completed.
"""
import argparse
import json
import os
import re
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'scripts'))
sys.path.insert(0, os.path.join(TOP, 'emulator', 'tests'))
from kernel_log import KERNEL_ERRORS  # noqa: E402
from run import boot  # noqa: E402
LINE = re.compile(r'^bench (\S+) ([-+]?[0-9.]+) (.*?)(?: -- (.*))?$')
MODEL_LINE = re.compile(r'^bench (\S+) ratio=([0-9.]+)$')
MODEL_CPU = 'max,vendor=GenuineIntel,tme=on,pconfig=on,mktme-check=on'


def model_bench():
    """The model's speed: ratios from one bare-metal boot of b-memcpy."""
    elf = os.path.join(TOP, 'build', 'emulator-tests', 'b-memcpy.elf')
    r = boot(elf, ['-cpu', MODEL_CPU, '-m', '512M'], timeout=300)
    detail = {m.group(1): float(m.group(2)) for m in
              (MODEL_LINE.match(ln.strip()) for ln in r.serial.splitlines()) if m}
    if 'clear_page_slowdown' not in detail or 'model: 0 missing-flush' not in r.stderr:
        print(f'bench: b-memcpy did not finish cleanly:\n{r.serial}\n{r.stderr}',
              file=sys.stderr)
        sys.exit(1)
    model = {k: min(v for n, v in detail.items() if n.startswith(k + '-'))
             for k in ('copy_to', 'copy_from', 'copy_between')}
    model['clear_page_slowdown'] = detail['clear_page_slowdown']
    return model, detail


def run_once(run_dir, bench_args, timeout, kernel=None, append=''):
    args = ' '.join(bench_args)
    cmd = [os.path.join(TOP, 'scripts', 'run-guest.sh'), '--run', run_dir,
           '--timeout', str(timeout),
           '--append', f'mktme_bench=1 kunit.enable=0 loglevel=4 mktme_args="{args}"{append}']
    if kernel:
        cmd += ['--kernel', kernel]
    cmd += ['--', '-icount', 'shift=0,sleep=off']
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

    print('bench: the model on its own (emulator/tests/baremetal/b-memcpy.c)', flush=True)
    model, detail = model_bench()
    out = [f'model {k:<22} {v:>14.2f} {"x plain" if k.endswith("slowdown") else "of plain":<10}'
           for k, v in model.items()]
    print('\n'.join(out))

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

    # What the option costs unused: the same work, first thing after boot
    # (no key ever created), on the MKTME kernel over one built without
    # it (make kernel-nomktme), both on the model's CPU.  nokaslr: the
    # same layout in both.
    unused = {}
    for label, kernel in (('mktme', None),
                          ('nomktme', os.path.join(TOP, 'build', 'kbuild-nomktme', 'arch',
                                                   'x86', 'boot', 'bzImage'))):
        d = os.path.join(args.run, f'unused-{label}')
        os.makedirs(d, exist_ok=True)
        print(f'bench: unused option, {label} kernel (console {d}/console.log)', flush=True)
        rc, done, res, trouble = run_once(d, ['--unused'], args.timeout, kernel, ' nokaslr')
        if not done or 'unused_work' not in res:
            print(f'bench: the unused-option run on the {label} kernel did not finish; '
                  f'see {d}/console.log', file=sys.stderr)
            sys.exit(1)
        unused[label] = res['unused_work'][0]
    ratio = unused['mktme'] / unused['nomktme']

    first = runs[0]
    unused_note = (f'the same work, no key ever created: CONFIG_X86_MKTME=y over =n '
                   f'({unused["mktme"]:,.0f} ns / {unused["nomktme"]:,.0f} ns)')
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
    out.append(f'{"unused_option_ratio":<28} {ratio:>14,.4f} {"x":<10}  {unused_note}')
    text = '\n'.join(out)
    print(text)
    with open(os.path.join(args.run, 'results.txt'), 'w') as f:
        f.write(text + '\n')
    with open(os.path.join(args.run, 'results.json'), 'w') as f:
        kernel = {name: {'value': v, 'unit': u, 'note': n}
                  for name, (v, u, n) in first.items()}
        # A plain number (1.0: the option costs nothing unused)
        kernel['unused_option_ratio'] = ratio
        kernel['unused_option_ns'] = {'mktme': unused['mktme'], 'nomktme': unused['nomktme'],
                                      'note': unused_note}
        json.dump({'model': model, 'model_detail': detail, 'kernel': kernel}, f, indent=2)
        f.write('\n')
    print(f'bench: results in {os.path.join(args.run, "results.txt")} and results.json')


if __name__ == '__main__':
    main()
