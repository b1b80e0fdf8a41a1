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
printf '%s\n' root:x:0:0:root:/root:/bin/sh alice:x:1000:1000:Alice:/tmp:/bin/sh \
	nobody:x:65534:65534:nobody:/:/bin/false >"$root/etc/passwd"
printf '%s\n' root:x:0: alice:x:1000: nogroup:x:65534: >"$root/etc/group"

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

# The kernel's own mm selftests that apply, run plain (mm/NAME) and with
# every anonymous page under a default key (mm-keyed/NAME), after ours.
mm_tests="cow gup_longterm madv_populate mlock2-tests mremap_test mremap_dontunmap
	mrelease_test uffd-unit-tests pagemap_ioctl ksm_functional_tests mseal_test mkdirty
	droppable map_fixed_noreplace compaction_test on-fault-limit"
echo "build-initramfs: building selftests/mm ($(echo $mm_tests | wc -w) programs)"
mkdir -p "$out/selftests/mm" "$root/tests/mm"
make -s -C "$tree/tools/testing/selftests/mm" OUTPUT="$out/selftests/mm" \
	KHDR_INCLUDES="-isystem $obj/usr/include" LDFLAGS=-static CC="ccache gcc" \
	$(for t in $mm_tests; do echo "$out/selftests/mm/$t"; done) >"$out/selftests/mm.log" 2>&1 ||
	{ grep -E 'error' "$out/selftests/mm.log" >&2; echo "build-initramfs: selftests/mm did not build" >&2; exit 1; }
for t in $mm_tests; do
	cp "$out/selftests/mm/$t" "$root/tests/mm/"
	echo "mm/$t" >>"$root/tests/list"
done
for t in $mm_tests; do echo "mm-keyed/$t" >>"$root/tests/list"; done

# The admin tool, static, and its in-guest test
echo "build-initramfs: building libmktme, mktmectl and pam_mktme"
for t in libmktme mktmectl pam_mktme; do
	make -s -C "$top/tools/$t" O="$out/$t" LIBMKTME_O="$out/libmktme" STATIC=1 \
		KHDR_INCLUDES="-isystem $obj/usr/include" CC="ccache gcc" >"$out/$t.log" 2>&1 ||
		{ cat "$out/$t.log" >&2; echo "build-initramfs: $t did not build" >&2; exit 1; }
done
cp "$out/mktmectl/mktmectl" "$root/bin/"
mkdir -p "$root/tests/mktmectl"
cp "$top/tools/mktmectl/tests/guest.sh" "$root/tests/mktmectl/guest.sh"
chmod +x "$root/tests/mktmectl/guest.sh"
echo "mktmectl/guest.sh" >>"$root/tests/list"

# copy_dynamic FILE...: programs and modules linked dynamically, with the
# libraries ldd finds for them, at their paths on this machine
copy_libs() {
	local l
	for l in $(ldd "$1" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }'); do
		mkdir -p "$root$(dirname "$l")"
		cp -L "$l" "$root$l"
	done
}
copy_dynamic() {
	local f
	for f in "$@"; do
		mkdir -p "$root$(dirname "$f")"
		cp -L "$f" "$root$f"
		copy_libs "$f"
	done
}
# Debian's keyctl, crun, libpam and pamtester, and pam_mktme with its
# libmktme
pam=/lib/x86_64-linux-gnu/security
copy_dynamic /usr/bin/keyctl /usr/bin/crun /usr/bin/pamtester "$pam/pam_exec.so" "$pam/pam_permit.so"
cp "$top/tools/mktmectl/tests/oci-crun.sh" "$root/tests/mktmectl/oci-crun.sh"
chmod +x "$root/tests/mktmectl/oci-crun.sh"
echo "mktmectl/oci-crun.sh" >>"$root/tests/list"
cp "$out/libmktme/libmktme.so.0" "$root/lib/x86_64-linux-gnu/"
cp "$out/pam_mktme/pam_mktme.so" "$root$pam/"
copy_libs "$root$pam/pam_mktme.so"
printf '%s\n' "passwd: files" "group: files" >"$root/etc/nsswitch.conf"
mkdir -p "$root/tests/pam_mktme"
cp "$top/tools/pam_mktme/tests/guest.sh" "$root/tests/pam_mktme/guest.sh"
chmod +x "$root/tests/pam_mktme/guest.sh"
ccache gcc -O2 -Wall -Wextra -static -isystem "$obj/usr/include" \
	-o "$root/tests/pam_mktme/session-child" "$top/tools/pam_mktme/tests/session-child.c"
echo "pam_mktme/guest.sh" >>"$root/tests/list"

# make demo's guest side
echo "build-initramfs: building the demo"
cp "$top/demo/guest/demo.sh" "$root/demo.sh"
ccache gcc -O2 -Wall -Wextra -static -isystem "$obj/usr/include" \
	-o "$root/bin/mktme-demo" "$top/demo/guest/mktme-demo.c"
# make bench's guest side
ccache gcc -O2 -Wall -Wextra -static -isystem "$obj/usr/include" \
	-o "$root/bin/mktme-bench" "$top/bench/guest/mktme-bench.c"

(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0 | gzip -1 >"$out/initramfs.cpio.gz")
echo "build-initramfs: $out/initramfs.cpio.gz ($(sed 's/$/ /' "$root/tests/list" | tr -d '\n'))"
