// SPDX-License-Identifier: GPL-2.0
/*
 * PCONFIG leaf 0 (MKTME_KEY_PROGRAM) on the TME-MK model: the cases that
 * fault (#UD, #GP(0), #PF), the return code and flags of those that
 * complete, and, asking the host, what each did to the key table of each
 * package.  Runs on CPU 0, package 0 of a two-socket machine: package 1's
 * table must never change.
 *
 * Command line: keyid_bits=K max_keys=M tdx_bits=P algs=A
 * (A: the activated ENC_ALG bits, bit 0 AES-XTS-128, bit 2 AES-XTS-256)
 *
 * Host requests (suite.py): "keys keyid=N", "calls", "inject error=E
 * count=N" and "hmp"; a reply "error ..." is reported as a failure.
 */
#include "lib.h"

#define CMD_DIRECT		0
#define CMD_RANDOM		1
#define CMD_CLEAR_KEY		2
#define CMD_NO_ENCRYPT		3

#define ALG_XTS_128		(1u << 0)
#define ALG_XTS_128_INTEGRITY	(1u << 1)
#define ALG_XTS_256		(1u << 2)
#define ALG_XTS_256_INTEGRITY	(1u << 3)

#define CTRL(cmd, alg)		((u32)(cmd) | (u32)(alg) << 8)

#define PROG_SUCCESS		0
#define ENTROPY_ERROR		2
#define DEVICE_BUSY		5

#define X86_CF			0x0001
#define X86_FIXED		0x0002
#define X86_PF			0x0004
#define X86_AF			0x0010
#define X86_ZF			0x0040
#define X86_SF			0x0080
#define X86_OF			0x0800
#define ARITH_FLAGS		(X86_CF | X86_PF | X86_AF | X86_ZF | X86_SF | X86_OF)

#define NO_FAULT		-1
#define UNPROGRAMMED		0xff

struct key_program {
	u16 keyid;
	u32 keyid_ctrl;
	u8 rsvd[58];
	u8 key_field_1[64];
	u8 key_field_2[64];
} __attribute__((packed));

_Static_assert(sizeof(struct key_program) == 192, "MKTME_KEY_PROGRAM_STRUCT");

struct pconfig_op {
	u64 leaf;		/* RAX; the leaf is EAX */
	u64 rbx;
	u64 flags;		/* RFLAGS loaded before, then RFLAGS after */
	u64 rax;
	u8 prefix;		/* 0, or a prefix byte before 0f 01 c5 */
};

/* What the model's table for package 0 should hold, as the host prints it */
struct key_state {
	u8 cmd;			/* CMD_*, or UNPROGRAMMED */
	u8 alg;
	u8 programs;
};

static struct {
	unsigned int keyid_bits, tdx_bits;
	u32 max_keys, algs;
	u32 alg;		/* the lowest activated algorithm */
	u32 last_mktme;		/* highest KeyID PCONFIG may program */
} cfg;

/* Room for a structure at a few misalignments inside one buffer */
static u8 area[1024] __attribute__((aligned(256)));
static struct key_state table[1 << 15];
/* PCONFIGs that did not fault, so reached the key table */
static unsigned int nr_completed;

static const char *const cmd_names[] = {
	"DIRECT", "RANDOM", "CLEAR_KEY", "NO_ENCRYPT",
};

static const char *const state_names[] = {
	"direct", "random", "clear", "no-encrypt",
};

/* KTAP reads a '#' in a description as the start of a directive */
static const char *vec(int vector)
{
	const char *name = vector_name(vector);

	return *name == '#' ? name + 1 : name;
}

static const char *alg_name(u32 alg)
{
	return alg == ALG_XTS_256 ? "aes-xts-256" : "aes-xts-128";
}

#define PCONFIG_ASM(prefix)						\
	do {								\
		asm volatile("push %[in]\n\t"				\
			     "popf\n\t"					\
			     prefix					\
			     ".byte 0x0f, 0x01, 0xc5\n\t"		\
			     "pushf\n\t"				\
			     "pop %[out]"				\
			     : "+a"(rax), [out] "=r"(flags)		\
			     : "b"(op->rbx), [in] "r"(op->flags)	\
			     : "memory", "cc");				\
	} while (0)

