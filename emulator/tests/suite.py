#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The hardware model's test suite, run on its own, before any kernel.

Each case boots one bare-metal program (baremetal/t-*.c) on the model with
some CPU properties; the program checks what it can see from inside and asks
the host, through 'HOST:' lines, for what only the outside can see: RAM
contents (ciphertext) compared with OpenSSL, the key tables in query-mktme,
fault injection, the missing-flush detector's counters.  Every boot of the
model runs with the detector on (mktme-check=on) and must end with the
number of missing-flush reports its case expects: none, except for the
detector's own tests.  Host-only cases check the model's property
validation.

    suite.py [--counts FILE] [--list] [NAME...]

prints KTAP (one subtest per case) and 'N passed, N failed, N skipped'.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
sys.path.insert(0, str(HERE))
from run import BIOS_DIRS, DEFAULT_QEMU, boot  # noqa: E402

OUT = Path(os.environ.get('MKTME_EMULATOR_TESTS', REPO / 'build/emulator-tests'))
XTS_REF = OUT / 'xts-ref'

# The model as the kernel tests use it, and stock QEMU's CPU for contrast.
MODEL = 'max,vendor=GenuineIntel,tme=on,pconfig=on'
STOCK = 'max,vendor=GenuineIntel,phys-bits=46'
# Two sockets, each owning one NUMA node of 256 MiB.
NUMA = ['-smp', '2,sockets=2,cores=1,threads=1',
        '-object', 'memory-backend-ram,id=m0,size=256M',
        '-object', 'memory-backend-ram,id=m1,size=256M',
        '-numa', 'node,nodeid=0,cpus=0,memdev=m0',
        '-numa', 'node,nodeid=1,cpus=1,memdev=m1']


@dataclass
class Case:
    name: str
    program: str                       # baremetal/<program>.c
    cpu: str = MODEL
    append: str = ''                   # the program's command line
    extra: list = field(default_factory=list)
    reports: int | None = 0            # missing-flush reports the boot makes
                                       # (None: the program counts them)


@dataclass
class HostCase:
    """QEMU must refuse these properties with this message."""
    name: str
    cpu: str
    error: str
    extra: list = field(default_factory=list)


CASES = [
    Case('framework', 't-selftest', STOCK, 'answer=42'),
    Case('cpuid-msr', 't-cpuid', MODEL, 'expect=tme keyid_bits=6 max_keys=63 tdx_bits=0 algs=5'),
    Case('cpuid-msr-configured', 't-cpuid',
         MODEL + ',phys-bits=48,mktme-keyid-bits=7,mktme-keys=100,'
         'mktme-tdx-keyid-bits=1,mktme-aes-xts-256=off',
         'expect=tme phys_bits=48 keyid_bits=7 max_keys=100 tdx_bits=1 algs=1'),
    Case('cpuid-msr-stock', 't-cpuid', STOCK, 'expect=none'),
    Case('pconfig', 't-pconfig', MODEL, 'keyid_bits=6 max_keys=63 tdx_bits=0 algs=5', NUMA),
    Case('pconfig-partitioned', 't-pconfig',
         MODEL + ',mktme-keys=20,mktme-tdx-keyid-bits=1,mktme-aes-xts-256=off',
         'keyid_bits=6 max_keys=20 tdx_bits=1 algs=1', NUMA),
    # TDX KeyIDs that MAX_KEYS alone would allow: only the TDX rule refuses.
    Case('pconfig-tdx', 't-pconfig', MODEL + ',mktme-keys=40,mktme-tdx-keyid-bits=1',
         'keyid_bits=6 max_keys=40 tdx_bits=1 algs=5', NUMA),
    Case('engine', 't-engine', MODEL, '', NUMA),
    Case('engine-7bit', 't-engine', MODEL + ',phys-bits=48,mktme-keyid-bits=7',
         'keyid_bits=7', NUMA),
    # The second CPU programs its own package; WBINVD is per package
    Case('packages', 't-packages', MODEL, '', NUMA),
    # Code in encrypted pages, string ops, DMA under -icount too
    Case('engine-icount', 't-engine', MODEL, '', NUMA + ['-icount', 'shift=0']),
    # The detector: every violation provoked and counted by the program.
    Case('cache-detector', 't-cache', MODEL, '', NUMA, reports=None),
    Case('cache-strict', 't-cache', MODEL + ',mktme-check=strict', 'strict=1', NUMA,
         reports=None),
    Case('cache-eviction', 't-cache', MODEL + ',mktme-cache-pages=16', 'small=1', NUMA),
]

