# SPDX-License-Identifier: GPL-2.0
# Minimal TAP helpers for the host-side tests of scripts/.
# A test file defines functions named test_* and sources this file last.
set -u
__n=0 __fail=0
ok() { __n=$((__n + 1)); echo "ok $__n $1"; }
not_ok() { __n=$((__n + 1)); __fail=$((__fail + 1)); echo "not ok $__n $1"; shift; for l in "$@"; do echo "# $l"; done; }
# check NAME CMD...: the test passes when CMD succeeds.
check() { local name=$1; shift; if out=$("$@" 2>&1); then ok "$name"; else not_ok "$name" "$out"; fi; }
tests=$(declare -F | awk '$3 ~ /^test_/ {print $3}')
echo "TAP version 13"
echo "1..$(echo "$tests" | wc -l)"
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
for t in $tests; do
	mkdir "$TMP/$t"
	if out=$(cd "$TMP/$t" && "$t" 2>&1); then
		ok "${t#test_}"
	else
		not_ok "${t#test_}" "$out"
	fi
done
[ $__fail = 0 ]
