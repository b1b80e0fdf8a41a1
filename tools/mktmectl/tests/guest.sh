#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# mktmectl in the test VM: run as root, mktmectl in PATH, on a kernel with
# MKTME (hardware or the QEMU model).  Prints KTAP; exits 1 if a test failed.
# It revokes every mktme key of root (the purge test): run it in a test VM only.
set -u

n=0
failed=0
pids=""

ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; }
# check NAME CMD...: ok if CMD succeeds
check() {
	name=$1
	shift
	if "$@"; then ok "$name"; else notok "$name"; fi
}
diag() { sed 's/^/# /'; }
cleanup() { for p in $pids; do kill "$p" 2>/dev/null; done; }
trap cleanup EXIT

# gone PID: the process has exited (or is a zombie), waiting up to 10 s
gone() {
	i=0
	while [ $i -lt 20 ]; do
		st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
		case $st in "" | Z) return 0 ;; esac
		sleep 0.5
		i=$((i + 1))
	done
	return 1
}

# the list line of serial $1: SERIAL NAME KEYID TYPE ALGORITHM OWNER STATE PAGES PIDS
list_field() { mktmectl list | awk -v s="$1" -v f="$2" '$1 == s { print $f }'; }

echo "TAP version 13"

# Without MKTME, status must say so (exit 3) and why; the rest cannot run.
if [ ! -d /sys/kernel/mm/mktme ]; then
	echo "1..2"
	out=$(mktmectl status 2>&1); rc=$?
	echo "$out" | diag
	check "status without MKTME exits 3 (unsupported)" [ "$rc" = 3 ]
	check "status explains why" sh -c "echo '$out' | grep -q 'FAIL kernel'"
	exit $((failed > 0))
fi
echo "1..42"

# status
out=$(mktmectl status 2>&1); rc=$?
echo "$out" | diag
check "status: MKTME usable (exit 0)" [ "$rc" = 0 ]
if [ "$rc" != 0 ]; then
	echo "Bail out! MKTME is not usable here: see the status lines above"
	exit 1
fi
echo "$out" | grep -q "^ok swap: encrypted memory is kept out of swap"
check "status: the swap policy as the kernel reports it ($(cat /sys/kernel/mm/mktme/swap_plaintext))" \
	[ $? = "$(cat /sys/kernel/mm/mktme/swap_plaintext)" ]

# add a cpu key, list shows it with its KeyID
key=$(mktmectl add gtest-cpu); rc=$?
check "add gtest-cpu prints a serial" sh -c "[ $rc = 0 ] && [ '$key' -gt 0 ] 2>/dev/null"
kid=$(list_field "$key" 3)
check "list shows gtest-cpu with a KeyID ($kid)" sh -c "[ '$(list_field "$key" 2)' = gtest-cpu ] && [ '${kid:-0}' -gt 0 ] 2>/dev/null"
mktmectl list --json | grep -q "\"serial\":$key,\"name\":\"gtest-cpu\",\"keyid\":$kid,\"type\":\"cpu\""
check "list --json shows it too" [ $? = 0 ]

# exec a sleeper under the key
mktmectl exec --key gtest-cpu -- sleep 100 &
spid=$!
pids="$pids $spid"
sleep 1
check "exec: the sleeper's MktmeKeyID is $kid" \
	grep -q "^MktmeKeyID:[[:space:]]*$kid\$" "/proc/$spid/status"
list_field "$key" 9 | tr , '\n' | grep -qx "$spid"
check "list shows the sleeper $spid bound to gtest-cpu" [ $? = 0 ]
mktmectl exec --key nosuchkey -- true 2>/dev/null
check "exec with an unknown key exits 125, not a status COMMAND could have" [ $? = 125 ]
mktmectl exec --key gtest-cpu -- sh -c 'exit 3'
check "exec exits with COMMAND's status" [ $? = 3 ]
mktmectl exec --key gtest-cpu -- /nonexistent/command 2>/dev/null
check "exec of a COMMAND not found exits 127" [ $? = 127 ]
mktmectl exec --key gtest-cpu -- /proc/self/status 2>/dev/null
check "exec of a COMMAND that cannot run exits 126" [ $? = 126 ]

