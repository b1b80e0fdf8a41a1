#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Host tests of mktmectl, no MKTME kernel needed: usage and every argument
# error compared with golden files, and status/list on fake /proc and /sys
# trees (MKTMECTL_ROOT, which only the test build, mktmectl-test, reads).
# Prints TAP; exits non-zero if a test failed.
#   sh tests/host.t.sh path/to/mktmectl-test [--update]   (--update rewrites golden/)
set -eu

bin=${1:?usage: host.t.sh path/to/mktmectl-test [--update]}
release=${bin%-test}
update=${2:-}
here=$(cd "$(dirname "$0")" && pwd)
golden=$here/golden
fix=$here/fixtures
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0
failed=0

ok() { n=$((n + 1)); echo "ok $n $1"; }
notok() { n=$((n + 1)); failed=$((failed + 1)); echo "not ok $n $1"; }

# golden NAME ROOT ARGS...: run with stdin from /dev/null (or $stdin),
# compare stdout, stderr and exit code with golden/NAME.{out,err,rc}
stdin=/dev/null
golden() {
	name=$1 r=$2
	shift 2
	rc=0
	if [ "$r" = - ]; then
		"$bin" "$@" >"$tmp/out" 2>"$tmp/err" <"$stdin" || rc=$?
	else
		MKTMECTL_ROOT=$fix/$r "$bin" "$@" >"$tmp/out" 2>"$tmp/err" <"$stdin" || rc=$?
	fi
	echo "$rc" >"$tmp/rc"
	if [ "$update" = --update ]; then
		for f in out err rc; do cp "$tmp/$f" "$golden/$name.$f"; done
	fi
	for f in out err rc; do
		if ! cmp -s "$tmp/$f" "$golden/$name.$f"; then
			notok "$name"
			diff -u "$golden/$name.$f" "$tmp/$f" | sed 's/^/# /' || true
			return 0
		fi
	done
	ok "$name"
}

echo "TAP version 13"

# usage
golden no-args -
golden help - --help
golden help-short - -h
golden version - --version
golden bad-global-option - --frobnicate list
golden unknown-command - frobnicate
for v in status list add bind exec revoke purge oci-hook; do
	golden "help-$v" - "$v" --help
done

# argument errors: all are found before the kernel is asked anything
golden status-extra-arg - status extra
golden status-bad-option - status --bogus
golden list-extra-arg - list extra
golden list-bad-short-option - list -x
golden add-missing-name - add
golden add-extra-arg - add a b
golden add-bad-type - add k1 --type rsa
golden add-bad-algorithm - add k1 --algorithm aes-gcm
golden add-bad-keyring - add k1 --keyring thread
golden add-missing-type-arg - add k1 --type
golden add-name-colon - add a:b
golden add-name-digits - add 1234
golden add-name-blank - add "a b"
golden add-name-empty - add ""
golden add-name-long - add "$(printf '%0300d' 0 | tr 0 a)"
golden add-unknown-owner enabled add k1 --owner nosuchuser
golden add-missing-owner-arg - add k1 --owner
golden bind-missing-key - bind
golden bind-missing-target - bind k1
golden bind-pid-and-cgroup - bind k1 --pid 1 --cgroup /sys/fs/cgroup/x
golden bind-pid-zero - bind k1 --pid 0
golden bind-pid-negative - bind k1 --pid -5
golden bind-pid-word - bind k1 --pid abc
golden bind-pid-huge - bind k1 --pid 99999999999
golden bind-cgroup-empty - bind k1 --cgroup ""
golden bind-extra-arg - bind k1 k2 --pid 1
golden bind-unknown-option - bind k1 --pid 1 --rekey
golden exec-missing-key - exec -- true
golden exec-missing-key-arg - exec --key
golden exec-missing-command - exec --key k1
golden exec-missing-command-dashdash - exec --key k1 --
golden revoke-missing-key - revoke
golden revoke-extra-arg - revoke k1 k2 --yes
golden revoke-not-a-tty - revoke k1
golden revoke-not-a-tty-json - revoke --json k1
golden purge-missing-user - purge --yes
golden purge-missing-user-arg - purge --user
golden purge-unknown-user enabled purge --user nosuchuser --yes
golden purge-extra-arg - purge --user 0 --yes extra
golden purge-not-a-tty enabled purge --user alice

