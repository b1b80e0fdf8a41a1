#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# run-guest.sh [--shell] [--timeout SECS] [--append ARGS] [--cpu MODEL]
#              [--cpu-props PROPS] [--kernel BZIMAGE] [--run DIR]
#              [-- QEMU ARGS...]
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
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
shell=0 timeout=${MKTME_GUEST_TIMEOUT:-900} append="" run=$top/build/run kernel=""
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

args=(-L "$top/build/qemu/pc-bios" -L /usr/share/seabios -L /usr/lib/ipxe/qemu
	-machine q35 -accel "$accel" -cpu "$cpu" -m 512M
	-smp 2,sockets=2,cores=1,threads=1
	-object memory-backend-ram,id=m0,size=256M
	-object memory-backend-ram,id=m1,size=256M
	-numa node,nodeid=0,cpus=0,memdev=m0
	-numa node,nodeid=1,cpus=1,memdev=m1
	-drive "file=$run/disk.img,if=none,id=disk0,format=raw,cache=unsafe"
	-device virtio-blk-pci,drive=disk0
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
timeout --kill-after=10 "$timeout" "$qemu" "${args[@]}" -append "$cmdline" \
	-serial "file:$run/console.log" "${extra_qemu[@]}" </dev/null 2>"$run/qemu.stderr" || rc=$?
if [ -s "$run/qemu.stderr" ]; then
	cat "$run/qemu.stderr" >&2
fi
exit $rc
