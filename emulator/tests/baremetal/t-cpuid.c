// SPDX-License-Identifier: GPL-2.0
/*
 * TME-MK enumeration: CPUID feature bits and leaf 0x1B, the TME MSRs
 * 0x981-0x984 and IA32_MKTME_KEYID_PARTITIONING (0x87), and that firmware
 * left them all locked.
 *
 * Command line:
 *   expect=tme|none phys_bits=N keyid_bits=K max_keys=M tdx_bits=P algs=A
 * expect=tme: the model with K KeyID bits, M keys, P TDX KeyID bits and
 * the ENC_ALG bitmask A (bit 0 AES-XTS-128, bit 2 AES-XTS-256).
 * expect=none: a stock CPU without TME or PCONFIG.
 */
#include "lib.h"

#define MSR_KEYID_PARTITIONING	0x87
#define MSR_TME_CAPABILITY	0x981
#define MSR_TME_ACTIVATE	0x982
#define MSR_TME_EXCLUDE_MASK	0x983
#define MSR_TME_EXCLUDE_BASE	0x984

#define CPUID_7_ECX_TME		(1u << 13)
#define CPUID_7_EDX_PCONFIG	(1u << 18)

struct msr_op {
	u32 msr;
	u64 val;
};

/* KTAP reads a '#' in a description as the start of a directive */
static const char *vec(int vector)
{
	const char *name = vector_name(vector);

	return *name == '#' ? name + 1 : name;
}

static void do_wrmsr(void *p)
{
	struct msr_op *op = p;

	wrmsr(op->msr, op->val);
}

static void do_pconfig(void *p)
{
	u64 rax = 0;

	asm volatile(".byte 0x0f, 0x01, 0xc5"
		     : "+a"(rax) : "b"(p) : "memory", "cc");
}

static void check_feature_bits(bool tme)
{
	struct cpuid_regs r;
	u32 want_ecx = tme ? CPUID_7_ECX_TME : 0;
	u32 want_edx = tme ? CPUID_7_EDX_PCONFIG : 0;

	cpuid(7, 0, &r);
	ktap_result((r.ecx & CPUID_7_ECX_TME) == want_ecx,
		    "CPUID.(7,0).ECX[13] TME_EN is %u, want %u (ECX 0x%x)",
		    r.ecx >> 13 & 1, tme, r.ecx);
	ktap_result((r.edx & CPUID_7_EDX_PCONFIG) == want_edx,
		    "CPUID.(7,0).EDX[18] PCONFIG is %u, want %u (EDX 0x%x)",
		    r.edx >> 18 & 1, tme, r.edx);
}

static void check_phys_bits(unsigned int phys_bits, bool tme)
{
	struct cpuid_regs r;

	cpuid(0x80000000, 0, &r);
	if (r.eax < 0x80000008) {
		ktap_result(false, "CPUID.80000008 missing (max extended leaf 0x%x)",
			    r.eax);
		return;
	}
	cpuid(0x80000008, 0, &r);
	ktap_result((r.eax & 0xff) == phys_bits,
		    "CPUID.80000008.EAX[7:0] MAXPHYADDR is %u, want %u%s",
		    r.eax & 0xff, phys_bits, tme ? ", KeyID bits included" : "");
}

static bool regs_are(const struct cpuid_regs *r, u32 a, u32 b, u32 c, u32 d)
{
	return r->eax == a && r->ebx == b && r->ecx == c && r->edx == d;
}

static void check_msr_value(u32 msr, const char *name, u64 want)
{
	u64 val;
	int v = rdmsr_safe(msr, &val);

	if (v >= 0) {
		ktap_result(false, "RDMSR 0x%x %s raised %s, want 0x%lx",
			    msr, name, vec(v), want);
		return;
	}
	ktap_result(val == want, "RDMSR 0x%x %s is 0x%lx, want 0x%lx",
		    msr, name, val, want);
}

/* A locked or read-only MSR refuses any write with #GP(0). */
static void check_wrmsr_refused(u32 msr, u64 val, const char *what)
{
	struct msr_op op = { .msr = msr, .val = val };
	struct fault f;
	u64 before, after;
	int rb, ra, v;

	rb = rdmsr_safe(msr, &before);
	v = try_call(do_wrmsr, &op, &f);
	ra = rdmsr_safe(msr, &after);
	ktap_result(v == 13 && f.error == 0 && rb < 0 && ra < 0 && after == before,
		    "WRMSR 0x%x <- 0x%lx (%s): %s error 0x%lx, value 0x%lx -> 0x%lx",
		    msr, val, what, vec(v), f.error, before, after);
}