static void do_pconfig(void *p)
{
	struct pconfig_op *op = p;
	u64 rax = op->leaf, flags;

	switch (op->prefix) {
	case 0xf0:
		PCONFIG_ASM(".byte 0xf0\n\t");
		break;
	case 0xf2:
		PCONFIG_ASM(".byte 0xf2\n\t");
		break;
	case 0xf3:
		PCONFIG_ASM(".byte 0xf3\n\t");
		break;
	case 0x66:
		PCONFIG_ASM(".byte 0x66\n\t");
		break;
	default:
		PCONFIG_ASM("");
		break;
	}
	op->rax = rax;
	op->flags = flags;
}

static int pconfig(struct pconfig_op *op, struct fault *f)
{
	int v = try_call(do_pconfig, op, f);

	if (v == NO_FAULT)
		nr_completed++;
	return v;
}

static struct key_program *fill(unsigned int offset, u32 keyid, u32 ctrl)
{
	struct key_program *kp = (void *)(area + offset);
	int i;

	memset(kp, 0, sizeof(*kp));
	kp->keyid = keyid;
	kp->keyid_ctrl = ctrl;
	for (i = 0; i < 64; i++) {
		kp->key_field_1[i] = 0x11 * (i + 1);
		kp->key_field_2[i] = 0xe7 ^ (13 * i);
	}
	return kp;
}

static bool host_error(const char *reply)
{
	return !strncmp(reply, "error", 5) || !*reply;
}

static bool field_is(const char *reply, const char *key, const char *want)
{
	char got[64];

	return arg_str(reply, key, got, sizeof(got)) && !strcmp(got, want);
}

static void keys(u32 keyid, char *reply, size_t size)
{
	host_request(reply, size, "keys keyid=%u", keyid);
}

static void want_state(u32 keyid, char *buf, size_t size)
{
	const struct key_state *s = &table[keyid];
	bool encrypts = s->cmd == CMD_DIRECT || s->cmd == CMD_RANDOM;

	if (s->cmd == UNPROGRAMMED)
		snprintf(buf, size, "unprogrammed/-/0");
	else
		snprintf(buf, size, "%s/%s/%u", state_names[s->cmd],
			 encrypts ? alg_name(s->alg) : "-", s->programs);
}

/* Package 0 holds what the test programmed, package 1 nothing */
static void check_table(u32 keyid, const char *after)
{
	char reply[256], want[64];

	want_state(keyid, want, sizeof(want));
	keys(keyid, reply, sizeof(reply));
	ktap_result(field_is(reply, "p0", want),
		    "package 0 KeyID %u after %s: host '%s', want p0=%s",
		    keyid, after, reply, want);
	ktap_result(field_is(reply, "p1", "unprogrammed/-/0"),
		    "package 1 KeyID %u untouched after %s: host '%s', want p1=unprogrammed/-/0",
		    keyid, after, reply);
}

static void check_same(const char *what, const char *before, const char *after)
{
	ktap_result(!host_error(before) && !strcmp(before, after),
		    "%s: host '%s' before, '%s' after", what, before, after);
}

static bool completed_with(int v, const struct pconfig_op *op, u64 rax)
{
	return v == NO_FAULT && op->rax == rax &&
	       (op->flags & ARITH_FLAGS) == (rax ? X86_ZF : 0);
}

enum variant {
	PLAIN,
	JUNK,			/* fields PCONFIG ignores are not zero */
	RAX_HIGH,		/* RAX[63:32] set around leaf 0 in EAX */
};

/*
 * A well-formed PCONFIG of @keyid that must succeed.  All arithmetic flags
 * go in set, so each must be seen cleared.
 */
