#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the guest's initramfs: Debian's busybox-static, our /init, and the
# statically linked kselftests (built against the composed tree's UAPI
# headers), listed in /tests/list in the order they run.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux
obj=$top/build/kbuild
out=$top/build/initramfs
root=$out/root

[ -d "$obj/usr/include" ] || { echo "build-initramfs: no UAPI headers in $obj; run scripts/build-kernel.sh" >&2; exit 1; }

rm -rf "$root"
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,root,etc,tests}
cp /bin/busybox "$root/bin/busybox"
cp "$top/scripts/guest/init" "$root/init"
cp "$top/scripts/guest/demo.sh" "$root/demo.sh"

: >"$root/tests/list"
for suite in mktme; do
	echo "build-initramfs: building selftests/$suite"
	mkdir -p "$out/selftests/$suite"
	make -s -C "$tree/tools/testing/selftests/$suite" OUTPUT="$out/selftests/$suite" \
		KHDR_INCLUDES="-isystem $obj/usr/include" LDFLAGS=-static CC="ccache gcc"
	make -s -C "$tree/tools/testing/selftests/$suite" COLLECTION="$suite" emit_tests |
		tr ':' '/' >>"$root/tests/list"
	mkdir -p "$root/tests/$suite"
	cp -a "$out/selftests/$suite"/. "$root/tests/$suite/"
	find "$root/tests/$suite" -name '*.o' -delete
done

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 >"$out/initramfs.cpio.gz")
echo "build-initramfs: $out/initramfs.cpio.gz ($(sed 's/$/ /' "$root/tests/list" | tr -d '\n'))"
