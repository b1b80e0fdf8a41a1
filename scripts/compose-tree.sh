#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# compose-tree.sh PRISTINE OUT SERIES_DIR [SRC=DST ...]
#
# Make OUT = PRISTINE + new files (each SRC copied to DST, a path inside the
# tree; SRC may be a directory) + the patches listed in SERIES_DIR/series
# (the first word of each line), applied in order, then the patches named
# in $EXTRA_PATCHES.  Only files that the overlay or the patches touch are
# rewritten, and only when their content changes, so an unchanged tree
# keeps its timestamps and incremental builds stay incremental.  A patch
# that does not apply stops the composition, naming the patch and hunk.
set -eu
pristine=$1 out=$2 series_dir=$3
shift 3

stage=$(mktemp -d "${TMPDIR:-/tmp}/compose.XXXXXX")
trap 'rm -rf "$stage"' EXIT
list=$stage/list
: >"$list"

if [ ! -e "$out/.composed" ]; then
	echo "compose: copying $pristine to $out"
	rm -rf "$out"
	mkdir -p "$(dirname "$out")"
	cp -a "$pristine" "$out"
	: >"$out/.composed"
fi

# Files the overlay provides.
mkdir -p "$stage/tree"
for m in "$@"; do
	s=${m%%=*} d=${m#*=}
	if [ -d "$s" ]; then
		(cd "$s" && find . -type f ! -name '*.o' ! -name '.*' | sed "s|^\./|$d/|") >>"$list.overlay"
		mkdir -p "$stage/tree/$d"
		(cd "$s" && find . -type f ! -name '*.o' ! -name '.*' -print0 |
			cpio -0pdm --quiet "$stage/tree/$d")
	else
		echo "$d" >>"$list.overlay"
		mkdir -p "$stage/tree/$(dirname "$d")"
		cp "$s" "$stage/tree/$d"
	fi
done
touch "$list.overlay"

series=()
if [ -f "$series_dir/series" ]; then
	while read -r p _; do
		case "$p" in ''|'#'*) continue ;; esac
		[ -f "$series_dir/$p" ] || { echo "compose: $series_dir/series names $p, which does not exist" >&2; exit 1; }
		series+=("$series_dir/$p")
	done <"$series_dir/series"
fi
for p in ${EXTRA_PATCHES:-}; do
	series+=("$p")
done

# Every file a patch touches, plus what the previous composition touched
# (so a dropped patch restores the pristine file).
{
	cat "$list.overlay"
	for p in "${series[@]}"; do
		sed -n 's|^+++ [^/]*/\([^[:space:]]*\).*|\1|p; s|^--- [^/]*/\([^[:space:]]*\).*|\1|p' "$p"
	done
	cat "$out/.composed"
} | grep -v '^dev/null$' | sort -u >"$list"

# Stage pristine copies of touched files that the overlay does not supply.
while read -r f; do
	[ -e "$stage/tree/$f" ] && continue
	if [ -f "$pristine/$f" ]; then
		mkdir -p "$stage/tree/$(dirname "$f")"
		cp "$pristine/$f" "$stage/tree/$f"
	fi
done <"$list"

for p in "${series[@]}"; do
	if ! msg=$(patch -d "$stage/tree" -p1 --batch --forward --no-backup-if-mismatch -r - <"$p" 2>&1); then
		echo "compose: patch $p does not apply to $pristine:" >&2
		echo "$msg" | grep -E 'FAILED|can.t find|No file|Reversed|malformed|garbage|missing' >&2 || echo "$msg" >&2
		exit 1
	fi
done

changed=0
while read -r f; do
	if [ -f "$stage/tree/$f" ]; then
		if ! cmp -s "$stage/tree/$f" "$out/$f"; then
			mkdir -p "$(dirname "$out/$f")"
			cp "$stage/tree/$f" "$out/$f"
			changed=$((changed + 1))
		fi
	elif [ -e "$out/$f" ]; then
		rm -f "$out/$f"
		changed=$((changed + 1))
	fi
done <"$list"
cp "$list" "$out/.composed"
rm -f "$list" "$list.overlay"
echo "compose: $out: ${#series[@]} patches, $(wc -l <"$out/.composed") files differ from pristine, $changed rewritten"