static void test_tme(const char *cmdline, unsigned int phys_bits)
{
	u64 k = arg_u64(cmdline, "keyid_bits", 0);
	u64 m = arg_u64(cmdline, "max_keys", 0);
	u64 p = arg_u64(cmdline, "tdx_bits", 0);
	u64 algs = arg_u64(cmdline, "algs", 0);
	u64 want_cap, want_act, want_part;
	u64 mask, read;
	struct cpuid_regs r;
	u32 max_leaf;
	static const u32 msrs[] = {
		MSR_KEYID_PARTITIONING, MSR_TME_CAPABILITY, MSR_TME_ACTIVATE,
		MSR_TME_EXCLUDE_MASK, MSR_TME_EXCLUDE_BASE,
	};
	unsigned int i;

	if (k < 1 || k > 15 || p >= k || m < 1 || m >= 1ull << k || !algs)
		ktap_bail("bad command line '%s'", cmdline);

	ktap_plan(21);
	ktap_diag("expect TME-MK: phys_bits %u keyid_bits %lu max_keys %lu tdx_bits %lu algs 0x%lx",
		  phys_bits, k, m, p, algs);

	check_feature_bits(true);

	cpuid(0, 0, &r);
	max_leaf = r.eax;
	ktap_result(max_leaf >= 0x1b, "CPUID.0.EAX max basic leaf 0x%x >= 0x1b", max_leaf);
	cpuid(0x1b, 0, &r);
	ktap_result(regs_are(&r, 1, 1, 0, 0),
		    "CPUID.(1B,0) is target sub-leaf for MKTME: %x %x %x %x, want 1 1 0 0",
		    r.eax, r.ebx, r.ecx, r.edx);
	cpuid(0x1b, 1, &r);
	ktap_result(regs_are(&r, 0, 0, 0, 0),
		    "CPUID.(1B,1) is invalid, ending the list: %x %x %x %x, want 0 0 0 0",
		    r.eax, r.ebx, r.ecx, r.edx);

	check_phys_bits(phys_bits, true);

	want_cap = 1ull << 0 | 1ull << 2 | 1ull << 31 | k << 32 | m << 36;
	want_act = 1ull << 0 | 1ull << 1 | 1ull << 31 | k << 32 | p << 36 | algs << 48;
	want_part = m < (1ull << (k - p)) - 1 ? m : (1ull << (k - p)) - 1;
	if (p)
		want_part |= ((1ull << k) - (1ull << (k - p))) << 32;
	check_msr_value(MSR_TME_CAPABILITY, "IA32_TME_CAPABILITY", want_cap);
	check_msr_value(MSR_TME_ACTIVATE, "IA32_TME_ACTIVATE", want_act);
	check_msr_value(MSR_TME_EXCLUDE_MASK, "IA32_TME_EXCLUDE_MASK", 0);
	check_msr_value(MSR_TME_EXCLUDE_BASE, "IA32_TME_EXCLUDE_BASE", 0);
	check_msr_value(MSR_KEYID_PARTITIONING, "IA32_MKTME_KEYID_PARTITIONING", want_part);

	for (i = 0; i < ARRAY_SIZE(msrs); i++) {
		if (rdmsr_safe(msrs[i], &read) >= 0)
			read = 0;
		check_wrmsr_refused(msrs[i], read, "the value read");
	}

	/* Values firmware could have written before locking */
	check_wrmsr_refused(MSR_KEYID_PARTITIONING, 0, "no KeyIDs");
	check_wrmsr_refused(MSR_TME_CAPABILITY, 0, "no capabilities");
	check_wrmsr_refused(MSR_TME_ACTIVATE, 0, "disable TME");
	mask = ((1ull << phys_bits) - 1) & ~0xfffffull;
	check_wrmsr_refused(MSR_TME_EXCLUDE_MASK, mask | 1 << 11,
			    "exclude 1 MiB, enabled");
	check_wrmsr_refused(MSR_TME_EXCLUDE_BASE, 0x100000, "exclusion base 1 MiB");
}

static void test_none(unsigned int phys_bits)
{
	static u8 kp[256] __attribute__((aligned(256)));
	struct cpuid_regs r;
	struct fault f;
	u64 val;
	int v;

	ktap_plan(6);
	ktap_diag("expect a CPU without TME-MK: phys_bits %u", phys_bits);

	check_feature_bits(false);

	v = rdmsr_safe(MSR_TME_ACTIVATE, &val);
	ktap_result(v < 0 && val == 0, "RDMSR 0x982 IA32_TME_ACTIVATE: %s, value 0x%lx, want no fault and 0",
		    vec(v), val);

	v = try_call(do_pconfig, kp, &f);
	ktap_result(v == 6, "PCONFIG raises UD (got %s)", vec(v));

	cpuid(0, 0, &r);
	if (r.eax < 0x1b) {
		ktap_diag("CPUID.0.EAX max basic leaf is 0x%x, below 0x1b", r.eax);
		ktap_result(true, "CPUID leaf 0x1B not enumerated (max basic leaf 0x%x)", r.eax);
	} else {
		cpuid(0x1b, 0, &r);
		ktap_result(regs_are(&r, 0, 0, 0, 0),
			    "CPUID.(1B,0) lists no PCONFIG target: %x %x %x %x, want 0 0 0 0",
			    r.eax, r.ebx, r.ecx, r.edx);
	}

	check_phys_bits(phys_bits, false);
}

int main(const char *cmdline)
{
	unsigned int phys_bits = arg_u64(cmdline, "phys_bits", 46);
	char expect[8];

	if (!arg_str(cmdline, "expect", expect, sizeof(expect)))
		ktap_bail("no expect=tme|none on the command line '%s'", cmdline);
	if (!strcmp(expect, "tme"))
		test_tme(cmdline, phys_bits);
	else if (!strcmp(expect, "none"))
		test_none(phys_bits);
	else
		ktap_bail("expect=%s: want tme or none", expect);
	ktap_exit();
}
