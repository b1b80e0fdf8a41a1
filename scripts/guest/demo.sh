#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make demo`: show what the guest sees of the platform.
section() { echo; echo "=== $* ==="; }

section "kernel"
uname -a
section "memory encryption, as the kernel reports it"
dmesg | grep -E 'x86/(tme|mktme)|mktme:|pconfig' || echo "(no TME/MKTME lines in dmesg)"
section "MKTME in the kernel (/sys/kernel/mm/mktme)"
if [ -d /sys/kernel/mm/mktme ]; then
	for f in nr_keyids keyid_bits keyid_shift algorithms keyids_in_use; do
		echo "$f: $(cat /sys/kernel/mm/mktme/$f)"
	done
else
	echo "(not enabled)"
fi
section "CPU flags of interest"
for f in tme pconfig; do
	if grep -qw "$f" /proc/cpuinfo; then echo "$f: yes"; else echo "$f: no"; fi
done
section "topology"
for c in /sys/devices/system/cpu/cpu[0-9]*; do
	echo "$(basename "$c"): package $(cat "$c/topology/physical_package_id")," \
		"node $(basename "$(ls -d "$c"/node* 2>/dev/null)" | sed 's/node//')"
done
for n in /sys/devices/system/node/node[0-9]*; do
	echo "$(basename "$n"): $(grep MemTotal "$n/meminfo" | awk '{print $4, $5}')"
done
echo
echo "mktme-demo: done"
