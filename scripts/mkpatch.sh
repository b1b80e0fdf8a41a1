#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# mkpatch.sh PRISTINE TREE PATCH FILE... : write PATCH as the diff of FILEs
# between PRISTINE and TREE, keeping PATCH's existing header (everything
# before its first diff) or starting one from $SUBJECT.  A development aid
# for editing the composed trees and saving the edit as a series patch.
set -eu
pristine=$1 tree=$2 patch=$3
shift 3
header=$(mktemp)
if [ -f "$patch" ]; then
	sed '/^--- a\//,$d' "$patch" >"$header"
else
	printf 'From: MKTME developers\nSubject: [PATCH] %s\n\n---\n' "${SUBJECT:-FIXME}" >"$header"
fi
{
	cat "$header"
	for f in "$@"; do
		if [ -e "$pristine/$f" ]; then a=$pristine/$f; else a=/dev/null; fi
		diff -u --label "a/$f" --label "b/$f" "$a" "$tree/$f" || true
	done
} >"$patch.new"
mv "$patch.new" "$patch"
rm -f "$header"
