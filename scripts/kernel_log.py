# SPDX-License-Identifier: GPL-2.0
"""What in a guest's console log means the kernel went wrong.

Shared by scripts/ktap-check.py (make check), demo/demo.py and
bench/bench.py: an oops, BUG, WARNING (lockdep's reports among them), panic,
sanitizer report, lockup, kmemleak report, or page poisoning finding a
free page changed.
"""
import re

KERNEL_ERRORS = re.compile(
    r'(Oops:|BUG:|kernel BUG at|WARNING:|Kernel panic|KASAN:|UBSAN:|KFENCE:|'
    r'general protection fault|Unable to handle kernel|RIP: 0010:|'
    r'watchdog: BUG: soft lockup|INFO: task .* blocked|'
    r'suspected memory leak|unreferenced object 0x|'
    r'pagealloc: memory corruption|pagealloc: single bit error)')
