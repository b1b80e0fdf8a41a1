#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""The host side of tools/testing/selftests/mktme/hotplug.c.

    hotplug-host.py RUN      # RUN: the guest's run directory (run-guest.sh --run)

Runs beside a guest booted with run-guest.sh --hotplug.  It reads the
guest's requests "N WHAT" from the scratch disk (RUN/disk.img, at 14
MiB, which the guest writes with O_DIRECT), does WHAT through QMP
(RUN/qmp.sock), and writes "N: ANSWER" at 15 MiB, which the guest reads:

    add-memory     object-add a 128 MiB RAM backend, device_add a pc-dimm
                   on node 1                              -> "done"
    add-cpu        device_add the first CPU slot QEMU lists as free
                                                          -> "done"
    keys N K...    query-mktme: package 2's key table     -> "K=STATE ...
                   programmed=P of N" (P: KeyIDs 1..N it programmed)

A QMP error is the answer "error: ...".  Exits when QEMU does.
"""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from qmp import QMP, QMPError  # noqa: E402

REQUEST_AT = 14 << 20
REPLY_AT = 15 << 20
NEW_PACKAGE = 2


def add_memory(qmp):
    qmp.cmd('object-add', args={'qom-type': 'memory-backend-ram', 'id': 'hotplug-mem0',
                                'size': 128 << 20})
    qmp.cmd('device_add', args={'driver': 'pc-dimm', 'id': 'hotplug-dimm0',
                                'memdev': 'hotplug-mem0', 'node': 1})
    return 'done'


def add_cpu(qmp):
    for slot in qmp.cmd('query-hotpluggable-cpus'):
        if 'qom-path' in slot:
            continue
        args = {'driver': slot['type'], 'id': 'hotplug-cpu0'}
        args.update(slot['props'])
        qmp.cmd('device_add', args=args)
        return 'done'
    return 'error: no free CPU slot (run-guest.sh --hotplug)'


def keys(qmp, nr, keyids):
    info = qmp.cmd('query-mktme')
    for pkg in info['packages']:
        if pkg['package'] == NEW_PACKAGE:
            break
    else:
        return f'error: no package {NEW_PACKAGE}'
    table = {k['keyid']: k for k in pkg.get('keys', [])}
    words = [f"{k}={table[k]['state'] if k in table else 'unprogrammed'}"
             for k in keyids]
    programmed = sum(1 for k in range(1, nr + 1)
                     if k in table and table[k]['programs'] > 0)
    words.append(f'programmed={programmed} of {nr}')
    return ' '.join(words)


def answer(run, seq, text):
    line = f'{seq}: {text}\n'.encode()
    with open(os.path.join(run, 'disk.img'), 'r+b') as disk:
        disk.seek(REPLY_AT)
        disk.write(line + b'\0' * (4096 - len(line)))
        disk.flush()
        os.fsync(disk.fileno())
    print(f'hotplug-host: {seq}: {text}', flush=True)


def request(run):
    """The guest's last request: (N, [WHAT...]), or None while there is
    none or it is still being written (a request ends with a newline)."""
    with open(os.path.join(run, 'disk.img'), 'rb') as disk:
        disk.seek(REQUEST_AT)
        block = disk.read(4096)
    if b'\n' not in block:
        return None
    line = block.split(b'\n')[0].decode(errors='replace')
    m = re.fullmatch(r'(\d+) (\S.*)', line)
    return (int(m.group(1)), m.group(2).split()) if m else None


def main():
    run = sys.argv[1]
    qmp = QMP(os.path.join(run, 'qmp.sock'), timeout=60)
    done = set()
    while True:
        req = request(run)
        if req and req[0] not in done:
            seq, what = req
            done.add(seq)
            try:
                if what == ['add-memory']:
                    text = add_memory(qmp)
                elif what == ['add-cpu']:
                    text = add_cpu(qmp)
                elif what and what[0] == 'keys':
                    text = keys(qmp, int(what[1]), [int(k) for k in what[2:]])
                else:
                    text = f'error: unknown request {" ".join(what)}'
            except QMPError as e:
                text = f'error: {e}'
            except (ConnectionError, OSError):
                return 0
            except Exception as e:  # noqa: BLE001 - the guest is told, not left waiting
                text = f'error: {type(e).__name__}: {e}'
            answer(run, seq, text)
        try:
            qmp.cmd('query-status')
        except (ConnectionError, OSError):
            return 0
        time.sleep(0.1)


if __name__ == '__main__':
    sys.exit(main())
