#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# The kernel series as it would be posted: every patch of
# scripts/format-series.sh passes checkpatch.pl --strict.  Allowed: the
# one warning each commit message justifies (listed below).
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
checkpatch=$top/build/src/linux/scripts/checkpatch.pl

# "PATCH-NAME-GLOB:checkpatch message" pairs justified in commit messages
ALLOWED="*MKTME-core.patch:It's generally not useful to have the filename in the file
*:does MAINTAINERS need updating
*default-memory-encryption-key.patch:is not used in function-like macro"

for p in "$top"/build/series/0*.patch; do
	case "$p" in *cover-letter*) continue ;; esac
	name=$(basename "$p" .patch)
	eval "test_${name//[^a-zA-Z0-9]/_}() { check_one '$p'; }"
done

check_one() {
	local out msg
	out=$("$checkpatch" --strict --no-tree -q "$1" 2>&1 | grep -E '^(ERROR|WARNING|CHECK):')
	while IFS= read -r msg; do
		[ -n "$msg" ] || continue
		allowed=0
		while IFS= read -r a; do
			# shellcheck disable=SC2254
			case "$(basename "$1")" in ${a%%:*}) [[ "$msg" == *"${a#*:}"* ]] && allowed=1 ;; esac
		done <<<"$ALLOWED"
		[ "$allowed" = 1 ] || { echo "$msg"; return 1; }
	done <<<"$out"
	return 0
}

. "$here/lib.sh"
