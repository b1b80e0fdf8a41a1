#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Unpack the pristine sources from Debian: linux-source-6.12 and the qemu
# 7.2 source package (with Debian's patches applied).  Unpacks once; prints
# the versions in use every time.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
src=$top/build/src
mkdir -p "$src"

ktar=/usr/src/linux-source-6.12.tar.xz
[ -r "$ktar" ] || { echo "fetch-sources: $ktar missing; run scripts/install-deps.sh" >&2; exit 1; }
kver=$(dpkg-query -W -f='${Version}' linux-source-6.12)
if [ "$(cat "$src/linux.version" 2>/dev/null)" != "$kver" ]; then
	echo "fetch-sources: unpacking linux-source-6.12 $kver"
	rm -rf "$src/linux" "$src/linux-source-6.12"
	tar -C "$src" -xJf "$ktar"
	mv "$src/linux-source-6.12" "$src/linux"
	echo "$kver" >"$src/linux.version"
fi

qver=$(apt-cache showsrc qemu | sed -n 's/^Version: 1:\(7\.2.*\)/\1/p' | sort -V | tail -1)
[ -n "$qver" ] || { echo "fetch-sources: no qemu 7.2 source package; run scripts/install-deps.sh" >&2; exit 1; }
if [ "$(cat "$src/qemu.version" 2>/dev/null)" != "$qver" ]; then
	echo "fetch-sources: fetching qemu source $qver"
	rm -rf "$src/qemu" "$src/qemu-dl"
	mkdir -p "$src/qemu-dl"
	# Debian's keyring is not installed for source packages: the archive's
	# Release signature already vouches for the files' checksums.
	(cd "$src/qemu-dl" &&
		apt-get source -q -o APT::Sandbox::User=root --download-only "qemu=1:$qver" >../qemu-dl.log 2>&1 &&
		dpkg-source -q --no-check -x ./*.dsc qemu >>../qemu-dl.log 2>&1) ||
		{ cat "$src/qemu-dl.log" >&2; echo "fetch-sources: could not fetch the qemu source" >&2; exit 1; }
	mv "$src/qemu-dl/qemu" "$src/qemu"
	rm -rf "$src/qemu-dl"
	echo "$qver" >"$src/qemu.version"
fi

echo "fetch-sources: linux $(make -s -C "$src/linux" kernelversion) (linux-source-6.12 $kver), qemu $(cat "$src/qemu/VERSION") (qemu $qver)"
