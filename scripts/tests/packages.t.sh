#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# The user-space half as an admin installs it: make install into a
# DESTDIR, a program built against the installed libmktme with
# pkg-config, and the Debian packages (make debs, into build/deb)
# installed into a scratch root with dpkg.  Prints TAP.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); echo "not ok $n $1"; }
check() {
	name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
diag() { sed 's/^/# /'; }
multiarch=$(dpkg-architecture -qDEB_HOST_MULTIARCH)

echo "TAP version 13"
echo "1..12"

d=$tmp/dest
make -s -C "$top" install DESTDIR="$d" PREFIX=/usr >"$tmp/install.log" 2>&1
rc=$?
diag <"$tmp/install.log"
check "make install DESTDIR PREFIX=/usr" [ "$rc" = 0 ]
for f in usr/bin/mktmectl usr/lib/libmktme.so.0 usr/lib/pkgconfig/libmktme.pc \
	usr/lib/security/pam_mktme.so usr/share/man/man8/pam_mktme.8; do
	[ -e "$d/$f" ] || echo "$f" >>"$tmp/missing"
done
check "it installs mktmectl, libmktme, its .pc, pam_mktme and their manuals" [ ! -s "$tmp/missing" ]
v=$(LD_LIBRARY_PATH=$d/usr/lib "$d/usr/bin/mktmectl" --version 2>&1)
check "the installed mktmectl runs, linked to libmktme.so.0 ($v)" \
	sh -c "echo '$v' | grep -q '^mktmectl [0-9]' && LD_LIBRARY_PATH=$d/usr/lib ldd $d/usr/bin/mktmectl | grep -q 'libmktme.so.0 => $d'"

# An application built with pkg-config against what was installed
cat >"$tmp/app.c" <<'END'
#include <errno.h>
#include <stdio.h>
#include <mktme.h>
int main(void)
{
	puts(mktme_strerror(ENOSPC));
	return mktme_available() || errno == ENODEV ? 0 : 1;
}
END
flags=$(PKG_CONFIG_SYSROOT_DIR=$d PKG_CONFIG_LIBDIR=$d/usr/lib/pkgconfig pkg-config --cflags --libs libmktme)
cc -o "$tmp/app" "$tmp/app.c" $flags 2>&1 | diag
out=$(LD_LIBRARY_PATH=$d/usr/lib "$tmp/app" 2>&1)
check "an application builds with pkg-config and calls libmktme ($out)" \
	sh -c "echo '$out' | grep -q 'every KeyID is in use'"
cc -static -o "$tmp/app-static" "$tmp/app.c" $flags 2>&1 | diag
check "and links statically too" sh -c "$tmp/app-static >/dev/null"
nm -D "$d/usr/lib/libmktme.so.0" | awk '$2 == "T" { print $3 }' | sort >"$tmp/syms"
check "libmktme exports only mktme_*, versioned LIBMKTME_0 ($(wc -l <"$tmp/syms") symbols)" \
	sh -c "! grep -v '^mktme_.*@@LIBMKTME_0\$' $tmp/syms"

# The packages
make -s -C "$top" debs >"$tmp/debs.log" 2>&1
rc=$?
diag <"$tmp/debs.log"
check "make debs (dpkg-buildpackage) succeeds" [ "$rc" = 0 ]
debs=$(ls "$top"/build/deb/*.deb 2>/dev/null | grep -v dbgsym)
check "it builds mktmectl, libmktme0, libmktme-dev and libpam-mktme ($(echo $debs | wc -w) .debs)" \
	sh -c "for p in mktmectl libmktme0 libmktme-dev libpam-mktme; do ls $top/build/deb/\${p}_*.deb >/dev/null 2>&1 || exit 1; done"
r=$tmp/root
mkdir -p "$r/var/lib/dpkg/info" "$r/var/lib/dpkg/updates"
: >"$r/var/lib/dpkg/status"
dpkg --root="$r" --force-depends --force-script-chrootless -i $debs >"$tmp/dpkg.log" 2>&1
rc=$?
diag <"$tmp/dpkg.log"
check "dpkg installs them into a scratch root" [ "$rc" = 0 ]
v=$(LD_LIBRARY_PATH=$r/usr/lib/$multiarch "$r/usr/bin/mktmectl" --version 2>&1)
check "mktmectl --version from the scratch root ($v)" sh -c "echo '$v' | grep -q '^mktmectl [0-9]'"
check "pam_mktme.so is where libpam looks" [ -f "$r/usr/lib/$multiarch/security/pam_mktme.so" ]
dpkg --root="$r" -s libpam-mktme 2>/dev/null | grep -q '^Status: install ok installed'
check "dpkg knows libpam-mktme as installed" [ $? = 0 ]
