#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Build the hardware model: Debian's qemu 7.2 + emulator/qemu (new files) +
# emulator/patches (edits), as a minimal x86_64-softmmu.  The binary is
# cached in ~/.cache/mktme/qemu under a hash of its inputs, so a fresh clone
# with unchanged emulator sources does not rebuild.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${MKTME_CACHE:-$HOME/.cache/mktme}
out=$top/build/qemu
src=$top/build/src/qemu

hash=$( { cat "$top/build/src/qemu.version" "$0"
	  (cd "$top/emulator" && find qemu patches -type f -print0 | sort -z | xargs -0 -r sha256sum); } |
	sha256sum | cut -c1-16)
dest=$cache/qemu/$hash
mkdir -p "$out"

install_links() {
	ln -sfn "$dest/qemu-system-x86_64" "$out/qemu-system-x86_64"
	ln -sfn "$dest/pc-bios" "$out/pc-bios"
}
if [ -x "$dest/qemu-system-x86_64" ] && [ -f "$dest/pc-bios/linuxboot_dma.bin" ]; then
	install_links
	echo "build-qemu: cached $dest"
	exit 0
fi

"$top/scripts/compose-tree.sh" "$src" "$out/src" "$top/emulator/patches" "$top/emulator/qemu=."

export CCACHE_DIR=$cache/ccache CCACHE_BASEDIR=$top CCACHE_NOHASHDIR=1
if [ ! -f "$out/obj/build.ninja" ]; then
	echo "build-qemu: configuring"
	mkdir -p "$out/obj"
	(cd "$out/obj" && CC="ccache gcc" ../src/configure --target-list=x86_64-softmmu \
		--without-default-features --enable-tcg --disable-docs \
		--disable-install-blobs --disable-werror \
		>configure.log 2>&1) ||
		{ tail -30 "$out/obj/configure.log"; echo "build-qemu: configure failed, see $out/obj/configure.log" >&2; exit 1; }
fi
echo "build-qemu: building qemu-system-x86_64"
ninja -C "$out/obj" qemu-system-x86_64 >"$out/obj/ninja.log" 2>&1 ||
	{ grep -E 'error|FAILED' "$out/obj/ninja.log" | head -40; echo "build-qemu: build failed, see $out/obj/ninja.log" >&2; exit 1; }
# The option ROMs that load -kernel images (the dfsg tarball has none).
grep -q '^ROMS=.*optionrom' "$out/obj/config-host.mak" ||
	{ echo "build-qemu: configure found no 32-bit x86 compiler for the option ROMs (gcc-multilib)" >&2; exit 1; }
make -s -C "$out/obj/pc-bios/optionrom" >"$out/obj/optionrom.log" 2>&1 ||
	{ cat "$out/obj/optionrom.log"; echo "build-qemu: option ROM build failed" >&2; exit 1; }
rm -rf "$dest.tmp"
mkdir -p "$dest.tmp/pc-bios"
cp "$out/obj/qemu-system-x86_64" "$dest.tmp/"
cp "$out"/obj/pc-bios/optionrom/*.bin "$dest.tmp/pc-bios/"
rm -rf "$dest" && mv "$dest.tmp" "$dest"
install_links
echo "build-qemu: built $dest"
