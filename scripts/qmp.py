#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Minimal QMP client over a unix socket (Python standard library only).

    with QMP('/tmp/qmp.sock') as qmp:      # QEMU: -qmp unix:PATH,server=on,wait=off
        qmp.cmd('query-status')            # -> {'running': False, ...}
        qmp.cmd('human-monitor-command', command_line='info registers')
        qmp.hmp('xp /2gx 0x200000')        # same, shorter
        qmp.cmd('cont')

cmd() turns '_' into '-' in keyword argument names (QMP's usual spelling);
pass args={...} for names that really contain '_'.  It returns the reply's
'return' value or raises QMPError on an 'error' reply.  Asynchronous events
seen while waiting are kept in .events.
"""
import json
import socket
import time


class QMPError(Exception):
    def __init__(self, name, error):
        self.cls = error.get('class', '')
        self.desc = error.get('desc', '')
        super().__init__(f'{name}: {self.cls}: {self.desc}')


class QMP:
    def __init__(self, path, timeout=30.0):
        """Connect, retrying until QEMU has created the socket."""
        deadline = time.monotonic() + timeout
        while True:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                self.sock.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self.sock.settimeout(timeout)
        self.file = self.sock.makefile('rb')
        self.events = []
        self.greeting = self._read()
        if 'QMP' not in self.greeting:
            raise ConnectionError(f'not a QMP greeting: {self.greeting}')
        self._id = 0
        self.cmd('qmp_capabilities')

    def _read(self):
        line = self.file.readline()
        if not line:
            raise ConnectionError('QMP connection closed')
        return json.loads(line)

    def cmd(self, name, args=None, **kwargs):
        """Execute command name; return its 'return' value."""
        arguments = dict(args or {})
        arguments.update({k.replace('_', '-'): v for k, v in kwargs.items()})
        self._id += 1
        msg = {'execute': name, 'id': self._id}
        if arguments:
            msg['arguments'] = arguments
        self.sock.sendall(json.dumps(msg).encode() + b'\n')
        while True:
            reply = self._read()
            if 'event' in reply:
                self.events.append(reply)
            elif reply.get('id') != self._id:
                continue
            elif 'error' in reply:
                raise QMPError(name, reply['error'])
            else:
                return reply.get('return')

    def hmp(self, command_line):
        """Run a human monitor command; return its text output."""
        return self.cmd('human-monitor-command', command_line=command_line)

    def close(self):
        for f in (self.file, self.sock):
            try:
                f.close()
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


if __name__ == '__main__':
    import sys
    if len(sys.argv) < 3:
        sys.exit(f'usage: {sys.argv[0]} SOCKET COMMAND [JSON-ARGS]')
    with QMP(sys.argv[1]) as q:
        a = json.loads(sys.argv[3]) if len(sys.argv) > 3 else None
        print(json.dumps(q.cmd(sys.argv[2], args=a), indent=2))
