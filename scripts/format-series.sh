#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Emit the kernel series upstream-style: build/series/*.patch from
# git format-patch with a cover letter (patches/cover-letter.txt).
#
# Each line of patches/series names a patch, then the new files that
# commit adds (paths in the kernel tree; SRC=DST when the repository keeps
# the file elsewhere).  Commits are made in a scratch repository that holds
# the pristine versions of every file the series touches.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/src/linux
out=$top/build/series
repo=$top/build/series-git

[ -d "$src" ] || { echo "format-series: no pristine tree; run make deps" >&2; exit 1; }
rm -rf "$repo" "$out"
mkdir -p "$repo" "$out"
git -C "$repo" init -q
git -C "$repo" config user.name "$(git -C "$top" config user.name || echo MKTME)"
git -C "$repo" config user.email "$(git -C "$top" config user.email || echo mktme@localhost)"

# The pristine files the patches touch
grep -h '^--- a/' "$top"/patches/*.patch "$top/MAINTAINERS.patch" 2>/dev/null |
	sed 's|^--- a/||; s|[[:space:]].*||' | sort -u | while read -r f; do
	mkdir -p "$repo/$(dirname "$f")"
	cp "$src/$f" "$repo/$f"
done
git -C "$repo" add -A
git -C "$repo" commit -q -m "Linux $(make -s -C "$src" kernelversion)"

apply() { # apply PATCH NEWFILE...
	local p=$1
	shift
	patch -d "$repo" -p1 -s --no-backup-if-mismatch <"$p"
	for m in "$@"; do
		s=${m%%=*} d=${m#*=}
		[ "$s" = "$m" ] && s=$d
		mkdir -p "$repo/$(dirname "$d")"
		cp -r "$top/$s" "$repo/$d"
	done
	git -C "$repo" add -A
	# The patch's own header is the commit message.
	sed -n '/^Subject: /{s/^Subject: \[PATCH\] //;p}' "$p" >"$repo/.msg"
	sed -n '1,/^---$/p' "$p" | sed '1,/^$/d; /^---$/d' >>"$repo/.msg.body"
	{ echo; cat "$repo/.msg.body"; } >>"$repo/.msg"
	git -C "$repo" commit -q -F .msg --author="$(sed -n 's/^From: //p' "$p" | head -1)"
	rm -f "$repo/.msg" "$repo/.msg.body"
}

while read -r p files; do
	case "$p" in ''|'#'*) continue ;; esac
	# shellcheck disable=SC2086
	apply "$top/patches/$p" $files
done <"$top/patches/series"
apply "$top/MAINTAINERS.patch"

base=$(git -C "$repo" rev-list --max-parents=0 HEAD)
n=$(git -C "$repo" rev-list --count "$base"..HEAD)
git -C "$repo" format-patch -q --cover-letter -o "$out" --subject-prefix="RFC PATCH" "$base"
if [ -f "$top/patches/cover-letter.txt" ]; then
	python3 - "$out"/0000-cover-letter.patch "$top/patches/cover-letter.txt" <<'PY'
import sys
cover, text = sys.argv[1], open(sys.argv[2]).read()
s = open(cover).read()
subject, _, body = text.partition('\n\n')
s = s.replace('*** SUBJECT HERE ***', subject.strip())
s = s.replace('*** BLURB HERE ***', body.strip())
open(cover, 'w').write(s)
PY
fi
echo "format-series: $n patches and a cover letter in $out"
