#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run-guest.sh [--shell] [--timeout SECS] [--append ARGS] [--cpu MODEL]
#              [--cpu-props PROPS] [--kernel BZIMAGE] [--run DIR]
#              [--iommu] [--hotplug] [-- QEMU ARGS...]
#
# Boot the built kernel and initramfs on the built QEMU (TCG) with the
# TME-MK model on (--cpu, or MKTME_CPU, replaces the CPU): two sockets
# with one CPU each, two NUMA nodes of 256 MiB, serial console, a 16 MiB
# scratch virtio-blk disk (RUN/disk.img), and a QMP socket at RUN/qmp.sock
# for the host side.  --cpu-props adds properties to the CPU (firmware
# states of the model: mktme-firmware=unlocked, mktme-keyid-bits=0, ...).
# --kernel boots another build (the debug kernel).  Without --shell the console
# goes to RUN/console.log and the exit status is QEMU's, or 124 when the
# guest ran past the timeout and was killed.
# --iommu puts the scratch disk behind QEMU's intel-iommu (VT-d, 48-bit
# addresses: the KeyID bits fit) in translation mode.  --hotplug adds an
# empty third socket (on a third NUMA node, without memory) and room for
# a DIMM, and runs scripts/hotplug-host.py
# beside the guest to hot-add them when the guest's hotplug test asks.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
shell=0 timeout=${MKTME_GUEST_TIMEOUT:-900} append="" run=$top/build/run kernel=""
iommu=0 hotplug=0
# An Intel CPU (Linux looks for TME only on Intel) with the TME-MK model:
# phys-bits 46, KeyIDs in bits 45:40, and its missing-flush detector
# (MKTME_CHECK=on|off|strict; QEMU prints "model: N missing-flush
# reports" on stderr, RUN/qemu.stderr, when it exits).
model_cpu=max,vendor=GenuineIntel,family=6,model=106,tme=on,pconfig=on,mktme-check=${MKTME_CHECK:-on}
cpu=${MKTME_CPU:-$model_cpu}
cpu_props=""
extra_qemu=()
while [ $# -gt 0 ]; do
	case "$1" in
	--shell) shell=1 ;;
	--timeout) timeout=$2; shift ;;
	--append) append="$append $2"; shift ;;
	--cpu) cpu=$2; shift ;;
	--cpu-props) cpu_props=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--run) run=$2; shift ;;
	--iommu) iommu=1 ;;
	--hotplug) hotplug=1 ;;
	--) shift; extra_qemu=("$@"); break ;;
	*) echo "run-guest: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done

qemu=$top/build/qemu/qemu-system-x86_64
kernel=${kernel:-$top/build/kbuild/arch/x86/boot/bzImage}
initrd=$top/build/initramfs/initramfs.cpio.gz
for f in "$qemu" "$kernel" "$initrd"; do
	[ -e "$f" ] || { echo "run-guest: $f missing; run 'make build'" >&2; exit 1; }
done
cpu=$cpu${cpu_props:+,$cpu_props}
# One host thread per vCPU (MTTCG), as the model's caches must cope with;
# -icount needs a single thread.
accel=tcg,thread=multi
for a in "${extra_qemu[@]}"; do if [ "$a" = -icount ]; then accel=tcg; fi; done
mkdir -p "$run"
rm -f "$run/qmp.sock"
echo "$cpu" >"$run/cpu"
# A scratch disk for the O_DIRECT tests (virtio-blk, /dev/vda in the guest)
rm -f "$run/disk.img"
truncate -s 16M "$run/disk.img"

mem=512M smp=2,sockets=2,cores=1,threads=1 disk_props="" iommu_dev=() numa_extra=()
if [ "$hotplug" = 1 ]; then
	# the empty socket's CPU on a node of its own, without memory
	mem=512M,slots=2,maxmem=1G smp=2,sockets=3,cores=1,threads=1,maxcpus=3
	numa_extra=(-numa node,nodeid=2,cpus=2)
	append="$append mktme_hotplug=host mktme.user_keys=1"
fi
if [ "$iommu" = 1 ]; then
	iommu_dev=(-device intel-iommu,aw-bits=48)
	disk_props=,disable-legacy=on,iommu_platform=on
	append="$append intel_iommu=on iommu.passthrough=0"
fi
args=(-L "$top/build/qemu/pc-bios" -L /usr/share/seabios -L /usr/lib/ipxe/qemu
	-machine q35 -accel "$accel" -cpu "$cpu" -m "$mem"
	-smp "$smp"
	-object memory-backend-ram,id=m0,size=256M
	-object memory-backend-ram,id=m1,size=256M
	-numa node,nodeid=0,cpus=0,memdev=m0
	-numa node,nodeid=1,cpus=1,memdev=m1
	"${numa_extra[@]}"
	"${iommu_dev[@]}"
	-drive "file=$run/disk.img,if=none,id=disk0,format=raw,cache=unsafe"
	-device "virtio-blk-pci,drive=disk0$disk_props"
	-kernel "$kernel" -initrd "$initrd"
	-display none -no-reboot -nodefaults
	-qmp "unix:$run/qmp.sock,server=on,wait=off")
cmdline="console=ttyS0 panic=-1 loglevel=7$append"

if [ "$shell" = 1 ]; then
	exec "$qemu" "${args[@]}" -append "$cmdline mktme_shell=1" \
		-chardev "stdio,id=con,signal=off,logfile=$run/console.log" -serial chardev:con \
		"${extra_qemu[@]}"
fi

echo "run-guest: booting (cpu $cpu, timeout ${timeout}s, console $run/console.log)"
rc=0
if [ "$hotplug" = 1 ]; then
	rm -f "$run/console.log"
	python3 "$top/scripts/hotplug-host.py" "$run" >"$run/hotplug-host.log" 2>&1 &
fi
timeout --kill-after=10 "$timeout" "$qemu" "${args[@]}" -append "$cmdline" \
	-serial "file:$run/console.log" "${extra_qemu[@]}" </dev/null 2>"$run/qemu.stderr" || rc=$?
[ "$hotplug" = 0 ] || wait
if [ -s "$run/qemu.stderr" ]; then
	cat "$run/qemu.stderr" >&2
fi
exit $rc
