#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Run every test: the host-side tests, then each guest configuration on the
# hardware model.  Ends with the line "N passed, N failed, N skipped".
# MKTME_TESTS=prog[,prog] limits the guest to those kselftest programs.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/check
kunit=$top/build/linux/tools/testing/kunit
rm -rf "$out"
mkdir -p "$out"

# Host tests: TAP producers, one per file.
host_tests() {
	local t name p f s
	for t in "$top"/scripts/tests/*.t.sh "$top"/build/emulator-tests/xts-test \
		 "$top"/tools/mktmectl/tests/host.t.sh; do
		name=host-$(basename "$t" .t.sh)
		[ "$t" = "$top/tools/mktmectl/tests/host.t.sh" ] && name=host-mktmectl
		KUNIT_DIR=$kunit sh -c '"$0" "$@"' "$t" "$top/build/initramfs/mktmectl/mktmectl-test" \
			>"$out/$name.tap" 2>&1
		p=$(grep -Ec '^ok [0-9]+ ' "$out/$name.tap" | tr -d ' ')
		s=$(grep -Ec '^ok [0-9]+ .*# SKIP' "$out/$name.tap" | tr -d ' ')
		f=$(grep -Ec '^not ok [0-9]+ ' "$out/$name.tap" | tr -d ' ')
		p=$((p - s))
		if ! grep -q '^1\.\.[1-9]' "$out/$name.tap"; then f=$((f + 1)); fi
		echo "$p $f $s" >"$out/$name.counts"
		echo "$name: $p passed, $f failed, $s skipped"
		[ "$f" = 0 ] || sed -n '/^not ok/,/^ok/p' "$out/$name.tap" | grep -v '^ok'
	done
}

# guest_run NAME [run-guest.sh options]: boot, then judge the console.
guest_run() {
	local name=$1 rc=0 kunit_flag=()
	shift
	"$top/scripts/run-guest.sh" --run "$out/$name" \
		${MKTME_TESTS:+--append "mktme_tests=$MKTME_TESTS"} "$@" || rc=$?
	# KUnit runs at boot unless the run turns it off (its output, if any,
	# is still parsed)
	case " $* " in
	*kunit.enable=0*) ;;
	*) grep -q '^CONFIG_MKTME_KUNIT_TEST=y' "$top/build/kbuild/.config" && kunit_flag=(--expect-kunit) ;;
	esac
	python3 "$top/scripts/ktap-check.py" "$out/$name/console.log" --label "$name" \
		--kunit-dir "$kunit" --counts "$out/$name.counts" --exit-code "$rc" \
		"${kunit_flag[@]}"
	model_reports "$name" "$out/$name"
}

# model_reports NAME RUN: the model's missing-flush detector, one line per
# boot; any report fails it.  A CPU without TME has no model.
model_reports() {
	local name=$1 run=$2 line
	grep -q 'tme=on' "$run/cpu" 2>/dev/null || return 0
	# firmware that activated no KeyIDs: no engine, no caches
	grep -qE 'mktme-keyid-bits=0|mktme-firmware=disabled' "$run/cpu" && return 0
	line=$(grep -E '^model: [0-9]+ missing-flush reports' "$run/qemu.stderr" | tail -1)
	[ -n "$line" ] || line="model: no missing-flush summary (QEMU did not exit normally)"
	echo "$name: $line"
	case $line in
	"model: 0 missing-flush reports"*) echo "1 0 0" >"$out/$name-model.counts" ;;
	*)	echo "0 1 0" >"$out/$name-model.counts"
		grep -E 'missing flush' "$run/qemu.stderr" | head -20 ;;
	esac
}

"$top/scripts/format-series.sh" >"$out/format-series.log" 2>&1 || cat "$out/format-series.log"
host_tests
echo "emulator: the hardware model on its own (emulator/tests/suite.py)"
python3 "$top/emulator/tests/suite.py" --counts "$out/emulator.counts" >"$out/emulator.ktap" 2>&1
grep -E '^(not ok|ok) |^    not ok|passed, ' "$out/emulator.ktap" | grep -v '^ok ' || true
[ -s "$out/emulator.counts" ] || { tail -20 "$out/emulator.ktap"; echo "0 1 0" >"$out/emulator.counts"; }
# The model as the kernel sees it, the same with mktme=off, then stock
# QEMU's CPU (no TME).
# As Debian boots: with init_on_alloc
guest_run guest --append "mktme_expect=tme init_on_alloc=1"
python3 "$top/scripts/mm-selftests.py" "$out/guest/console.log" --counts "$out/guest-mm.counts"
# The debug kernel (KASAN, KFENCE, lockdep, DEBUG_VM, kmemleak:
# tools/testing/selftests/mktme/config.debug; debug_pagealloc and page
# poisoning, which takes precedence over init_on_*) runs every MKTME selftest,
# the stress, and the mm selftests under a default key; any report of
# theirs fails the run.  Left out, for time: the plain mm selftests (no
# MKTME path their keyed runs miss), and uffd-unit-tests and
# ksm_functional_tests, 6 and 9 minutes each on this kernel, which the
# main guest runs keyed.
debug_tests=${MKTME_TESTS:-$(grep -v -e '^mm/' -e 'uffd-unit-tests' -e 'ksm_functional_tests' \
	"$top/build/initramfs/root/tests/list" | paste -sd, -)}
guest_run guest-debug --kernel "$top/build/kbuild-debug/arch/x86/boot/bzImage" \
	--timeout 2700 --append "mktme_expect=tme mktme_timeout=900 init_on_alloc=1 init_on_free=1 \
	debug_pagealloc=on page_poison=1 mktme_tests=$debug_tests"
# init_on_free makes the allocator rely on what free pages hold: the
# MKTME paths that allocate, free and re-key, and the keyed cow selftest.
# Under 4-level paging (no5lvl), where KASLR has 117.5 TiB to place the
# direct map, its 64 TiB of KeyID aliases, vmalloc space and the struct
# pages in (the other runs have 5-level paging).
guest_run guest-init-on-free --append "mktme_expect=tme init_on_free=1 no5lvl \
	mktme_tests=mktme/encrypt_mprotect,mktme/paths,mktme/swap,mktme/revoke,mktme/lifetime,mm-keyed/cow"
guest_run guest-mktme-off --append "mktme=off mktme_expect=off"
guest_run guest-notme --cpu max,vendor=GenuineIntel,family=6,model=106 \
	--append mktme_expect=none
# Firmware states the kernel must cope with (emulator/README.md)
guest_run guest-fw-unlocked --cpu-props mktme-firmware=unlocked \
	--append "mktme_expect=unlocked mktme_tests=mktme/platform"
guest_run guest-fw-disabled --cpu-props mktme-firmware=disabled \
	--append "mktme_expect=disabled mktme_tests=mktme/platform"
guest_run guest-fw-nokeyids --cpu-props mktme-keyid-bits=0 \
	--append "mktme_expect=nokeyids mktme_tests=mktme/platform"
guest_run guest-fw-tdx --cpu-props mktme-tdx-keyid-bits=1 \
	--append "mktme_expect=tme mktme_expect_keyids=31 mktme_tests=mktme/platform,mktme/keys,mktme/revoke"
guest_run guest-fw-maxbits --cpu-props mktme-max-keyid-bits=8 \
	--append "mktme_expect=tme mktme_tests=mktme/platform,mktme/keys"
# MAXPHYADDR 52 puts KeyIDs at bit 46: under 4-level paging (no5lvl;
# the model's CPU has LA57) their direct-map aliases would run into
# vmalloc space and beyond, and MKTME says no.
guest_run guest-fw-physbits52 --cpu-props phys-bits=52 \
	--append "mktme_expect=toowide no5lvl mktme_tests=mktme/platform"
# kexec: the first kernel leaves lines of a KeyID dirty in both packages'
# caches and jumps into the same kernel (and initramfs, attached as
# disks), whose memory must stay intact.  mktme-check=strict: the model
# writes a line left dirty back over it, as hardware may.
for f in kernel:build/kbuild/arch/x86/boot/bzImage initrd:build/initramfs/initramfs.cpio.gz; do
	cp "$top/${f#*:}" "$out/kexec-${f%%:*}.img"
	truncate -s %512 "$out/kexec-${f%%:*}.img"
done
guest_run guest-kexec --cpu-props mktme-check=strict \
	--append "mktme_expect=tme mktme_kexec=jump kunit.enable=0 \
	mktme_tests=mktme/platform,mktme/kexec" -- \
	-drive "file=$out/kexec-kernel.img,if=none,id=kexec-kernel,format=raw,readonly=on" \
	-device virtio-blk-pci,drive=kexec-kernel,serial=kexec-kernel \
	-drive "file=$out/kexec-initrd.img,if=none,id=kexec-initrd,format=raw,readonly=on" \
	-device virtio-blk-pci,drive=kexec-initrd,serial=kexec-initrd
# The disk behind an IOMMU in translation mode (VT-d): O_DIRECT into
# encrypted buffers through IOVAs whose page tables carry the KeyID.
guest_run guest-iommu --iommu --append "mktme_expect=tme mktme_tests=mktme/platform,mktme/dma"
# Memory and a CPU of a new package hot-added from the host (QMP
# device_add, scripts/hotplug-host.py) while keys are in use.
guest_run guest-hotplug --hotplug --append "mktme_expect=tme mktme_tests=mktme/platform,mktme/hotplug"
# Booted with maxcpus=1: package 1 owns node 1's memory and has no online
# CPU, so no key can be added until its CPU comes online (no KUnit: its
# cases add keys at boot).
guest_run guest-maxcpus --append "mktme_expect=tme maxcpus=1 kunit.enable=0 mktme_tests=mktme/hotplug"
# make demo's stories, with the host's checks on guest RAM
echo "demo: make demo's three stories, checked from the host (demo/demo.py)"
python3 "$top/demo/demo.py" --run "$out/demo" --counts "$out/demo.counts" >"$out/demo.log" 2>&1
sed -n '/^=== Verdict/,$p' "$out/demo.log" | grep -E '^(story|guest)'
grep -E '^(host|guest): FAIL' "$out/demo.log"
[ -s "$out/demo.counts" ] || { tail -20 "$out/demo.log"; echo "0 1 0" >"$out/demo.counts"; }
model_reports demo "$out/demo"

read -r passed failed skipped < <(cat "$out"/*.counts |
	awk '{p += $1; f += $2; s += $3} END {print p + 0, f + 0, s + 0}')
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