HOST_CASES = [
    HostCase('keyid-bits-16', MODEL + ',mktme-keyid-bits=16', 'mktme-keyid-bits=16: must be 0 to 15'),
    HostCase('max-keyid-bits-below', MODEL + ',mktme-max-keyid-bits=4',
             'mktme-max-keyid-bits=4: must be mktme-keyid-bits (6) to 15'),
    HostCase('bad-firmware-state', MODEL + ',mktme-firmware=open',
             'mktme-firmware=open: must be locked, unlocked or disabled'),
    HostCase('keyid-bits-leave-too-few', MODEL + ',phys-bits=40,mktme-keyid-bits=9',
             'mktme-keyid-bits=9 leaves 31 of phys-bits=40 for addresses'),
    HostCase('tdx-bits-too-many', MODEL + ',mktme-tdx-keyid-bits=6',
             'mktme-tdx-keyid-bits=6: must be less than mktme-keyid-bits=6'),
    HostCase('too-many-keys', MODEL + ',mktme-keys=64', 'mktme-keys=64: 6 KeyID bits hold at most 63 keys'),
    HostCase('no-algorithm', MODEL + ',mktme-aes-xts-128=off,mktme-aes-xts-256=off',
             'at least one of mktme-aes-xts-128 and mktme-aes-xts-256 must be on'),
    HostCase('ram-overlaps-keyids', MODEL + ',phys-bits=38,mktme-keyid-bits=6',
             'past 0x100000000 where KeyID 1 begins', ['-m', '5G']),
    HostCase('pconfig-needs-tme', 'max,pconfig=on,enforce', 'pconfig'),
    HostCase('bad-check-mode', MODEL + ',mktme-check=loud', 'mktme-check=loud: must be off, on or strict'),
    HostCase('cache-too-small', MODEL + ',mktme-cache-pages=8', 'mktme-cache-pages=8: must be 16 to'),
]


