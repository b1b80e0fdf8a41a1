// SPDX-License-Identifier: GPL-2.0
/*
 * Two packages, from inside: the second CPU (APIC ID 1, package 1) is
 * started and programs KeyID 1 in its own package's key table, which then
 * encrypts the memory of the node package 1 owns; and WBINVD writes back
 * only the executing package's lines.  The host checks the key tables
 * (query-mktme) and RAM (OpenSSL).
 *
 * Needs -smp 2,sockets=2 with node 0 on CPU 0 and node 1 on CPU 1.
 */
#include "lib.h"
#include "mktme.h"

#define NODE0_PA	0x07000000ULL	/* node 0: package 0's memory */
#define NODE1_PA	0x15000000ULL	/* node 1: package 1's memory */
#define LINE		64

static const u8 key_a[16] = "package 0 key..";
static const u8 key_b[16] = "package 1 key..";
static const u8 tweak[16] = "the tweak key 01";

static char reply[256];

enum { AP_IDLE, AP_PROGRAM, AP_STORE, AP_WBINVD };

static volatile int ap_cmd;
static volatile u64 ap_rax;
static u8 pt[LINE];

static void *kva(unsigned int k, u64 pa)
{
	return (void *)KEYID_VA(k, pa);
}

/* The second CPU: runs what the first asks, one command at a time */
static void ap_main(void)
{
	for (;;) {
		switch (ap_cmd) {
		case AP_PROGRAM:
			ap_rax = mktme_program(1, KEYID_SET_KEY_DIRECT, ALG_AES_XTS_128,
					       key_b, tweak, 16);
			break;
		case AP_STORE:
			memcpy(kva(1, NODE0_PA), pt, LINE);
			break;
		case AP_WBINVD:
			wbinvd();
			break;
		default:
			asm volatile("pause");
			continue;
		}
		ap_cmd = AP_IDLE;
	}
}

static void ap_do(int cmd)
{
	ap_cmd = cmd;
	while (ap_cmd != AP_IDLE)
		asm volatile("pause");
}

/* Does RAM at @pa hold the XTS ciphertext of @pt under @k1 (tweak key)? */
static bool in_dram(const u8 *k1, u64 pa)
{
	return host_kat(reply, sizeof(reply), 128, k1, tweak, pa, pt, LINE);
}

int main(const char *cmdline)
{
	u64 rax;

	ktap_plan(6);
	if (!start_ap(1, ap_main))
		ktap_bail("the second CPU (APIC ID 1) did not start");
	ktap_result(true, "the second CPU (APIC ID 1, package 1) runs");

	rax = mktme_program(1, KEYID_SET_KEY_DIRECT, ALG_AES_XTS_128, key_a, tweak, 16);
	ap_do(AP_PROGRAM);
	host_request(reply, sizeof(reply), "keys keyid=1");
	ktap_result(!rax && !ap_rax &&
		    !strcmp(reply, "p0=direct/aes-xts-128/1 p1=direct/aes-xts-128/1"),
		    "each CPU programs KeyID 1 in its own package's table (%s)", reply);

	fill_pattern(pt, LINE, 41);
	memcpy(kva(1, NODE1_PA), pt, LINE);
	flush_lines(kva(1, NODE1_PA), LINE);
	ktap_result(in_dram(key_b, NODE1_PA),
		    "node 1's memory is encrypted with the key package 1 programmed (%s)", reply);
	ktap_result(!in_dram(key_a, NODE1_PA), "... not with package 0's");

	/* a line dirtied by package 1 in node 0's memory (package 0's key) */
	fill_pattern(pt, LINE, 42);
	ap_do(AP_STORE);
	wbinvd();
	ktap_result(!in_dram(key_a, NODE0_PA),
		    "WBINVD on package 0 leaves a line package 1 dirtied in its cache (%s)", reply);
	ap_do(AP_WBINVD);
	ktap_result(in_dram(key_a, NODE0_PA),
		    "WBINVD on package 1 writes it back (%s)", reply);
	ktap_exit();
}
