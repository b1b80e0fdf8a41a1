#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Install the Debian packages and sources the build needs.  Idempotent:
# does nothing when everything is already present.
set -eu

PKGS="build-essential flex bison bc cpio kmod xz-utils rsync python3 ccache
libelf-dev libssl-dev openssl libkeyutils-dev keyutils busybox-static
linux-source-6.12 dpkg-dev ninja-build meson pkg-config libglib2.0-dev
libpixman-1-dev libfdt-dev zlib1g-dev seabios ipxe-qemu socat gcc-multilib
libjson-c-dev libpam0g-dev pamtester crun debhelper"

missing=""
for p in $PKGS; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing="$missing $p"
done

SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo

if [ -n "$missing" ]; then
	echo "install-deps: installing$missing"
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The qemu source package needs a deb-src entry; Debian's images ship only
# binary entries.
if ! apt-cache showsrc qemu 2>/dev/null | grep -q '^Version: 1:7.2'; then
	f=/etc/apt/sources.list.d/mktme-deb-src.sources
	echo "install-deps: adding deb-src entries ($f)"
	$SUDO tee "$f" >/dev/null <<'SRC'
Types: deb-src
URIs: http://deb.debian.org/debian
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb-src
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
	$SUDO apt-get update -qq
fi
exit 0