# oci-hook: the container state on stdin
# golden_state NAME JSON ROOT ARGS...: golden with JSON on stdin
golden_state() {
	name=$1
	printf '%s' "$2" >"$tmp/state"
	shift 2
	stdin=$tmp/state golden "$name" "$@"
	stdin=/dev/null
}
golden oci-hook-no-state - oci-hook createRuntime
golden_state oci-hook-not-json 'nope' - oci-hook poststop
golden_state oci-hook-not-object '[1]' - oci-hook poststop
golden_state oci-hook-no-id '{"status":"stopped"}' - oci-hook
golden_state oci-hook-bad-id '{"id":"a:b","status":"stopped"}' - oci-hook
golden_state oci-hook-no-phase '{"id":"c1","status":"running"}' - oci-hook
golden oci-hook-bad-phase - oci-hook prestart
golden oci-hook-extra-arg - oci-hook poststop extra
golden oci-hook-bad-type - oci-hook createRuntime --type rsa
golden_state oci-hook-no-pid '{"id":"c1","status":"creating"}' enabled oci-hook createRuntime
golden_state oci-hook-unsupported '{"id":"c1","status":"stopped"}' notme oci-hook

# what needs MKTME says so (this host has none, or the fake root lacks it)
golden list-unsupported notme list
golden add-unsupported notme add k1
golden bind-unsupported notme bind k1 --pid 1
golden exec-unsupported notme exec --key k1 -- true
golden revoke-unsupported notme revoke k1 --yes
golden purge-unsupported notme purge --user 0 --yes

# status: every reason MKTME can be missing, and the usable case
golden status-no-tme notme status
golden status-mktme-off off status
golden status-no-kernel nokernel status
golden status-enabled enabled status
golden status-enabled-json enabled status --json
golden status-no-tme-json notme --json status

# list and key lookup on a fake /proc
golden list-enabled enabled list
golden list-enabled-json enabled list --json
golden bind-unknown-key enabled bind nosuchkey --pid 1
golden bind-unknown-serial enabled bind 42 --pid 1
golden revoke-unknown-key-json enabled revoke --json --yes nosuchkey

# status on this host, whose kernel has no MKTME: exit 3 and why
rc=0
"$bin" status >"$tmp/out" 2>&1 </dev/null || rc=$?
if [ -d /sys/kernel/mm/mktme ]; then
	ok "status on the host # SKIP this host has MKTME"
elif [ $rc = 3 ] && grep -q '^FAIL kernel: MKTME not enabled' "$tmp/out"; then
	ok "status on the host: exit 3 with the reason"
else
	notok "status on the host: exit 3 with the reason (got $rc)"
	sed 's/^/# /' "$tmp/out"
fi

# the installed build knows nothing of the test override
if [ "$release" != "$bin" ] && [ -x "$release" ]; then
	if grep -q MKTMECTL_ROOT "$release"; then
		notok "the release build ignores MKTMECTL_ROOT"
	else
		ok "the release build ignores MKTMECTL_ROOT"
	fi
else
	notok "the release build ignores MKTMECTL_ROOT # no release build beside $bin"
fi

# the scripts themselves
# (and pam_mktme's guest test, which has no host test of its own)
scripts="$here/guest.sh $here/oci-crun.sh $here/host.t.sh $here/../../pam_mktme/tests/guest.sh"
if command -v shellcheck >/dev/null; then
	# shellcheck disable=SC2086 # $scripts: paths without blanks
	if shellcheck -s sh $scripts >"$tmp/sc" 2>&1; then
		ok "shellcheck the guest and host tests"
	else
		notok "shellcheck the guest and host tests"
		sed 's/^/# /' "$tmp/sc"
	fi
else
	ok "shellcheck the guest and host tests # SKIP shellcheck not installed"
fi
for s in $scripts; do
	t="busybox sh -n ${s#"$here/"}"
	if ! command -v busybox >/dev/null; then
		ok "$t # SKIP busybox not installed"
	elif busybox sh -n "$s"; then
		ok "$t"
	else
		notok "$t"
	fi
done

if bash -n "$here/../mktmectl.bash-completion" 2>"$tmp/err"; then
	ok "bash -n mktmectl.bash-completion"
else
	notok "bash -n mktmectl.bash-completion"
	sed 's/^/# /' "$tmp/err"
fi

echo "1..$n"
[ "$failed" = 0 ]