class Host:
    """Answers a program's HOST: requests for one boot."""

    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix='mktme-suite-')

    def ram(self, qmp, pa, length):
        path = os.path.join(self.tmp, 'ram')
        qmp.cmd('pmemsave', val=pa, size=length, filename=path)
        with open(path, 'rb') as f:
            return f.read()

    def __call__(self, req):
        a, qmp = req.args, req.qmp
        try:
            if req.token == 'ram':
                return self.ram(qmp, int(a['pa'], 0), int(a['len'], 0)).hex()
            if req.token == 'kat':
                return self.kat(qmp, a)
            if req.token == 'keys':
                return self.keys(qmp, int(a['keyid'], 0))
            if req.token == 'calls':
                info = qmp.cmd('query-mktme')
                return ' '.join(f"p{p['package']}={p['pconfig-calls']}/{p['pconfig-failures']}"
                                for p in info['packages'])
            if req.token == 'inject':
                qmp.cmd('x-mktme-inject-fault', error=a['error'], count=int(a['count']))
                return 'ok'
            if req.token == 'hmp':
                return self.hmp_matches_qmp(qmp)
            if req.token == 'missing':
                mf = qmp.cmd('query-mktme')['missing-flush']
                return ' '.join(f'{k}={mf[k]}' for k in
                                ('dirty-alias', 'stale', 'dma', 'pconfig', 'overwrite'))
            if req.token == 'writeback':
                qmp.cmd('x-mktme-writeback')
                return 'ok'

        except Exception as e:  # the program reports it as a failure
            return f'error {type(e).__name__}: {e}'
        return f'error unknown request {req.token}'

    def kat(self, qmp, a):
        """RAM at pa must be OpenSSL's AES-XTS of pt under k1/k2."""
        pa, pt = int(a['pa'], 0), a['pt']
        ref = subprocess.run([str(XTS_REF), a['bits'], a['k1'], a['k2'], hex(pa), pt],
                             capture_output=True, text=True, check=True).stdout.strip()
        ram = self.ram(qmp, pa, len(pt) // 2).hex()
        if ram == ref:
            return 'ok'
        if ram == pt:
            return 'plaintext in RAM'
        return f'mismatch ram={ram[:32]} ref={ref[:32]}'

    def keys(self, qmp, keyid):
        """'pN=state/algorithm/programs' for every package."""
        out = []
        for p in qmp.cmd('query-mktme')['packages']:
            k = next((k for k in p['keys'] if k['keyid'] == keyid), None)
            if k:
                out.append(f"p{p['package']}={k['state']}/{k.get('algorithm', '-')}/{k['programs']}")
            else:
                out.append(f"p{p['package']}=unprogrammed/-/0")
        return ' '.join(out)

    def hmp_matches_qmp(self, qmp):
        text = qmp.hmp('info mktme')
        info = qmp.cmd('query-mktme')
        for p in info['packages']:
            if f"package {p['package']}: {p['pconfig-calls']} PCONFIGs" not in text:
                return f"no line for package {p['package']} in: {text[:200]!r}"
            for k in p['keys']:
                row = f"{k['keyid']:5d}  {k['state']:<12s}"
                if row not in text:
                    return f'no row {row!r}'
        return 'ok'


MODEL_LINE = re.compile(r'^model: (\d+) missing-flush reports.*$', re.M)


def run_case(case, n, timeout):
    elf = OUT / f'{case.program}.elf'
    cpu = case.cpu
    if 'tme=on' in cpu and 'mktme-check=' not in cpu:
        cpu += ',mktme-check=on'
    args = ['-cpu', cpu, *case.extra]
    if case.append:
        args += ['-append', case.append]
    if not elf.exists():
        print(f'not ok {n} {case.name} # {elf} was not built')
        return 0, 1, 0
    try:
        r = boot(elf, args, on_host_request=Host(), use_qmp=True, timeout=timeout)
    except Exception as e:
        print(f'not ok {n} {case.name} # harness error {type(e).__name__}: {e}')
        return 0, 1, 0
    print('    KTAP version 1')
    print(f'    # Subtest: {case.name}')
    for line in r.serial.splitlines():
        if line.startswith('KTAP version') or line.startswith('HOST:'):
            continue
        print('    ' + line)
    passed, failed, skipped = r.passed, r.failed, r.skipped
    why, ok = '', r.ok
    if 'mktme-check=' in cpu:
        m = MODEL_LINE.search(r.stderr)
        reports = int(m.group(1)) if m else None
        print(f'    # {m.group(0) if m else "model: no missing-flush summary"}')
        for line in r.stderr.splitlines():
            if 'missing flush' in line:
                print('    # ' + line.strip())
        if case.reports is not None and reports != case.reports:
            why = f'{reports} missing-flush reports, expected {case.reports}'
            failed += 1
            ok = False
    if not ok and not why:
        if r.status is None:
            why = f'timeout after {timeout}s'
        elif r.bailed or r.status not in (1, 3):
            why = f'QEMU exit status {r.status}: {r.stderr.strip()[:300]}'
        elif r.planned != len(r.results):
            why = f'planned {r.planned}, ran {len(r.results)}'
        if why and not failed:
            failed = 1
    print(f"{'ok' if ok else 'not ok'} {n} {case.name}{' # ' + why if why else ''}")
    return passed, failed, skipped


def run_migration_case(n):
    """Migration and savevm must be refused while the model is there."""
    got = []

    def try_migrate(qmp):
        try:
            qmp.cmd('migrate', uri='exec:cat >/dev/null')
            got.append('migration started')
        except Exception as e:  # QMPError: the blocker's reason
            got.append(str(e))

    elf = OUT / 't-selftest.elf'
    try:
        boot(elf, ['-cpu', MODEL, '-append', 'answer=42'], start_paused_hook=try_migrate,
             timeout=60)
    except Exception as e:
        got.append(f'harness error {type(e).__name__}: {e}')
    ok = bool(got) and 'cannot be migrated or saved' in got[0]
    print(f"{'ok' if ok else 'not ok'} {n} refuses migration (its blocker stops savevm too)"
          f"{'' if ok else ' # got ' + repr(got[:1])}")
    return (1, 0, 0) if ok else (0, 1, 0)


def run_host_case(case, n):
    cmd = [str(DEFAULT_QEMU), '-display', 'none', '-nodefaults', '-machine', 'q35',
           '-accel', 'tcg', '-cpu', case.cpu, *case.extra, '-S']
    for d in BIOS_DIRS:
        cmd += ['-L', str(d)]
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30,
                           stdin=subprocess.DEVNULL)
        ok = p.returncode != 0 and case.error in p.stderr
        got = p.stderr.strip().splitlines()[-1:] or [f'exit {p.returncode}']
    except subprocess.TimeoutExpired:
        ok, got = False, ['QEMU started (killed after 30 s)']
    print(f"{'ok' if ok else 'not ok'} {n} refuses {case.name}"
          f"{'' if ok else ' # wanted ' + repr(case.error) + ', got ' + repr(got[0])}")
    return (1, 0, 0) if ok else (0, 1, 0)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('names', nargs='*')
    ap.add_argument('--counts')
    ap.add_argument('--list', action='store_true')
    ap.add_argument('--timeout', type=int, default=120)
    args = ap.parse_args()
    cases = [c for c in CASES + HOST_CASES + ['migration']
             if not args.names or getattr(c, 'name', c) in args.names]
    if args.list:
        print('\n'.join(getattr(c, 'name', c) for c in cases))
        return 0
    print('KTAP version 1')
    print(f'1..{len(cases)}')
    total = [0, 0, 0]
    for n, c in enumerate(cases, 1):
        if c == 'migration':
            res = run_migration_case(n)
        elif isinstance(c, HostCase):
            res = run_host_case(c, n)
        else:
            res = run_case(c, n, args.timeout)
        total = [t + r for t, r in zip(total, res)]
        sys.stdout.flush()
    print(f'{total[0]} passed, {total[1]} failed, {total[2]} skipped')
    if args.counts:
        Path(args.counts).write_text(' '.join(map(str, total)) + '\n')
    return 1 if total[1] else 0


if __name__ == '__main__':
    sys.exit(main())
