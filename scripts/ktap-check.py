#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge a guest run from its console log.

The console holds the kernel's KUnit KTAP (printed at boot) and, between the
markers of the guest's /init, the kselftests as one KTAP document.  Both are
parsed with the kernel's own parser (tools/testing/kunit/kunit_parser.py).
The run fails on a failed or missing result, on a kernel oops, BUG, WARNING,
panic or sanitizer report, and on a guest that did not finish (timeout).
Writes "passed failed skipped" to --counts.
"""
import argparse
import os
import re
import sys

from kernel_log import KERNEL_ERRORS

BEGIN = 'mktme-init: selftests begin'
END = 'mktme-init: selftests end'


def leaf_counts(test, parser):
    """(passed, failed, skipped, names of failures) over leaf tests."""
    st = parser.TestStatus
    if not test.subtests:
        if test.status == st.SUCCESS:
            return 1, 0, 0, []
        if test.status in (st.SKIPPED, st.NO_TESTS):
            return 0, 0, 1, []
        return 0, 1, 0, [test.name or '<missing>']
    p = f = s = 0
    names = []
    for sub in test.subtests:
        sp, sf, ss, sn = leaf_counts(sub, parser)
        p, f, s = p + sp, f + sf, s + ss
        names += [f'{test.name}.{n}' if test.name != 'main' else n for n in sn]
    # A parent whose own result contradicts its children (crashed, missing
    # subtests, parse errors) is a failure of its own.
    if test.status not in (st.SUCCESS, st.SKIPPED, st.NO_TESTS) and f == 0:
        f += 1
        names.append(test.name or '<missing>')
    return p, f, s, names


def parse(parser, lines, label):
    print(f'--- {label} ---')
    test = parser.parse_run_tests(lines)
    p, f, s, names = leaf_counts(test, parser)
    # The parser's errors (a result out of place, a number skipped) mean
    # results may have been lost without one failing.
    if test.counts.errors:
        f += 1
        names.append(f'{label}: {test.counts.errors} KTAP parse errors')
    return p, f, s, names


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('console')
    ap.add_argument('--kunit-dir', required=True)
    ap.add_argument('--counts', required=True)
    ap.add_argument('--exit-code', type=int, default=0,
                    help="QEMU's exit code (124: killed at the timeout)")
    ap.add_argument('--expect-kunit', action='store_true',
                    help='the kernel was built with KUnit suites')
    ap.add_argument('--label', default='guest')
    args = ap.parse_args()

    sys.path.insert(0, args.kunit_dir)
    import kunit_parser  # noqa: E402

    with open(args.console, errors='replace') as f:
        log = f.read().replace('\r', '').splitlines()

    passed = failed = skipped = 0
    failures = []

    def tally(result):
        nonlocal passed, failed, skipped
        passed += result[0]
        failed += result[1]
        skipped += result[2]
        failures.extend(result[3])

    # A kernel message may land in the middle of a line of /init's
    def find(marker):
        return next((i for i, ln in enumerate(log) if ln.startswith(marker)), None)

    begin = find(BEGIN)
    if begin is None:
        begin = len(log)
    kernel = log[:begin]
    if args.expect_kunit or any(re.search(r'K?TAP version', ln) for ln in kernel):
        tally(parse(kunit_parser, kernel, f'{args.label}: KUnit'))
    if begin < len(log):
        tally(parse(kunit_parser, log[begin + 1:], f'{args.label}: kselftests'))
    else:
        failed += 1
        failures.append('guest /init never started the selftests')

    if find(END) is None:
        failed += 1
        why = 'killed at the timeout' if args.exit_code == 124 else 'did not finish'
        failures.append(f'guest {why} (QEMU exit code {args.exit_code})')
    bad = [ln for ln in log if KERNEL_ERRORS.search(ln)]
    if bad:
        failed += 1
        failures.append('kernel log reports: ' + bad[0].strip())
    if failures:
        print(f'{args.label}: FAILED:')
        for n in failures:
            print(f'  {n}')
        print(f'--- last 40 lines of {args.console} ---')
        print('\n'.join(log[-40:]))
    with open(args.counts, 'w') as f:
        f.write(f'{passed} {failed} {skipped}\n')
    print(f'{args.label}: {passed} passed, {failed} failed, {skipped} skipped')
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
