#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Compose the kernel tree (pristine 6.12 + new files + patches/series +
# MAINTAINERS.patch) in build/linux and build it in build/kbuild from
# tinyconfig plus tools/testing/selftests/mktme/config.  ccache keeps the
# cold build of a fresh clone short when the objects were seen before.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cache=${MKTME_CACHE:-$HOME/.cache/mktme}
src=$top/build/src/linux
tree=$top/build/linux
# MKTME_KBUILD: another object directory (the debug kernel: build/kbuild-debug)
obj=${MKTME_KBUILD:-$top/build/kbuild}

# Paths of this repository that hold new kernel files, as in the tree.
overlay=()
for d in arch include mm fs kernel security Documentation tools/testing/selftests/mktme tools/mktmectl; do
	[ -e "$top/$d" ] && overlay+=("$top/$d=$d")
done
[ -f "$top/Kconfig.mktme" ] && overlay+=("$top/Kconfig.mktme=arch/x86/Kconfig.mktme")

EXTRA_PATCHES=$top/MAINTAINERS.patch \
	"$top/scripts/compose-tree.sh" "$src" "$tree" "$top/patches" "${overlay[@]}"

export CCACHE_DIR=$cache/ccache CCACHE_BASEDIR=$top CCACHE_NOHASHDIR=1 CCACHE_SLOPPINESS=time_macros
export KBUILD_BUILD_TIMESTAMP="2024-01-01" KBUILD_BUILD_USER=mktme KBUILD_BUILD_HOST=mktme
mk() { make -s -C "$tree" O="$obj" CC="ccache gcc" -j"$(nproc)" "$@"; }

frag=$top/tools/testing/selftests/mktme/config
extra=${MKTME_KCONFIG:-}
stamp=$(cat "$frag" "$0" ${extra:+"$extra"} | sha256sum | cut -c1-16)
if [ "$(cat "$obj/.config.stamp" 2>/dev/null)" != "$stamp" ] || [ ! -f "$obj/.config" ]; then
	echo "build-kernel: configuring (tinyconfig + $frag${extra:+ + $extra})"
	mkdir -p "$obj"
	mk tinyconfig >/dev/null
	KCONFIG_CONFIG=$obj/.config "$tree/scripts/kconfig/merge_config.sh" -m -O "$obj" \
		"$obj/.config" "$frag" ${extra:+"$extra"} >"$obj/merge_config.log"
	mk olddefconfig >/dev/null
	# Every option the fragments ask for must have survived olddefconfig
	# (the base fragment's, unless the extra one turns them off).
	missing=$(grep -h '^CONFIG_' "$frag" ${extra:+"$extra"} | while read -r l; do
		[ -n "$extra" ] && grep -q "^# ${l%%=*} is not set" "$extra" && continue
		grep -qx "$l" "$obj/.config" || echo "$l"; done)
	if [ -n "$missing" ]; then
		echo "build-kernel: options not accepted by Kconfig (missing dependency?):" >&2
		echo "$missing" >&2
		exit 1
	fi
	echo "$stamp" >"$obj/.config.stamp"
fi

echo "build-kernel: building $(mk kernelversion) in $obj"
if ! mk bzImage >"$obj/build.log" 2>&1; then
	grep -E 'error|Error' "$obj/build.log" | head -40 >&2
	echo "build-kernel: kernel build failed, see $obj/build.log" >&2
	exit 1
fi
grep -E 'warning:' "$obj/build.log" || true
mk headers_install INSTALL_HDR_PATH="$obj/usr" >/dev/null
echo "build-kernel: $obj/arch/x86/boot/bzImage"
