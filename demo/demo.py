#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""make demo: three stories on the TME-MK model, with proof from outside.

Boots the guest (scripts/run-guest.sh) with demo/guest/demo.sh as its job
and a second serial port as a channel to this script.  At each checkpoint
the guest says what it wrote where; this script then looks at guest RAM the
way a cold-boot attacker would, through QEMU's monitor (QMP pmemsave of all
RAM), and answers.  It also reads through a KeyID's alias, which is what the
memory controller returns to the CPU.  The guest's console is shown as it
comes (kernel messages left out); each story ends with a verdict.

    demo.py [--run DIR] [--timeout SECS] [--counts FILE]

--counts writes "passed failed skipped" of the checks, for make check.
Exit status: 0 when every story passed.
"""
import argparse
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, 'scripts'))
from kernel_log import KERNEL_ERRORS  # noqa: E402
from qmp import QMP  # noqa: E402

PRINTK = re.compile(rb'^\[\s*\d+\.\d+\]')


def needle(hexed, what):
    """The bytes the guest hex-encoded; too short to mean anything fails."""
    b = bytes.fromhex(hexed)
    if len(b) < 16:
        raise ValueError(f'{what}: the guest sent {len(b)} bytes, too short to search for')
    return b


def fragments(secret):
    """16-byte pieces of a secret's random part ("MKTME-X:" + hex)."""
    tail = secret[secret.index(b':') + 1:]
    return [tail[i:i + 16] for i in range(0, len(tail) - 15, 8)]


def hexdump(b):
    return ' '.join(f'{x:02x}' for x in b[:32]) + (' ...' if len(b) > 32 else '')


def printable(b):
    return ''.join(chr(x) if 32 <= x < 127 else '.' for x in b[:32])


