#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# pam_mktme in the test VM, through Debian's libpam and pamtester: two
# concurrent sessions of alice share one key, the first close keeps it,
# the last revokes it and the processes left behind die of SIGBUS.  The
# session stack runs tests/session-child through pam_exec.so after
# pam_mktme.so, a stand-in for the user's shell: a daemon that holds
# encrypted memory.  Prints KTAP; exits 1 if a test failed.
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

here=$(cd "$(dirname "$0")" && pwd)
kids=/tmp/pam-children
state=/run/pam_mktme/1000
echo "TAP version 13"
if [ ! -d /sys/kernel/mm/mktme ]; then
	echo "1..1"
	echo "ok 1 all # SKIP no MKTME in this kernel or machine"
	exit 0
fi
echo "1..29"

mkdir -p /etc/pam.d /run "$kids"
printf '%s\n' "session required pam_mktme.so debug" \
	"session optional pam_exec.so type=open_session $here/session-child $kids" \
	>/etc/pam.d/mktme-test
printf '%s\n' "session required pam_mktme.so skip_users=bob,alice" \
	"session required pam_permit.so" >/etc/pam.d/mktme-skip
echo "session required pam_mktme.so bogus=1" >/etc/pam.d/mktme-bad
syslogd -n -O /tmp/pam-syslog &
syslog_pid=$!
echo 1 >/proc/sys/kernel/print-fatal-signals
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	kill "$syslog_pid" 2>/dev/null
	echo 0 >/proc/sys/kernel/print-fatal-signals
}
trap cleanup EXIT

# alice's live key, "SERIAL UID KEYID" (/proc/keys: serial in hex, flags
# with R second once revoked)
alice_key() {
	awk '$9 == "login-alice:" && $2 !~ /^.R/ { sub(/keyid=/, "", $10); print $1, $6, $10 }' \
		/proc/keys | while read -r s u k; do echo "$(printf %d "0x$s") $u $k"; done
}
# pamtester SERVICE OPERATION...: its output to the log, its status back
pt() {
	svc=$1
	shift
	pamtester -v "$svc" alice "$@" >/tmp/pt.out 2>&1
	rc=$?
	diag </tmp/pt.out
	return $rc
}
# the session-child started since the list $1 was taken: "PID KEYID CIPHERTEXT"
new_child() {
	i=0
	while [ $i -lt 50 ]; do
		for f in "$kids"/*; do
			f=${f##*/}
			[ "$f" = "*" ] && continue
			case " $1 " in *" $f "*) continue ;; esac
			echo "$f $(cat "$kids/$f")"
			return
		done
		sleep 0.1
		i=$((i + 1))
	done
}
alive() {
	st=$(awk '/^State:/ { print $2 }' "/proc/$1/status" 2>/dev/null)
	[ -n "$st" ] && [ "$st" != Z ]
}

# 1st session: a key for alice, owned by her, and the session's process on it
pt mktme-test open_session
check "open_session: pamtester succeeds" [ $? = 0 ]
read -r key uid kid <<END
$(alice_key)
END
key=${key:-0} kid=${kid:-0}
check "open_session: alice has a key, login-alice (serial $key, KeyID $kid)" [ "$key" -gt 0 -a "$kid" -gt 0 ]
check "open_session: the key is alice's (uid $uid)" [ "$uid" = 1000 ]
check "open_session: one session counted ($(cat $state 2>/dev/null))" [ "$(cat $state 2>/dev/null)" = "$key 1" ]
read -r c1 ckid ctext <<END
$(new_child "")
END
c1=${c1:-0}
check "open_session: the session's process $c1 encrypts with KeyID $kid (smaps: ${ckid:-})" [ "${ckid:-}" = "$kid" ]
check "open_session: DRAM holds ciphertext of its memory" [ "${ctext:-}" = 1 ]
check "open_session: its MktmeKeyID is $kid" grep -q "^MktmeKeyID:[[:space:]]*$kid\$" "/proc/$c1/status"

# 2nd, concurrent session: the same key
pt mktme-test open_session
check "second open_session: pamtester succeeds" [ $? = 0 ]
check "second open_session: the same key ($key), no second one" [ "$(alice_key)" = "$key 1000 $kid" ]
check "second open_session: two sessions counted" [ "$(cat $state 2>/dev/null)" = "$key 2" ]
read -r c2 ckid ctext <<END
$(new_child "$c1")
END
c2=${c2:-0}
check "second open_session: its process $c2 is on KeyID $kid too" [ "${ckid:-}" = "$kid" ]

# 1st close: the key stays, and so does the memory of both sessions
pt mktme-test close_session
check "first close_session: pamtester succeeds" [ $? = 0 ]
check "first close_session: the key stays" [ "$(alice_key)" = "$key 1000 $kid" ]
check "first close_session: one session counted" [ "$(cat $state 2>/dev/null)" = "$key 1" ]
sleep 0.5
# shellcheck disable=SC2317 # called through check
both_alive() { alive "$c1" && alive "$c2"; }
check "first close_session: both sessions' processes live" both_alive

# last close: revoked, erased, and what outlived the session is gone
calls=$(cat /sys/kernel/mm/mktme/pconfig_calls)
erased=$(cat /sys/kernel/mm/mktme/erased_pages)
pt mktme-test close_session
check "last close_session: pamtester succeeds (it moved its own memory off the key)" [ $? = 0 ]
check "last close_session: alice has no live key" [ -z "$(alice_key)" ]
check "last close_session: no session counted" [ "$(cat $state 2>/dev/null)" = "0 0" ]
check "last close_session: the KeyID was reprogrammed (pconfig_calls $calls -> $(cat /sys/kernel/mm/mktme/pconfig_calls))" \
	[ "$(cat /sys/kernel/mm/mktme/pconfig_calls)" -gt "$calls" ]
check "last close_session: pages were erased ($erased -> $(cat /sys/kernel/mm/mktme/erased_pages))" \
	[ "$(cat /sys/kernel/mm/mktme/erased_pages)" -gt "$erased" ]
# shellcheck disable=SC2317 # called through check
both_gone() { ! alive "$c1" && ! alive "$c2"; }
i=0
while [ $i -lt 50 ] && ! both_gone; do sleep 0.1; i=$((i + 1)); done
check "last close_session: the processes left behind are gone" both_gone
sigbus=$(dmesg | grep -c "session-child: potentially unexpected fatal signal 7\.")
check "last close_session: the kernel killed both with SIGBUS ($sigbus)" [ "$sigbus" = 2 ]
check "last close_session: neither ever read its memory wrong" sh -c "! grep -q leak $kids/*"
grep pam_mktme /tmp/pam-syslog 2>/dev/null | diag

# One process opens and closes (login, sshd): at the close it moves its own
# memory off the key before the erase, and lives on
pt mktme-test open_session close_session
check "open and close in one process: pamtester lives through the erase" [ $? = 0 ]
check "open and close in one process: no live key left" [ -z "$(alice_key)" ]

# opted out, and a bad option
pt mktme-skip open_session
check "skip_users=bob,alice: alice's session opens" [ $? = 0 ]
check "skip_users=bob,alice: and has no key" [ -z "$(alice_key)" ]
pt mktme-skip close_session
pt mktme-bad open_session
check "an unknown option fails the session" [ $? != 0 ]
check "and the log says which" grep -q "unknown option 'bogus=1'" /tmp/pam-syslog

exit $((failed > 0))
