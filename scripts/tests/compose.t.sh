#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# compose-tree.sh: order, idempotence, failing patches named, dropped
# patches undone.
here=$(cd "$(dirname "$0")" && pwd)
compose=$here/../compose-tree.sh

setup() {
	mkdir -p pristine/dir series new/dir
	printf 'one\ntwo\nthree\n' >pristine/dir/a.c
	printf 'x\n' >pristine/b.c
	printf 'new file\n' >new/dir/n.c
	cat >series/0001-two.patch <<'P'
Subject: [PATCH] two

--- a/dir/a.c
+++ b/dir/a.c
@@ -1,3 +1,3 @@
 one
-two
+TWO
 three
P
	cat >series/0002-three.patch <<'P'
--- a/dir/a.c
+++ b/dir/a.c
@@ -1,3 +1,3 @@
 one
 TWO
-three
+THREE
P
	printf '0001-two.patch\n0002-three.patch\n' >series/series
}

test_applies_series_in_order_and_adds_new_files() {
	setup
	"$compose" pristine out series new=. >/dev/null || return 1
	[ "$(cat out/dir/a.c)" = "$(printf 'one\nTWO\nTHREE')" ] || { cat out/dir/a.c; return 1; }
	[ "$(cat out/dir/n.c)" = "new file" ] && [ "$(cat out/b.c)" = x ]
}

test_second_run_rewrites_nothing() {
	setup
	"$compose" pristine out series new=. >/dev/null || return 1
	touch -d '2000-01-01' out/dir/a.c
	msg=$("$compose" pristine out series new=.) || return 1
	echo "$msg" | grep -q ' 0 rewritten' || { echo "$msg"; return 1; }
	[ "$(stat -c %Y out/dir/a.c)" = "$(date -d 2000-01-01 +%s)" ]
}

test_failing_patch_is_named_with_its_hunk() {
	setup
	sed -i 's/^-three/-tree/' series/0002-three.patch
	if msg=$("$compose" pristine out series new=. 2>&1); then
		echo "composition succeeded"; return 1
	fi
	echo "$msg" | grep -q '0002-three.patch' && echo "$msg" | grep -q 'Hunk #1 FAILED' ||
		{ echo "$msg"; return 1; }
}

test_dropped_patch_restores_pristine_file() {
	setup
	"$compose" pristine out series new=. >/dev/null || return 1
	: >series/series
	rm new/dir/n.c
	"$compose" pristine out series new=. >/dev/null || return 1
	[ "$(cat out/dir/a.c)" = "$(cat pristine/dir/a.c)" ] && [ ! -e out/dir/n.c ]
}

test_series_naming_a_missing_patch_fails() {
	setup
	echo 0003-gone.patch >>series/series
	msg=$("$compose" pristine out series 2>&1) && return 1
	echo "$msg" | grep -q '0003-gone.patch'
}

. "$here/lib.sh"