class Demo:
    def __init__(self, run):
        self.run = run
        self.checks = {}        # story -> [(source, ok, text)]
        self.titles = {}
        self.ended = set()
        self.current = 0        # the story told now
        self.before = {}        # revoke-before observations
        self.qmp = None
        self.ram = 0
        self.shift = 0
        self.max_keys = 0

    # ---- output ----
    def check(self, story, ok, text, source='host'):
        self.checks.setdefault(story, []).append((source, ok, text))
        if source == 'host':
            print(f'host: {"pass" if ok else "FAIL"} - {text}', flush=True)
        return ok

    def note(self, text):
        print(f'host:   {text}', flush=True)

    # ---- guest memory, from outside ----
    def dump(self):
        """All guest RAM as it is in DRAM (KeyID 0 addresses: no engine).

        The model's caches are written back first (x-mktme-writeback), so
        DRAM holds what the guest last stored, encrypted: a cold-boot
        attacker finds what a cache flush would have left."""
        path = os.path.join(self.run, 'dump.bin')
        t = time.monotonic()
        self.qmp.cmd('x-mktme-writeback')
        self.qmp.cmd('pmemsave', val=0, size=self.ram, filename=path)
        with open(path, 'rb') as f:
            data = f.read()
        os.unlink(path)
        self.note(f'dumped {self.ram >> 20} MiB of guest RAM through QMP pmemsave '
                  f'({time.monotonic() - t:.1f} s)')
        return data

    def read(self, addr, size, keyid=0):
        """Read guest-physical memory through KeyID @keyid's alias (as the
        CPU would: cached lines of that KeyID are seen, DRAM otherwise)."""
        path = os.path.join(self.run, 'read.bin')
        self.qmp.cmd('x-mktme-writeback')
        self.qmp.cmd('pmemsave', val=addr | (keyid << self.shift), size=size, filename=path)
        with open(path, 'rb') as f:
            data = f.read()
        os.unlink(path)
        return data

    def programs(self, keyid):
        """How often each package's slot for @keyid was programmed."""
        info = self.qmp.cmd('query-mktme')
        out = {}
        for p in info['packages']:
            out[p['package']] = next((k['programs'] for k in p['keys']
                                      if k['keyid'] == keyid), 0)
        return out

    @staticmethod
    def ciphertext_like(page):
        """No 16-byte block repeats and none is zero: what AES-XTS gives
        for a page, whatever its plaintext (zeros included)."""
        blocks = [page[i:i + 16] for i in range(0, len(page), 16)]
        return len(set(blocks)) == len(blocks) and bytes(16) not in blocks

    # ---- the guest's checkpoints ----
    def on_dump(self, story, words):
        expect = words.pop('expect')
        data = self.dump()
        for name, hexed in words.items():
            n = data.count(needle(hexed, name))
            if expect == 'present':
                self.check(story, n > 0, f"{name}'s pattern is in the dump: {n} copies")
            else:
                self.check(story, n == 0, f"{name}'s pattern is nowhere in the dump ({n} copies)")

    def on_secret(self, story, w):
        keyid, pa, cpa = int(w['keyid']), int(w['pa'], 16), int(w['control_pa'], 16)
        secret, control = needle(w['secret'], 'secret'), needle(w['control'], 'control')
        data = self.dump()
        n = data.count(control)
        self.check(story, n > 0 and data[cpa:cpa + len(control)] == control,
                   f'the control copy is in the dump ({n}x), at {cpa:#x} as the guest said')
        self.note(f'DRAM {cpa:#010x}: {hexdump(data[cpa:cpa + 32])}  "{printable(data[cpa:])}"')
        n = data.count(secret)
        self.check(story, n == 0, f'the secret is nowhere in the dump ({n} copies)')
        self.check_fragments(story, data, secret)
        page = data[pa & ~4095:(pa & ~4095) + 4096]
        self.check(story, self.ciphertext_like(page) and data[pa:pa + len(secret)] != secret,
                   f'DRAM at the secret\'s address {pa:#x} is ciphertext (the page has no '
                   f'repeated or zero 16-byte block)')
        self.note(f'DRAM {pa:#010x}: {hexdump(data[pa:pa + 32])}')
        via = self.read(pa, len(secret), keyid)
        self.check(story, via == secret,
                   f'through KeyID {keyid}\'s alias the memory controller decrypts it to the secret')
        self.note(f'KeyID {keyid:<3}  {pa:#010x}: {hexdump(via)}  "{printable(via)}"')

    def check_fragments(self, story, data, secret):
        """Not even a 16-byte piece of the secret's random part: the guest's
        register state, saved in plaintext kernel memory, would show here."""
        found = [f.decode() for f in fragments(secret) if f in data]
        self.check(story, not found, 'nor any 16-byte piece of it' +
                   (f': found {found}' if found else ''))

    def on_revoke_before(self, story, w):
        keyid, secret = int(w['keyid']), needle(w['secret'], 'secret')
        pas = [int(x, 16) for x in w['pa'].split(',')]
        data = self.dump()
        n = data.count(secret)
        self.check(story, n == 0, f"alice's secret is nowhere in the dump ({n} copies)")
        self.check_fragments(story, data, secret)
        good = sum(self.read(pa, len(secret), keyid) == secret for pa in pas)
        self.check(story, good == len(pas),
                   f'KeyID {keyid} decrypts {good} of her {len(pas)} pages to the secret: '
                   'it is there, encrypted')
        pa = pas[0]
        via = self.read(pa, len(secret), keyid)
        self.note(f'DRAM      {pa:#010x}: {hexdump(data[pa:pa + 32])}')
        self.note(f'KeyID {keyid:<3} {pa:#010x}: {hexdump(via)}  "{printable(via)}"')
        self.before[story] = ({pa: data[pa:pa + 4096] for pa in pas}, self.programs(keyid))

    def on_revoke_after(self, story, w):
        keyid, secret = int(w['keyid']), needle(w['secret'], 'secret')
        if story not in self.before:
            raise ValueError('no observation from before the logout to compare with')
        pages, progs = self.before[story]
        data = self.dump()
        n = data.count(secret)
        self.check(story, n == 0, f"alice's secret is still nowhere in the dump ({n} copies)")
        self.check_fragments(story, data, secret)
        kept = [pa for pa, ct in pages.items() if data[pa:pa + 4096] == ct]
        self.check(story, bool(kept),
                   f'{len(kept)} of her {len(pages)} pages still hold the ciphertext they held '
                   'before logout (the others were reused)')
        bad = [pa for pa in kept if self.read(pa, len(secret), keyid) == secret]
        self.check(story, not bad, f'KeyID {keyid} decrypts none of them any more')
        if kept:
            pa = kept[0]
            hits = [k for k in range(self.max_keys + 1)
                    if self.read(pa, len(secret), k) == secret]
            self.check(story, not hits,
                       f'no KeyID (0..{self.max_keys}) decrypts {pa:#x} to the secret'
                       + (f': KeyIDs {hits} do' if hits else ''))
            via = self.read(pa, len(secret), keyid)
            self.note(f'DRAM      {pa:#010x}: {hexdump(data[pa:pa + 32])}')
            self.note(f'KeyID {keyid:<3} {pa:#010x}: {hexdump(via)}  "{printable(via)}"')
        after = self.programs(keyid)
        for pkg in sorted(after):
            self.check(story, after[pkg] > progs.get(pkg, 0),
                       f'package {pkg}: the slot of KeyID {keyid} was reprogrammed '
                       f'(query-mktme: programmed {progs.get(pkg, 0)} -> {after[pkg]} times)')
        self.check(story, len(after) >= 2, f'the model has {len(after)} packages')

    def handle(self, line):
        text = ''
        if ' -- ' in line:
            line, text = line.split(' -- ', 1)
        words = line.split()
        if not words:
            return 'ok'
        event, w = words[0], dict(x.split('=', 1) for x in words[1:] if '=' in x)
        w.pop('id', None)       # the guest's tag for the answer (main())
        story = int(w.pop('story', self.current))
        if event == 'hello':
            info = self.qmp.cmd('query-mktme')
            self.shift, self.max_keys = info['keyid-shift'], info['max-keys']
            self.ram = self.qmp.cmd('query-memory-size-summary')['base-memory']
        elif event == 'begin':
            self.titles[story] = text
            self.current = story
        elif event == 'end':
            self.ended.add(story)
        elif event == 'check':
            self.check(story, w.get('result') == 'pass', text, source='guest')
        elif event == 'dump':
            self.on_dump(story, w)
        elif event == 'secret':
            self.on_secret(story, w)
        elif event == 'revoke-before':
            self.on_revoke_before(story, w)
        elif event == 'revoke-after':
            self.on_revoke_after(story, w)
        elif event != 'done':
            return f'unknown event {event}'
        return 'ok'


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--run', default=os.path.join(TOP, 'build', 'demo'))
    ap.add_argument('--timeout', type=int, default=600)
    ap.add_argument('--counts')
    args = ap.parse_args()
    os.makedirs(args.run, exist_ok=True)
    sock_path = os.path.join(args.run, 'demo.sock')
    console = os.path.join(args.run, 'console.log')
    for p in (sock_path, console):
        if os.path.exists(p):
            os.unlink(p)

    guest = subprocess.Popen(
        [os.path.join(TOP, 'scripts', 'run-guest.sh'), '--run', args.run,
         '--timeout', str(args.timeout),
         '--append', 'mktme_demo=1 kunit.enable=0 printk.time=1', '--',
         '-chardev', f'socket,id=demo,path={sock_path},server=on,wait=off',
         '-serial', 'chardev:demo'], start_new_session=True)
    demo = Demo(args.run)
    chan, pos, buf, trouble, done, rc = None, 0, b'', [], False, None

    def show_console(final=False):
        nonlocal pos
        try:
            with open(console, 'rb') as f:
                f.seek(pos)
                chunk = f.read()
        except FileNotFoundError:
            return
        end = len(chunk) if final else chunk.rfind(b'\n') + 1
        pos += end
        for raw in chunk[:end].splitlines():
            line = raw.decode(errors='replace').rstrip('\r')
            if KERNEL_ERRORS.search(line):
                trouble.append(line)
            if not PRINTK.match(raw):
                print(line, flush=True)

    try:
        while guest.poll() is None and chan is None:
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(sock_path)
                chan = sock
            except OSError:
                sock.close()
                time.sleep(0.05)
        if chan is not None:
            demo.qmp = QMP(os.path.join(args.run, 'qmp.sock'))
        while chan is not None and guest.poll() is None:
            r, _, _ = select.select([chan], [], [], 0.2)
            show_console()
            if not r:
                continue
            data = chan.recv(65536)
            if not data:
                break
            buf += data
            while b'\n' in buf:
                line, buf = buf.split(b'\n', 1)
                line = line.decode(errors='replace').strip()
                ident = re.search(r' id=(\d+)', line)
                try:
                    reply = demo.handle(line)
                except Exception as e:      # the checkpoint fails, the demo goes on
                    reply = f'host error: {e!r}'
                    demo.check(demo.current, False, f'checkpoint "{line[:60]}": {e!r}')
                done |= line.split(' ', 1)[0] == 'done'
                if ident:
                    chan.sendall(f'{ident.group(1)} {reply[:200]}\n'.encode())
        rc = guest.wait()
    except (OSError, ConnectionError) as e:
        demo.check(demo.current, False, f'the host side failed: {e!r}')
    finally:
        if guest.poll() is None:
            os.killpg(guest.pid, signal.SIGTERM)
            rc = guest.wait()
        for c in (chan, demo.qmp):
            if c is not None:
                c.close()
    time.sleep(0.1)
    show_console(final=True)

    print('\n=== Verdict ===')
    passed = failed = 0
    for story in sorted(set(demo.titles) | set(demo.checks) | {1, 2, 3}):
        checks = demo.checks.get(story, [])
        good = sum(ok for _, ok, _ in checks)
        bad = len(checks) - good
        ended = story in demo.ended or story == 0
        ok = bad == 0 and ended and (story == 0 or any(s == 'host' for s, _, _ in checks))
        passed += good
        failed += bad + (0 if ok or bad else 1)
        title = demo.titles.get(story, 'checkpoint errors' if story == 0 else '(not reached)')
        print(f'story {story}: {"PASS" if ok else "FAIL"} - {title} '
              f'({good} of {len(checks)} checks passed{"" if ended else ", did not finish"})')
    kernel_ok = not trouble and done and rc == 0
    print(f'guest: {"PASS" if kernel_ok else "FAIL"} - ran to the end (exit {rc}), '
          f'kernel log {"clean" if not trouble else "has: " + trouble[0]}')
    passed += kernel_ok
    failed += not kernel_ok
    print(f'{passed} passed, {failed} failed')
    if args.counts:
        with open(args.counts, 'w') as f:
            f.write(f'{passed} {failed} 0\n')
    sys.exit(1 if failed else 0)


if __name__ == '__main__':
    main()