static void check_program(u32 keyid, u32 cmd, u32 alg, enum variant var)
{
	struct key_program *kp = fill(0, keyid, CTRL(cmd, alg));
	struct pconfig_op op = {
		.rbx = (u64)kp,
		.flags = X86_FIXED | ARITH_FLAGS,
	};
	char what[96];
	struct fault f;
	int v;

	if (var == JUNK) {
		/* Ignored by current SDMs; rev 1.3 of the spec wanted them 0 */
		memset(kp->rsvd, 0xa5, sizeof(kp->rsvd));
		memset(kp->key_field_1 + 32, 0x5a, 32);
		memset(kp->key_field_2 + 32, 0x5a, 32);
	}
	if (var == RAX_HIGH)
		op.leaf = 0xffffffff00000000ull;
	snprintf(what, sizeof(what), "%s %s KeyID %u%s", cmd_names[cmd],
		 alg_name(alg), keyid,
		 var == JUNK ? " with bytes 6-63 and key bytes 32-63 non-zero" :
		 var == RAX_HIGH ? " with RAX 0xffffffff00000000" : "");
	v = pconfig(&op, &f);
	ktap_result(completed_with(v, &op, PROG_SUCCESS),
		    "PCONFIG %s succeeds: fault %s, RAX 0x%lx, RFLAGS 0x%lx (ZF CF PF AF OF SF set before), want RAX 0 and them clear",
		    what, vec(v), op.rax, op.flags);
	if (completed_with(v, &op, PROG_SUCCESS)) {
		table[keyid].cmd = cmd;
		table[keyid].alg = alg;
		table[keyid].programs++;
	}
	snprintf(what, sizeof(what), "%s %s", cmd_names[cmd], alg_name(alg));
	check_table(keyid, what);
}

/*
 * A PCONFIG the host made fail: @rax with ZF set, the others clear, so
 * they go in set and ZF clear.
 */
static void check_program_fails(u32 keyid, u32 cmd, u32 rax, const char *why)
{
	struct pconfig_op op = {
		.rbx = (u64)fill(0, keyid, CTRL(cmd, cfg.alg)),
		.flags = X86_FIXED | (ARITH_FLAGS & ~X86_ZF),
	};
	char before[256], after[256];
	struct fault f;
	int v;

	keys(keyid, before, sizeof(before));
	v = pconfig(&op, &f);
	keys(keyid, after, sizeof(after));
	ktap_result(completed_with(v, &op, rax),
		    "PCONFIG %s KeyID %u %s: fault %s, RAX 0x%lx, RFLAGS 0x%lx (CF PF AF OF SF set before), want RAX %u, ZF set, others clear",
		    cmd_names[cmd], keyid, why, vec(v), op.rax, op.flags, rax);
	check_same("the failed PCONFIG changed no key", before, after);
}

static void __printf(3, 4) expect_gp(u32 leaf, u64 rbx, const char *fmt, ...)
{
	struct pconfig_op op = { .leaf = leaf, .rbx = rbx, .flags = X86_FIXED };
	char what[128];
	struct fault f;
	va_list ap;
	int v;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	v = pconfig(&op, &f);
	if (v == NO_FAULT)
		ktap_result(false, "%s raises GP(0): no fault, RAX 0x%lx", what, op.rax);
	else
		ktap_result(v == 13 && f.error == 0, "%s raises GP(0): %s error 0x%lx",
			    what, vec(v), f.error);
}

static void gp_struct(u32 keyid, u32 ctrl, const char *what)
{
	expect_gp(0, (u64)fill(0, keyid, ctrl), "KeyID %u KEYID_CTRL 0x%x (%s)",
		  keyid, ctrl, what);
}

