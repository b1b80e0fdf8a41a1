#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Guest side of `make demo` (demo/demo.py is the host side): three stories,
# told on the console.  At each checkpoint `mktme-demo tell` hands the host
# what to look for in a dump of guest RAM and waits for its verdict.
cg=/sys/fs/cgroup

section() { echo; echo "=== $* ==="; }
tell() { mktme-demo tell "$@"; }
# run CMD...: show an admin's command and its output
run() { echo "# $*"; "$@"; }
# check STORY TEXT CMD...: a check made inside the guest
check() {
	story=$1 text=$2
	shift 2
	if "$@"; then r=pass; else r=fail; fi
	echo "guest: ${r} - $text"
	tell check story="$story" result=$r -- "$text"
}
# wait_for CMD...: up to 10 s for CMD to succeed
wait_for() {
	i=0
	while ! "$@"; do
		i=$((i + 1))
		[ $i -gt 100 ] && return 1
		usleep 100000
	done
}
nprocs() { wc -l <"$1/cgroup.procs"; }
keyid_of() { mktmectl list | awk -v n="$1" '$2 == n && $7 == "live" { print $3 }'; }
# the pids of the processes of user $1
pids_of() {
	for d in /proc/[0-9]*; do
		[ "$(awk '/^Uid:/ { print $2 }' "$d/status" 2>/dev/null)" = "$1" ] && echo "${d#/proc/}"
	done
}
status_keyid() { awk '/^MktmeKeyID:/ { print $2 }' "/proc/$1/status"; }

tell hello
section "The machine"
run mktmectl status

# ---------------------------------------------------------------------------
section "Story 1: two containers, each with a key of its own"
tell begin story=1 -- two containers, each with a key of its own
mkdir -p $cg
mount -t cgroup2 none $cg 2>/dev/null
for c in web db; do
	mkdir -p $cg/$c
	sh -c "echo \$\$ >$cg/$c/cgroup.procs; exec mktme-demo worker $c 256 /tmp/$c.hex" >>/tmp/$c.log &
done
wait_for test -s /tmp/web.hex -a -s /tmp/db.hex
wait_for sh -c "[ \$(grep -c holds /tmp/web.log) = 2 ] && [ \$(grep -c holds /tmp/db.log) = 2 ]"
cat /tmp/web.log /tmp/db.log
echo "containers: web = pids $(tr '\n' ' ' <$cg/web/cgroup.procs)," \
	"db = pids $(tr '\n' ' ' <$cg/db/cgroup.procs)"
tell dump story=1 expect=present web="$(cat /tmp/web.hex)" db="$(cat /tmp/db.hex)" -- \
	before the keys: each container\'s pattern is in DRAM as it is
run mktmectl add web
run mktmectl add db
run mktmectl bind web --cgroup web
run mktmectl bind db --cgroup db
run mktmectl list
kw=$(keyid_of web) kd=$(keyid_of db)
check 1 "web and db have KeyIDs of their own ($kw and $kd)" \
	test "${kw:-0}" -gt 0 -a "${kd:-0}" -gt 0 -a "$kw" != "$kd"
for c in web db; do
	k=$(keyid_of $c)
	want=$(sort -n $cg/$c/cgroup.procs | tr '\n' ',' | sed 's/,$//')
	got=$(mktmectl list | awk -v n=$c '$2 == n && $7 == "live" { print $9 }' |
		tr ',' '\n' | sort -n | tr '\n' ',' | sed 's/,$//')
	check 1 "mktmectl list: key $c is bound to exactly the pids of cgroup $c ($got)" [ "$got" = "$want" ]
	pages=$(mktmectl list | awk -v n=$c '$2 == n && $7 == "live" { print $8 }')
	check 1 "mktmectl list: $pages pages are encrypted with key $c" [ "${pages:-0}" -ge 128 ]
	bad=0
	for p in $(cat $cg/$c/cgroup.procs); do
		[ "$(status_keyid "$p")" = "$k" ] || bad=1
	done
	check 1 "every process of $c has KeyID $k as its default (/proc/PID/status)" [ $bad = 0 ]
	: >/tmp/$c.log
	kill -USR1 $(cat $cg/$c/cgroup.procs)
done
wait_for sh -c "[ \$(grep -c intact /tmp/web.log) = 2 ] && [ \$(grep -c intact /tmp/db.log) = 2 ]"
cat /tmp/web.log /tmp/db.log
check 1 "the containers' memory is intact after re-keying in place" \
	[ "$(cat /tmp/web.log /tmp/db.log | grep -c intact)" = 4 ]
tell dump story=1 expect=absent web="$(cat /tmp/web.hex)" db="$(cat /tmp/db.hex)" -- \
	after the keys: the same memory is ciphertext in DRAM
for c in web db; do kill $(cat $cg/$c/cgroup.procs) 2>/dev/null; done
tell end story=1

# ---------------------------------------------------------------------------
section "Story 2: an application keeps a secret with encrypt_mprotect()"
tell begin story=2 -- an application keeps a secret with encrypt_mprotect
mktme-demo secret
check 2 "the application reads its secret back" [ $? = 0 ]
tell end story=2

# ---------------------------------------------------------------------------
section "Story 3: a user logs out, and their key is revoked"
tell begin story=3 -- a user logs out, and their key is revoked
echo "login of alice: a key of her own, and her session bound to it"
run mktmectl add alice-session --owner alice
rm -f /tmp/alice.info
mktmectl exec --key alice-session -- \
	su alice -c "exec mktme-demo session /tmp/alice.info" >/tmp/alice.log 2>&1 &
wait_for test -s /tmp/alice.info
read -r spid addr keyid pages hex </tmp/alice.info
pa=$(mktme-demo pa "$spid" "$addr" "$pages")
wait_for sh -c "[ \$(grep -l '^Uid:.1000' /proc/[0-9]*/status 2>/dev/null | wc -l) -ge 2 ]"
apids=$(pids_of 1000 | tr '\n' ' ')
echo "alice's session: pids $apids; her secret fills $pages pages at $addr (KeyID $keyid)," \
	"the first at physical ${pa%%,*}"
run mktmectl list
check 3 "alice's session runs under the KeyID of her key ($keyid)" \
	[ "$keyid" = "$(keyid_of alice-session)" ]
tell revoke-before story=3 keyid="$keyid" pa="$pa" secret="$hex" -- \
	before logout: alice\'s secret is ciphertext in DRAM
echo "logout of alice"
run mktmectl purge --user alice --yes
wait_for sh -c "! grep -q '^Uid:.1000' /proc/[0-9]*/status 2>/dev/null"
cat /tmp/alice.log
check 3 "alice's processes ($apids) are gone" test -n "$apids" -a -z "$(pids_of 1000)"
check 3 "each of them saw its encrypted memory gone (SIGBUS)" \
	test -n "$apids" -a "$(grep -c 'SIGBUS.*gone' /tmp/alice.log)" = "$(echo $apids | wc -w)"
tell revoke-after story=3 keyid="$keyid" pa="$pa" secret="$hex" -- \
	after logout: nothing decrypts alice\'s memory any more
tell end story=3

tell done
echo "mktme-demo: done"
