#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# mktmectl oci-hook in the test VM, through Debian's crun: a busybox
# container from a bundle built here, with the hook at createRuntime and
# poststop.  Its memory carries its own KeyID while it runs; once it
# stops, the key is revoked and the KeyID reprogrammed.  A container
# whose hook fails never runs.  Prints KTAP; exits 1 if a test failed.
set -u

n=0
failed=0
ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; }
check() {
	name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
diag() { sed 's/^/# /'; }

echo "TAP version 13"
if [ ! -d /sys/kernel/mm/mktme ]; then
	echo "1..1"
	echo "ok 1 all # SKIP no MKTME in this kernel or machine"
	exit 0
fi
echo "1..14"

b=/tmp/oci
# crun wants cgroup v2 at /sys/fs/cgroup, also with no cgroup manager
if [ ! -f /sys/fs/cgroup/cgroup.procs ]; then
	mkdir -p /sys/fs/cgroup && mount -t cgroup2 none /sys/fs/cgroup
fi
mkdir -p /run "$b/rootfs/bin" "$b/rootfs/proc" "$b/rootfs/dev" "$b/rootfs/tmp"
cp /bin/busybox "$b/rootfs/bin/"
for a in sh cat head tr sleep grep; do ln -sf busybox "$b/rootfs/bin/$a"; done
# The hook is mktmectl itself; its messages go to a log the test prints
hook=$b/hook
printf '#!/bin/sh\nexec %s "$@" 2>>%s\n' "$(command -v mktmectl)" "$b/hook.log" >"$hook"
chmod +x "$hook"
# The container: memory of its own, "ready" with its KeyID, then waits for
# "go" and checks the memory is intact.
cat >"$b/config.json" <<END
{
	"ociVersion": "1.0.2",
	"process": {
		"terminal": false,
		"user": { "uid": 0, "gid": 0 },
		"cwd": "/",
		"env": [ "PATH=/bin" ],
		"args": [ "/bin/sh", "-c",
			"x=\$(head -c 300000 /dev/zero | tr '\\\\0' c); grep MktmeKeyID /proc/self/status >/tmp/ready; while [ ! -e /tmp/go ]; do sleep 0.1; done; case \"\$x\" in *[!c]*) exit 1 ;; esac; [ \${#x} = 300000 ]" ]
	},
	"root": { "path": "rootfs" },
	"hostname": "ctr",
	"mounts": [
		{ "destination": "/proc", "type": "proc", "source": "proc" },
		{ "destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": [ "nosuid", "mode=755" ] }
	],
	"hooks": {
		"createRuntime": [ { "path": "$hook", "args": [ "hook", "oci-hook", "createRuntime" ] } ],
		"poststop": [ { "path": "$hook", "args": [ "hook", "oci-hook", "poststop" ] } ]
	},
	"linux": {
		"namespaces": [ { "type": "pid" }, { "type": "mount" }, { "type": "uts" } ]
	}
}
END
crun_() { crun --cgroup-manager=disabled "$@"; }
# the live key NAME: "SERIAL KEYID"
live_key() { mktmectl list | awk -v k="$1" '$2 == k && $7 == "live" { print $1, $3 }'; }
# shellcheck disable=SC2317 # called through check
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ "$i" -lt 100 ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$1" ]
}

calls=$(cat /sys/kernel/mm/mktme/pconfig_calls)
crun_ run --no-pivot -b "$b" ctr1 >"$b/out" 2>&1 &
run=$!
check "crun runs the container (createRuntime hook passed)" wait_for "$b/rootfs/tmp/ready"
read -r serial kid <<END
$(live_key oci-ctr1)
END
serial=${serial:-0} kid=${kid:-0}
check "the container has a key of its own, oci-ctr1 (serial $serial, KeyID $kid)" [ "$kid" -gt 0 ]
pid=$(crun_ state ctr1 | awk -F'[:,]' '/"pid"/ { gsub(/ /, "", $2); print $2 }')
check "crun state names the container's process ($pid)" [ "${pid:-0}" -gt 0 ]
check "its process's default KeyID is $kid (/proc/$pid/status)" \
	grep -q "^MktmeKeyID:[[:space:]]*$kid\$" "/proc/${pid:-0}/status"
check "inside, the container sees the same ($(cat "$b/rootfs/tmp/ready" 2>/dev/null))" \
	grep -q "^MktmeKeyID:[[:space:]]*$kid\$" "$b/rootfs/tmp/ready"
kb=$(awk -v k="$kid" '/^Rss:/ { rss = $2 } /^KeyID:/ && $2 == k { s += rss } END { print s + 0 }' "/proc/${pid:-0}/smaps")
check "its anonymous memory is under KeyID $kid (${kb} kB in smaps)" [ "$kb" -ge 290 ]
pages=$(awk -v k="$kid" '$1 == k { print $2 }' /sys/kernel/debug/mktme/keyids)
check "the kernel counts pages under KeyID $kid (${pages:-0})" [ "${pages:-0}" -ge 73 ]
touch "$b/rootfs/tmp/go"
wait "$run"
rc=$?
diag <"$b/out"
diag <"$b/hook.log"
check "the container's memory was intact, and it exited 0 ($rc)" [ "$rc" = 0 ]
check "after it stopped, poststop revoked its key" [ -z "$(live_key oci-ctr1)" ]
state=$(mktmectl list | awk -v s="$serial" '$1 == s { print $7 }')
check "the key is revoked or gone (${state:-gone})" [ "${state:-gone}" != live ]
check "its KeyID was reprogrammed (pconfig_calls $calls -> $(cat /sys/kernel/mm/mktme/pconfig_calls))" \
	[ "$(cat /sys/kernel/mm/mktme/pconfig_calls)" -gt "$calls" ]

# A hook that fails stops the container before it runs: a live key of
# its name already exists
rm -f "$b/rootfs/tmp/ready" "$b/rootfs/tmp/go"
mktmectl add oci-ctr2 >/dev/null
crun_ run --no-pivot -b "$b" ctr2 >"$b/out" 2>&1 </dev/null
rc=$?
diag <"$b/out"
diag <"$b/hook.log"
check "a container whose createRuntime hook fails does not start (exit $rc)" [ "$rc" != 0 ]
check "its program never ran" [ ! -e "$b/rootfs/tmp/ready" ]
check "the hook said why" grep -q "a live key 'oci-ctr2' exists" "$b/hook.log"
mktmectl revoke oci-ctr2 --yes >/dev/null 2>&1
crun_ delete -f ctr2 >/dev/null 2>&1

exit $((failed > 0))