static void test_ud(void)
{
	static const struct {
		u8 byte;
		const char *name;
	} prefixes[] = {
		{ 0xf0, "LOCK" }, { 0xf3, "REP" }, { 0xf2, "REPNE" },
		{ 0x66, "operand-size" },
	};
	struct pconfig_op op;
	struct fault f;
	unsigned int i;
	int v;

	/* Well-formed, so that nothing but the CPL or prefix can fault */
	op = (struct pconfig_op) {
		.rbx = (u64)fill(0, 1, CTRL(CMD_DIRECT, cfg.alg)),
		.flags = X86_FIXED,
	};
	v = run_user(do_pconfig, &op, &f);
	ktap_result(v == 6 && f.user, "PCONFIG at CPL3 raises UD: %s%s",
		    vec(v), v >= 0 && !f.user ? " at CPL0" : "");

	for (i = 0; i < ARRAY_SIZE(prefixes); i++) {
		op = (struct pconfig_op) {
			.rbx = (u64)fill(0, 1, CTRL(CMD_DIRECT, cfg.alg)),
			.flags = X86_FIXED,
			.prefix = prefixes[i].byte,
		};
		v = pconfig(&op, &f);
		ktap_result(v == 6, "PCONFIG with prefix %s (%02x) raises UD: %s%s",
			    prefixes[i].name, prefixes[i].byte, vec(v),
			    v == NO_FAULT ? " (it completed)" : "");
	}
}

static void test_gp(void)
{
	static const u32 leaves[] = { 1, 2, 3, 0xffffffff };
	static const u32 misalign[] = { 0x10, 0x80, 0x1 };
	static const struct {
		u32 alg;
		const char *why;
	} bad_algs[] = {
		{ 0, "none" },
		{ ALG_XTS_128 | ALG_XTS_256, "two algorithms" },
		{ ALG_XTS_128_INTEGRITY, "AES-XTS-128 with integrity, never activated" },
		{ ALG_XTS_256_INTEGRITY, "AES-XTS-256 with integrity, never activated" },
		{ 1u << 15, "bit 15, reserved" },
	};
	u32 k = cfg.keyid_bits, p = cfg.tdx_bits, m = cfg.max_keys;
	u32 ok_ctrl = CTRL(CMD_DIRECT, cfg.alg);
	u32 tdx_first = 1u << (k - p), id;
	char keys_before[256], keys_after[256];
	char calls_before[256], calls_after[256];
	u64 rbx;
	unsigned int i;

	keys(1, keys_before, sizeof(keys_before));
	host_request(calls_before, sizeof(calls_before), "calls");

	for (i = 0; i < ARRAY_SIZE(leaves); i++)
		expect_gp(leaves[i], (u64)fill(0, 1, ok_ctrl),
			  "PCONFIG leaf EAX=0x%x (only leaf 0 of target 1 enumerated)",
			  leaves[i]);

	for (i = 0; i < ARRAY_SIZE(misalign); i++) {
		rbx = (u64)fill(256 + misalign[i], 1, ok_ctrl);
		expect_gp(0, rbx, "RBX 0x%lx, not 256-byte aligned", rbx);
	}

	fill(0, 1, ok_ctrl);
	rbx = (u64)area + (1ull << 47);
	expect_gp(0, rbx, "RBX 0x%lx, non-canonical", rbx);

	gp_struct(1, ok_ctrl | 1u << 24, "reserved bit 24");
	gp_struct(1, ok_ctrl | 1u << 31, "reserved bit 31");
	gp_struct(1, CTRL(4, cfg.alg), "COMMAND 4");
	gp_struct(1, CTRL(0xff, cfg.alg), "COMMAND 0xff");

	gp_struct(0, ok_ctrl, "KeyID 0, TME's own");
	if (m + 1 < 1u << k)
		gp_struct(m + 1, ok_ctrl, "MAX_KEYS + 1");
	else
		ktap_skip("KeyID MAX_KEYS + 1 raises GP(0)",
			  "MAX_KEYS + 1 = %u = 2^%u, tested next", m + 1, k);
	gp_struct(1u << k, ok_ctrl, "2^KEYID_BITS, beyond the KeyID bits");
	gp_struct(0xffff, ok_ctrl, "all 16 bits set");

	if (p) {
		gp_struct(tdx_first, ok_ctrl,
			  tdx_first > m ? "lowest TDX KeyID, also above MAX_KEYS"
					: "lowest TDX KeyID");
		gp_struct((1u << k) - 1, ok_ctrl,
			  (1u << k) - 1 > m ? "highest TDX KeyID, also above MAX_KEYS"
					    : "highest TDX KeyID");
		if (tdx_first - 1 > m)
			gp_struct(tdx_first - 1, ok_ctrl,
				  "last KeyID before the TDX ones, above MAX_KEYS");
		else
			ktap_skip("last KeyID before the TDX ones raises GP(0)",
				  "KeyID %u <= MAX_KEYS %u, programmed later as the highest usable",
				  tdx_first - 1, m);
	} else {
		ktap_skip("lowest TDX KeyID raises GP(0)", "no TDX KeyID bits");
		ktap_skip("highest TDX KeyID raises GP(0)", "no TDX KeyID bits");
		ktap_skip("last KeyID before the TDX ones raises GP(0)", "no TDX KeyID bits");
	}

	for (i = 0; i < ARRAY_SIZE(bad_algs); i++)
		gp_struct(1, CTRL(CMD_DIRECT, bad_algs[i].alg), bad_algs[i].why);
	/* The algorithm is checked even for commands that do not use it. */
	gp_struct(1, CTRL(CMD_CLEAR_KEY, 0), "CLEAR_KEY without an algorithm");

	id = !(cfg.algs & ALG_XTS_128) ? ALG_XTS_128 :
	     !(cfg.algs & ALG_XTS_256) ? ALG_XTS_256 : 0;
	if (id)
		gp_struct(1, CTRL(CMD_DIRECT, id), "an algorithm not activated");
	else
		ktap_skip("an algorithm not activated raises GP(0)",
			  "algs=0x%x activates both the model has", cfg.algs);

	keys(1, keys_after, sizeof(keys_after));
	host_request(calls_after, sizeof(calls_after), "calls");
	check_same("the GP cases left KeyID 1 (used by most) unchanged",
		   keys_before, keys_after);
	check_same("the GP cases reached no key table (calls/failures)",
		   calls_before, calls_after);
}

