#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Boot a bare-metal test image (emulator/tests/baremetal) on QEMU and judge it.

CLI:
    run.py [--qemu BIN] [--timeout S] [--quiet] [--interactive] ELF [-- QEMU ARGS...]
    run.py build/emulator-tests/t-selftest.elf -- -append answer=42 -cpu max,phys-bits=46
prints the serial output as it comes, then 'N passed, N failed, N skipped';
exits 0 when the run is ok (see Result.ok).

Library:
    from run import boot
    r = boot(elf, ['-cpu', 'max,phys-bits=46'],
             on_host_request=lambda req: req.qmp.hmp('xp /1gx 0x200000'),
             start_paused_hook=lambda qmp: qmp.cmd('query-status'))
    r.ok, r.passed, r.failed, r.skipped, r.serial, r.status, r.results

QEMU's exit status comes from the guest's exit(code) through isa-debug-exit,
(code << 1) | 1: 1 all passed, 3 a test failed, 5 bail out (unexpected
exception).  0 means the guest reset or shut down without exiting (e.g. a
triple fault under -no-reboot); None here means killed at the timeout.

Host requests: a guest line 'HOST: TOKEN key=value ...' (host_request() in
lib.h) calls on_host_request(HostRequest); the guest waits until the host
writes a line to the serial port: the callback's return value (None: empty).
"""
import argparse
import os
import re
import selectors
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / 'scripts'))
from qmp import QMP  # noqa: E402

DEFAULT_QEMU = REPO / 'build/qemu/qemu-system-x86_64'
BIOS_DIRS = [REPO / 'build/qemu/pc-bios', Path('/usr/share/seabios')]
BASE_ARGS = ['-display', 'none', '-nodefaults', '-no-reboot', '-machine', 'q35',
             '-accel', 'tcg', '-m', '512M',
             '-device', 'isa-debug-exit,iobase=0xf4,iosize=0x04']
EXIT_MEANING = {0: 'no exit (reset or shutdown)', 1: 'pass', 3: 'fail', 5: 'bail out'}


@dataclass
class KtapLine:
    number: int
    ok: bool
    description: str
    skip: bool = False


@dataclass
class HostRequest:
    token: str            # first word after 'HOST:'
    args: dict            # key=value words ('key' alone: '')
    line: str             # the whole line
    qmp: QMP = None       # connected QMP client


@dataclass
class Result:
    serial: str
    status: int | None    # QEMU's exit status; None: killed at the timeout
    stderr: str = ''
    command: list = field(default_factory=list)
    planned: int | None = None
    results: list = field(default_factory=list)
    bailed: bool = False

    @property
    def passed(self):
        return sum(r.ok and not r.skip for r in self.results)

    @property
    def failed(self):
        return sum(not r.ok for r in self.results)

    @property
    def skipped(self):
        return sum(r.skip for r in self.results)

    @property
    def ok(self):
        """Exited with status 1, every planned result present, none failed."""
        return (self.status == 1 and not self.bailed and not self.failed and
                self.planned == len(self.results))


RESULT_RE = re.compile(r'^(not ok|ok) (\d+)\s*(?:- )?(.*?)\s*(?:#\s*(\w+)\b\s*(.*))?$')


def parse_ktap(text):
    """(planned, [KtapLine], bailed) from the top level of a KTAP document."""
    planned, results, bailed = None, [], False
    for line in text.splitlines():
        if m := re.match(r'^1\.\.(\d+)', line):
            planned = int(m[1])
        elif line.startswith('Bail out!'):
            bailed = True
        elif m := RESULT_RE.match(line):
            skip = (m[4] or '').upper() == 'SKIP'
            results.append(KtapLine(int(m[2]), m[1] == 'ok', m[3], skip))
    return planned, results, bailed


def parse_host_request(line):
    words = line[len('HOST:'):].split()
    args = {}
    for w in words[1:]:
        k, _, v = w.partition('=')
        args[k] = v
    return HostRequest(words[0] if words else '', args, line)


def _connect_qmp(proc, path, deadline):
    while not os.path.exists(path):
        if proc.poll() is not None or time.monotonic() > deadline:
            return None
        time.sleep(0.02)
    return QMP(path, timeout=max(1.0, deadline - time.monotonic()))


def boot(elf, qemu_args=(), on_host_request=None, start_paused_hook=None,
         timeout=60, qemu=None, use_qmp=False, echo=None):
    """Boot elf and return a Result once QEMU exits or timeout seconds pass.

    qemu_args: extra QEMU arguments (list, or a string split like a shell).
    on_host_request(HostRequest) -> str or None: the reply line.
    start_paused_hook(QMP): QEMU starts with -S; called before 'cont'.
    A QMP socket is set up when either hook is given or use_qmp is true.
    echo: a text stream that gets the serial output as it arrives.
    """
    if isinstance(qemu_args, str):
        qemu_args = shlex.split(qemu_args)
    qemu = str(qemu or os.environ.get('QEMU') or DEFAULT_QEMU)
    use_qmp = use_qmp or bool(on_host_request or start_paused_hook)
    tmp = tempfile.mkdtemp(prefix='baremetal-')
    sock = os.path.join(tmp, 'qmp.sock')

    cmd = [qemu, *BASE_ARGS]
    for d in BIOS_DIRS:
        cmd += ['-L', str(d)]
    cmd += ['-serial', 'stdio', '-kernel', str(elf)]
    if use_qmp:
        cmd += ['-qmp', f'unix:{sock},server=on,wait=off']
    if start_paused_hook:
        cmd.append('-S')
    cmd += list(qemu_args)

    deadline = time.monotonic() + timeout
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    serial, err, pending = bytearray(), bytearray(), b''
    qmp = None
    timed_out = False
    try:
        if use_qmp:
            qmp = _connect_qmp(proc, sock, deadline)
        if start_paused_hook and qmp:
            start_paused_hook(qmp)
            qmp.cmd('cont')

        sel = selectors.DefaultSelector()
        sel.register(proc.stdout, selectors.EVENT_READ, serial)
        sel.register(proc.stderr, selectors.EVENT_READ, err)
        while sel.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    sel.unregister(key.fileobj)
                    continue
                key.data.extend(data)
                if key.data is err:
                    continue
                if echo:
                    echo.write(data.decode(errors='replace').replace('\r', ''))
                    echo.flush()
                pending += data
                while b'\n' in pending:
                    line, pending = pending.split(b'\n', 1)
                    line = line.decode(errors='replace').rstrip('\r')
                    if not line.startswith('HOST:'):
                        continue
                    req = parse_host_request(line)
                    req.qmp = qmp
                    reply = on_host_request(req) if on_host_request else None
                    try:
                        proc.stdin.write(((reply or '') + '\n').encode())
                        proc.stdin.flush()
                    except BrokenPipeError:
                        pass
        sel.close()
    finally:
        if qmp:
            qmp.close()
        if timed_out or sys.exc_info()[0]:
            proc.kill()
        try:
            status = proc.wait(timeout=max(5, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            timed_out = True
            proc.wait()
        for f in (proc.stdin, proc.stdout, proc.stderr):
            try:
                f.close()
            except BrokenPipeError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)

    text = serial.decode(errors='replace').replace('\r\n', '\n')
    planned, results, bailed = parse_ktap(text)
    return Result(text, None if timed_out else status, err.decode(errors='replace'),
                  cmd, planned, results, bailed)


def main():
    argv = sys.argv[1:]
    extra = []
    if '--' in argv:
        i = argv.index('--')
        argv, extra = argv[:i], argv[i + 1:]
    ap = argparse.ArgumentParser(description='Boot one bare-metal test image.')
    ap.add_argument('elf')
    ap.add_argument('--qemu', default=None, help=f'default $QEMU or {DEFAULT_QEMU}')
    ap.add_argument('--timeout', type=float, default=60)
    ap.add_argument('--quiet', action='store_true', help='do not echo the serial output')
    ap.add_argument('--interactive', action='store_true',
                    help='ask on the terminal for the reply to each HOST: request')
    a = ap.parse_args(argv)

    def on_host_request(req):
        if a.interactive:
            return input(f'reply to {req.token}> ')
        print(f'run.py: {req.line!r}: resuming with an empty reply', file=sys.stderr)
        return None

    r = boot(a.elf, extra, on_host_request=on_host_request, timeout=a.timeout,
             qemu=a.qemu, echo=None if a.quiet else sys.stdout)
    if r.stderr:
        sys.stderr.write(r.stderr)
    if r.status is None:
        how = f'killed after {a.timeout:g} s'
    else:
        how = f'exit status {r.status} ({EXIT_MEANING.get(r.status, "?")})'
    print(f'run.py: QEMU {how}; planned {r.planned}, ran {len(r.results)}'
          f'{", bailed out" if r.bailed else ""}')
    failed = r.failed + (0 if r.ok or r.failed else 1)
    print(f'{r.passed} passed, {failed} failed, {r.skipped} skipped')
    sys.exit(0 if r.ok else 1)


if __name__ == '__main__':
    main()
