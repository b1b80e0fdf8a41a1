#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# ktap-check.py: what makes a guest run pass or fail.
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
kunit=${KUNIT_DIR:-$top/build/src/linux/tools/testing/kunit}

judge() { # judge LOG [ARGS...]
	python3 "$top/scripts/ktap-check.py" "$1" --kunit-dir "$kunit" --counts counts "${@:2}"
}

good_log() {
	cat <<'L'
[boot] Linux version 6.12.117
mktme-init: selftests begin
KTAP version 1
1..1
    KTAP version 1
    # Subtest: mktme/platform
    1..2
    # Starting 2 tests from 1 test cases.
    ok 1 global.alpha
    ok 2 global.beta # SKIP not here
ok 1 mktme/platform
mktme-init: selftests end
reboot: Power down
L
}

test_passing_run_passes_and_counts_leaves() {
	good_log >c.log
	judge c.log >out || { cat out; return 1; }
	[ "$(cat counts)" = "1 0 1" ] || { cat counts; return 1; }
}

test_kernel_message_inside_the_begin_line_passes() {
	good_log | sed 's/^mktme-init: selftests begin$/&tsc: Refined TSC clocksource calibration/' >c.log
	judge c.log >out || { cat out; return 1; }
	[ "$(cat counts)" = "1 0 1" ] || { cat counts; return 1; }
}

test_failed_test_fails_naming_it() {
	good_log | sed 's/^    ok 1 global.alpha/    not ok 1 global.alpha/; s/^ok 1 mktme/not ok 1 mktme/' >c.log
	judge c.log >out && return 1
	grep -q 'global.alpha' out || { cat out; return 1; }
}

test_missing_result_fails() {
	good_log | grep -v 'global.beta' >c.log
	judge c.log >out && { cat out; return 1; }
	return 0
}

# A kernel message in the middle of a nested line pushes the rest of it
# to column 0: a result out of place, which the parser reports as an
# error and then counts no more.
test_result_pushed_out_of_its_test_fails() {
	good_log | sed 's/^    ok 2 global.beta/    #clocksource: Long readout interval\n ok 332 a diagnostic\n&/' >c.log
	judge c.log >out && { cat out; return 1; }
	grep -q 'KTAP parse errors' out || { cat out; return 1; }
}

test_missing_program_fails() {
	good_log | sed 's/^1\.\.1$/1..2/' >c.log
	judge c.log >out && { cat out; return 1; }
	return 0
}

test_kernel_warning_fails() {
	good_log | sed '2i WARNING: CPU: 0 PID: 1 at mm/page_alloc.c:1 foo+0x0/0x10' >c.log
	judge c.log >out && return 1
	grep -q 'kernel log reports: WARNING' out
}

test_page_poison_report_fails() {
	good_log | sed '2i pagealloc: memory corruption' >c.log
	judge c.log >out && return 1
	grep -q 'kernel log reports: pagealloc: memory corruption' out
}

test_timeout_fails_with_console_tail() {
	good_log | sed '/selftests end/,$d' >c.log
	judge c.log --exit-code 124 >out && return 1
	grep -q 'killed at the timeout' out && grep -q 'last 40 lines' out
}

test_panic_before_init_fails() {
	printf 'Linux version 6.12\nKernel panic - not syncing: VFS: Unable to mount root\n' >c.log
	judge c.log >out && return 1
	grep -q 'never started' out
}

. "$here/lib.sh"