static void test_pf(void)
{
	struct pconfig_op op = { .rbx = UNMAPPED_VA, .flags = X86_FIXED };
	char keys_before[256], keys_after[256];
	char calls_before[256], calls_after[256];
	struct fault f;
	int v;

	keys(1, keys_before, sizeof(keys_before));
	host_request(calls_before, sizeof(calls_before), "calls");
	v = pconfig(&op, &f);
	keys(1, keys_after, sizeof(keys_after));
	host_request(calls_after, sizeof(calls_after), "calls");

	ktap_result(v == 14 && f.cr2 >= UNMAPPED_VA && f.cr2 < UNMAPPED_VA + 0x1000 &&
		    !(f.error & 3),
		    "PCONFIG of a structure at unmapped 0x%llx raises PF on a not-present read: %s error 0x%lx CR2 0x%lx",
		    UNMAPPED_VA, vec(v), f.error, f.cr2);
	check_same("the PF left KeyID 1 unchanged", keys_before, keys_after);
	check_same("the PF reached no key table (calls/failures)",
		   calls_before, calls_after);
}

static void test_commands(void)
{
	static const u32 algs[] = { ALG_XTS_128, ALG_XTS_256 };
	u32 keyid = 2, cmd;
	unsigned int i;

	for (i = 0; i < ARRAY_SIZE(algs); i++) {
		if (!(cfg.algs & algs[i]))
			continue;
		for (cmd = CMD_DIRECT; cmd <= CMD_NO_ENCRYPT; cmd++)
			check_program(keyid, cmd, algs[i], PLAIN);
		keyid++;
	}
}