# bind a process holding memory, re-keying it
sh -c 'x=$(head -c 300000 /dev/zero | tr "\0" a); while :; do sleep 1; : "${#x}"; done' &
hpid=$!
pids="$pids $hpid"
sleep 1
mktmectl bind gtest-cpu --pid "$hpid"
check "bind --pid $hpid exits 0" [ $? = 0 ]
check "smaps of $hpid has KeyID $kid" grep -q "^KeyID:[[:space:]]*$kid\$" "/proc/$hpid/smaps"
check "$hpid is alive after re-keying" kill -0 "$hpid"
# The contents survive re-keying: the process checks them after the bind
sh -c 'x=$(head -c 200000 /dev/zero | tr "\0" b)
	while [ ! -e /tmp/gtest-go ]; do sleep 0.2; done
	case "$x" in *[!b]*) exit 1 ;; esac
	[ ${#x} -eq 200000 ]' &
vpid=$!
sleep 1
mktmectl bind gtest-cpu --pid "$vpid" >/dev/null
touch /tmp/gtest-go
wait "$vpid"
check "the memory of $vpid kept its contents through re-keying" [ $? = 0 ]
pg=$(list_field "$key" 8)
check "list counts pages under gtest-cpu ($pg)" sh -c "[ '${pg:-0}' -ge 73 ]"

# bind errors
mktmectl bind gtest-cpu --pid 999999 2>/dev/null
check "bind to a missing pid exits 6" [ $? = 6 ]

# revoke is secure erase
before=$(cat /sys/kernel/mm/mktme/erased_pages)
mktmectl revoke gtest-cpu </dev/null 2>/dev/null
check "revoke without --yes and no terminal exits 1" [ $? = 1 ]
out=$(mktmectl revoke gtest-cpu --yes </dev/null 2>&1); rc=$?
echo "$out" | diag
check "revoke --yes exits 0" [ "$rc" = 0 ]
echo "$out" | grep -q "pid $hpid (sh): bound to it"
check "revoke reports $hpid as bound" [ $? = 0 ]
after=$(cat /sys/kernel/mm/mktme/erased_pages)
check "erased_pages grew ($before -> $after)" [ "$after" -gt "$before" ]
if gone "$hpid"; then
	wait "$hpid"
	st=$?
	# SIGBUS is 7: exit status 135
	check "the bound process died touching its memory (status $st)" [ "$st" -gt 128 ]
else
	notok "the bound process died touching its memory (still running)"
fi

# unknown or revoked keys
mktmectl revoke gtest-cpu --yes 2>/dev/null
check "revoking the revoked key by name exits 6 (no live key)" [ $? = 6 ]
mktmectl revoke nosuchkey --yes 2>/dev/null
check "revoke of an unknown key exits 6" [ $? = 6 ]

# duplicate names, JSON schema
k2=$(mktmectl add gtest-p1)
mktmectl add gtest-p1 2>/dev/null
check "add of an existing name exits 6" [ $? = 6 ]
mktmectl --json add gtest-p2 | grep -q '^{"schema":"mktmectl/1","command":"add","serial":[0-9]*,"name":"gtest-p2","keyid":[0-9]*,'
check "add --json follows schema mktmectl/1" [ $? = 0 ]

# user keys: allowed only with mktme.user_keys=1
if mktmectl status | grep -q '^ok user-keys: allowed'; then
	k3=$(mktmectl add gtest-user --type user --algorithm aes-xts-256)
	check "add --type user aes-xts-256" [ "$(list_field "$k3" 4)" = user ]
else
	mktmectl add gtest-user --type user 2>/dev/null
	check "add --type user without mktme.user_keys=1 exits 3" [ $? = 3 ]
fi

# bind a cgroup
cg=/sys/fs/cgroup
if [ ! -f $cg/cgroup.procs ]; then
	mkdir -p $cg && mount -t cgroup2 none $cg 2>/dev/null
fi
if [ -f $cg/cgroup.procs ] && mkdir -p $cg/gtest 2>/dev/null; then
	sleep 100 &
	cpid=$!
	pids="$pids $cpid"
	echo "$cpid" >$cg/gtest/cgroup.procs
	out=$(mktmectl bind "$k2" --cgroup gtest 2>&1)
	echo "$out" | diag
	echo "$out" | grep -q "^bound 1 of 1 processes in $cg/gtest"
	check "bind --cgroup binds its process" [ $? = 0 ]
	k2id=$(list_field "$k2" 3)
	# a slice with no process of its own: its pod's are bound
	mkdir -p $cg/gtest-slice/pod
	sleep 100 &
	ppid=$!
	pids="$pids $ppid"
	echo "$ppid" >$cg/gtest-slice/pod/cgroup.procs
	out=$(mktmectl bind "$k2" --cgroup gtest-slice 2>&1)
	echo "$out" | diag
	check "bind --cgroup of a slice binds the processes below it" \
		grep -q "^MktmeKeyID:[[:space:]]*$k2id\$" "/proc/$ppid/status"
	check "and thaws it after ($(cat $cg/gtest-slice/cgroup.freeze))" \
		[ "$(cat $cg/gtest-slice/cgroup.freeze)" = 0 ]
	mkdir -p $cg/gtest-empty
	mktmectl bind "$k2" --cgroup gtest-empty 2>/dev/null
	check "bind --cgroup of a cgroup without a process exits 6" [ $? = 6 ]
	# a process that forks all the time: frozen while bound, none escapes
	mkdir -p $cg/gtest-fork
	sh -c 'echo $$ >'$cg/gtest-fork/cgroup.procs'; while :; do sleep 3 & sleep 0.02; done' &
	fpid=$!
	pids="$pids $fpid"
	sleep 1
	mktmectl bind "$k2" --cgroup gtest-fork >/dev/null 2>&1
	sleep 0.5
	esc=0
	while read -r p; do
		grep -q "^MktmeKeyID:[[:space:]]*$k2id\$" "/proc/$p/status" 2>/dev/null ||
			{ [ -d "/proc/$p" ] && esc=$((esc + 1)); }
	done <$cg/gtest-fork/cgroup.procs
	check "bind --cgroup of a forking process: no child escaped unbound ($esc)" [ "$esc" = 0 ]
	kill "$fpid" 2>/dev/null
else
	for t in "binds its process" "of a slice" "thaws" "without a process" "of a forking process"; do
		ok "bind --cgroup $t # SKIP no cgroup2 hierarchy"
	done
fi

# --owner gives a key to another user, and purge --user finds it
out=$(mktmectl add gowned --owner nobody 2>&1); rc=$?
check "add --owner nobody exits 0 ($out)" [ "$rc" = 0 ]
owner=$(mktmectl list | awk '$2 == "gowned" && $7 == "live" { print $6 }')
check "list shows the key owned by nobody ($owner)" [ "$owner" = nobody ]
out=$(mktmectl purge --user nobody --yes </dev/null 2>&1); rc=$?
echo "$out" | diag
found=$(echo "$out" | grep -c "revoked key 'gowned'")
check "purge --user nobody revokes it (exit $rc)" [ "$rc$found" = 01 ]

# A key root does not possess: added in a session keyring of its own (as
# under pam_keyinit or a unit with a private keyring), given to nobody.
# Its permissions let root see and revoke it all the same.
rm -f /tmp/gheld.serial
keyctl session - sh -c 'mktmectl add gheld --keyring session --owner nobody >/tmp/gheld.serial
	exec sleep 100' >/dev/null 2>&1 &
hold=$!
i=0
while [ ! -s /tmp/gheld.serial ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
held=$(cat /tmp/gheld.serial 2>/dev/null)
check "a holder in a session keyring of its own added gheld (${held:-none})" [ -n "$held" ]
owner=$(mktmectl list | awk -v s="${held:-x}" '$1 == s && $7 == "live" { print $6 }')
check "list shows gheld, owned by nobody, without possessing it" [ "$owner" = nobody ]
out=$(mktmectl purge --user nobody --yes </dev/null 2>&1); rc=$?
echo "$out" | diag
found=$(echo "$out" | grep -c "revoked key 'gheld'")
check "purge --user nobody revokes it (exit $rc)" [ "$rc$found" = 01 ]
state=$(mktmectl list | awk -v s="${held:-x}" '$1 == s { print $7 }')
check "gheld is revoked (${state:-not listed})" [ "$state" = revoked ]
kill "$hold" 2>/dev/null
wait "$hold" 2>/dev/null

# purge every key of root
out=$(mktmectl purge --user root --yes </dev/null 2>&1); rc=$?
echo "$out" | diag
check "purge --user root exits 0" [ "$rc" = 0 ]
live=$(mktmectl list | awk '$6 == "root" && $7 == "live"' | wc -l)
check "no live key of root is left ($live)" [ "$live" = 0 ]
out=$(mktmectl purge --user root --yes 2>&1)
echo "$out" | grep -q "no live mktme key owned by 'root'"
check "a second purge finds nothing to do" [ $? = 0 ]

if [ -d $cg/gtest ]; then
	for p in $pids; do kill "$p" 2>/dev/null; done
	sleep 0.5
	while read -r p; do kill "$p" 2>/dev/null; done <$cg/gtest-fork/cgroup.procs
	sleep 0.5
	rmdir $cg/gtest $cg/gtest-slice/pod $cg/gtest-slice $cg/gtest-empty $cg/gtest-fork 2>/dev/null
fi
echo "# $failed of $n failed"
[ "$failed" = 0 ]
