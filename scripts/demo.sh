#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make demo: boot the model and show what the guest sees.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
run=$top/build/demo
rc=0
"$top/scripts/run-guest.sh" --run "$run" --timeout 300 --append "mktme_demo=1 kunit.enable=0" || rc=$?
sed -n '/^=== kernel/,/^mktme-demo: done/p' "$run/console.log"
if [ "$rc" != 0 ] || ! grep -q '^mktme-demo: done' "$run/console.log"; then
	echo "demo: the guest did not finish (exit $rc); console: $run/console.log" >&2
	tail -20 "$run/console.log" >&2
	exit 1
fi
echo "demo: ok"
