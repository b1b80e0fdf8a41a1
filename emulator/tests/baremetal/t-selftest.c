// SPDX-License-Identifier: GPL-2.0
/*
 * Proves the bare-metal framework: serial, command line, fault catching
 * at CPL0 and CPL3, SSE, and the KeyID alias mappings.
 * Boot with: -append answer=42 -cpu max,phys-bits=46
 * With host=1 on the command line it also asks the host harness to read a
 * guest variable (run.py's on_host_request must reply with its value).
 */
#include "lib.h"

static void do_nothing(void *p)
{
}

static void do_ud2(void *p)
{
	asm volatile("ud2");
}

static void read_u64(void *p)
{
	u64 *addr = *(u64 **)p;

	asm volatile("mov (%0), %%rax" : : "r"(addr) : "rax", "memory");
}

static void do_cli(void *p)
{
	asm volatile("cli");
}

static void do_hlt(void *p)
{
	asm volatile("hlt");
}

static void do_sse(void *p)
{
	u8 *buf = p;

	asm volatile("movdqu (%0), %%xmm0\n\tmovdqu %%xmm0, 16(%0)"
		     : : "r"(buf) : "xmm0", "memory");
}

static void test_fault(const char *name, int v, const struct fault *f, int want)
{
	ktap_result(v == want && f->vector == want, "%s (got %d %s error 0x%lx cr2 0x%lx)",
		    name, v, vector_name(v), f->error, f->cr2);
}

static void test_alias(void)
{
	volatile u64 *direct = (u64 *)0x200000;
	volatile u64 *alias = (u64 *)KEYID_VA(1, 0x200000);
	volatile u64 *top = (u64 *)KEYID_VA(NR_KEYIDS - 1, 0xfffff000);
	struct cpuid_regs r;
	struct fault f;
	u64 before, after, last;
	int v;

	cpuid(0x80000008, 0, &r);
	if ((r.eax & 0xff) < KEYID_SHIFT + 6) {
		ktap_skip("keyid alias access", "phys-bits %u < 46", r.eax & 0xff);
		return;
	}
	*direct = 0x1122334455667788;
	v = try_call(read_u64, &alias, &f);
	if (v < 0)
		v = try_call(read_u64, &top, &f);
	if (v >= 0) {
		ktap_result(false, "keyid alias access (%s at 0x%lx)", vector_name(v), f.cr2);
		return;
	}
	before = *alias;
	*alias = 0xdeadbeefcafef00d;
	after = *alias;
	last = *top;
	ktap_diag("KeyID 1 alias of PA 0x200000: read 0x%lx, after write 0x%lx, direct 0x%lx",
		  before, after, *direct);
	ktap_diag("KeyID 63 alias of PA 0xfffff000: read 0x%lx", last);
	ktap_result(true, "keyid alias access");
}

static void test_host(void)
{
	static volatile u64 magic = 0x5a5a1234abcd;
	char reply[64];

	host_request(reply, sizeof(reply), "selftest-peek addr=0x%lx", (u64)&magic);
	ktap_result(strtou64(reply, NULL) == magic, "host request reply '%s'", reply);
}

int main(const char *cmdline)
{
	bool host = arg_u64(cmdline, "host", 0);
	char buf[32];
	struct fault f;
	u8 sse_buf[32];
	u64 addr;
	struct cpuid_regs r;
	u64 val;
	int v;

	ktap_plan(14 + host);
	ktap_diag("cmdline: '%s'", cmdline);
	cpuid(0x80000001, 0, &r);
	v = r.edx >> 26 & 1;
	cpuid(0x80000008, 0, &r);
	ktap_diag("pdpe1gb %d, phys-bits %u", v, r.eax & 0xff);
	ktap_result(true, "serial output");

	snprintf(buf, sizeof(buf), "%d|%5x|%-3s|%03u", -7, 0xab, "s", 9);
	ktap_result(!strcmp(buf, "-7|   ab|s  |009"), "printf formatting ('%s')", buf);

	ktap_result(arg_u64(cmdline, "answer", 0) == 42 && !arg(cmdline, "answe") &&
		    !strcmp(arg_str(cmdline, "answer", buf, sizeof(buf)) ?: "", "42"),
		    "cmdline answer=42");

	v = try_call(do_nothing, NULL, &f);
	ktap_result(v == -1 && f.vector == -1, "try_call without fault returns -1 (%d)", v);

	v = try_call(do_ud2, NULL, &f);
	test_fault("ud2 raises #UD", v, &f, 6);

	addr = 0x8000000000000000;
	v = try_call(read_u64, &addr, &f);
	test_fault("non-canonical read raises #GP(0)", v, &f, 13);

	addr = UNMAPPED_VA;
	v = try_call(read_u64, &addr, &f);
	ktap_result(v == 14 && f.cr2 == UNMAPPED_VA && f.error == 0 && !f.user,
		    "unmapped read raises #PF, cr2 0x%lx error 0x%lx", f.cr2, f.error);

	v = run_user(do_nothing, NULL, &f);
	ktap_result(v == -1, "run_user returns -1 when fn returns (%d)", v);

	v = run_user(do_cli, NULL, &f);
	ktap_result(v == 13 && f.user, "cli at CPL3 raises #GP (%d %s)", v, vector_name(v));

	v = run_user(do_hlt, NULL, &f);
	ktap_result(v == 13 && f.user, "hlt at CPL3 raises #GP (%d %s)", v, vector_name(v));

	addr = UNMAPPED_VA + 0x1000;
	v = run_user(read_u64, &addr, &f);
	ktap_result(v == 14 && f.user && f.error == 4 && f.cr2 == addr,
		    "unmapped read at CPL3 raises #PF with U/S error bit (error 0x%lx)", f.error);

	v = wrmsr_safe(0x4b564d99, 0);
	ktap_diag("wrmsr to unknown MSR 0x4b564d99: %s", vector_name(v));
	v = rdmsr_safe(0xc0000080, &val);
	ktap_result(v == -1 && (val & (1 << 10)), "rdmsr_safe(EFER) has LMA (0x%lx)", val);

	for (v = 0; v < 32; v++)
		sse_buf[v] = v;
	v = try_call(do_sse, sse_buf, &f);
	ktap_result(v == -1 && !memcmp(sse_buf, sse_buf + 16, 16) && sse_buf[16] == 0,
		    "SSE 16-byte load/store (%s)", vector_name(v));

	test_alias();
	if (host)
		test_host();
	ktap_exit();
}