static void test_inject(void)
{
	const u32 keyid = 4;
	char reply[256], want[32];

	host_request(reply, sizeof(reply), "inject error=device-busy count=2");
	ktap_result(!strcmp(reply, "ok"), "inject 2 DEVICE_BUSY: host '%s'", reply);
	check_program_fails(keyid, CMD_DIRECT, DEVICE_BUSY, "while busy (1 of 2)");
	check_program_fails(keyid, CMD_DIRECT, DEVICE_BUSY, "while busy (2 of 2)");
	check_program(keyid, CMD_DIRECT, cfg.alg, PLAIN);

	host_request(reply, sizeof(reply), "inject error=entropy-error count=1");
	ktap_result(!strcmp(reply, "ok"), "inject 1 ENTROPY_ERROR: host '%s'", reply);
	/* DIRECT needs no entropy, so it must leave the injection for RANDOM */
	check_program(keyid, CMD_DIRECT, cfg.alg, PLAIN);
	check_program_fails(keyid, CMD_RANDOM, ENTROPY_ERROR, "without entropy");
	check_program(keyid, CMD_RANDOM, cfg.alg, PLAIN);

	host_request(reply, sizeof(reply), "calls");
	snprintf(want, sizeof(want), "%u/3", nr_completed);
	ktap_result(field_is(reply, "p0", want),
		    "package 0 counts the %u PCONFIGs that completed, 3 failed as injected: host '%s', want p0=%s",
		    nr_completed, reply, want);
	ktap_result(field_is(reply, "p1", "0/0"),
		    "package 1 counts no PCONFIG: host '%s', want p1=0/0", reply);
}

int main(const char *cmdline)
{
	struct cpuid_regs r;
	char reply[256];
	unsigned int nalgs, i;

	cfg.keyid_bits = arg_u64(cmdline, "keyid_bits", 0);
	cfg.max_keys = arg_u64(cmdline, "max_keys", 0);
	cfg.tdx_bits = arg_u64(cmdline, "tdx_bits", 0);
	cfg.algs = arg_u64(cmdline, "algs", 0);
	if (cfg.keyid_bits < 1 || cfg.keyid_bits > 15 ||
	    cfg.tdx_bits >= cfg.keyid_bits || cfg.max_keys < 1 ||
	    cfg.max_keys >= 1u << cfg.keyid_bits ||
	    !cfg.algs || (cfg.algs & ~(ALG_XTS_128 | ALG_XTS_256)))
		ktap_bail("bad command line '%s'", cmdline);
	cfg.alg = cfg.algs & ALG_XTS_128 ? ALG_XTS_128 : ALG_XTS_256;
	cfg.last_mktme = (1u << (cfg.keyid_bits - cfg.tdx_bits)) - 1;
	if (cfg.max_keys < cfg.last_mktme)
		cfg.last_mktme = cfg.max_keys;
	/* KeyIDs 1 to 5 are the test's own */
	if (cfg.last_mktme < 5)
		ktap_bail("only %u KeyIDs usable, the test needs 5", cfg.last_mktme);
	for (i = 0; i < ARRAY_SIZE(table); i++)
		table[i].cmd = UNPROGRAMMED;

	cpuid(7, 0, &r);
	if (!(r.edx & 1u << 18) || !(r.ecx & 1u << 13))
		ktap_bail("no PCONFIG or TME in CPUID.(7,0): ECX 0x%x EDX 0x%x",
			  r.ecx, r.edx);

	nalgs = !!(cfg.algs & ALG_XTS_128) + !!(cfg.algs & ALG_XTS_256);
	ktap_plan(65 + 12 * nalgs);
	cpuid(1, 0, &r);
	ktap_diag("keyid_bits %u max_keys %u tdx_bits %u algs 0x%x; KeyIDs 1-%u usable; APIC ID %u",
		  cfg.keyid_bits, cfg.max_keys, cfg.tdx_bits, cfg.algs,
		  cfg.last_mktme, r.ebx >> 24);

	test_ud();
	test_gp();
	test_pf();
	test_commands();
	check_program(cfg.last_mktme, CMD_DIRECT, cfg.alg, PLAIN);
	check_program(5, CMD_DIRECT, cfg.alg, JUNK);
	check_program(5, CMD_NO_ENCRYPT, cfg.alg, RAX_HIGH);
	test_inject();

	host_request(reply, sizeof(reply), "hmp");
	ktap_result(!strcmp(reply, "ok"), "HMP 'info mktme' agrees with query-mktme: host '%s'",
		    reply);
	ktap_exit();
}
