// SPDX-License-Identifier: GPL-2.0
/*
 * The TME-MK encryption engine, seen from a CPU and from the host: what
 * RAM holds after writes through a KeyID (OpenSSL's AES-XTS of the data,
 * checked by the host), and that every kind of access through a KeyID -
 * all sizes and alignments, string ops, atomics, instruction fetch, device
 * DMA - sees plaintext, while other KeyIDs see garbage.
 *
 * Command line: keyid_bits=K (default 6; phys-bits 46, or 48 for K=7).
 * Runs on CPU 0, package 0, of two sockets each owning a 256 MiB node.
 */
#include "lib.h"
#include "mktme.h"

#define NODE0_PA	0x04000000ULL	/* 64 MiB: node 0 */
#define NODE1_PA	0x14000000ULL	/* 320 MiB: node 1 */
#define LINE		64

static unsigned int shift;		/* where the KeyID starts in a PA */
static char reply[256];

static const u8 k128_1[16] = "0123456789abcdef";
static const u8 k128_2[16] = "fedcba9876543210";
static const u8 k256_1[32] = "The quick brown fox jumps over t";
static const u8 k256_2[32] = "he lazy dog, twice over, quickly";

/* The VA through which KeyID k reaches physical address pa. */
static void *kva(unsigned int k, u64 pa)
{
	return (void *)KEYID_VA((u64)k << (shift - KEYID_SHIFT), pa);
}

static void *pva(u64 pa)
{
	return (void *)pa;
}

/* 8-byte stores, as a kernel's memcpy would do */
static void store64(void *dst, const void *src, size_t n)
{
	volatile u64 *d = dst;
	const u64 *s = src;

	for (size_t i = 0; i < n / 8; i++)
		d[i] = s[i];
}

static void test_known_answer(int bits, unsigned int keyid, u64 pa)
{
	const u8 *k1 = bits == 128 ? k128_1 : k256_1;
	const u8 *k2 = bits == 128 ? k128_2 : k256_2;
	u32 alg = bits == 128 ? ALG_AES_XTS_128 : ALG_AES_XTS_256;
	static u8 pt[256], back[256];
	u64 rax;

	/* the KeyID may have been used before: nothing of it stays cached */
	wbinvd();
	rax = mktme_program(keyid, KEYID_SET_KEY_DIRECT, alg, k1, k2, bits / 8);
	ktap_result(rax == 0, "AES-XTS-%d: KeyID %u programmed directly (rax %lu)",
		    bits, keyid, (unsigned long)rax);
	fill_pattern(pt, sizeof(pt), bits + keyid);
	store64(kva(keyid, pa), pt, sizeof(pt));
	/* the lines reach DRAM when written back */
	flush_lines(kva(keyid, pa), sizeof(pt));
	ktap_result(host_kat(reply, sizeof(reply), bits, k1, k2, pa, pt, sizeof(pt)),
		    "AES-XTS-%d: RAM at 0x%lx holds OpenSSL's ciphertext of what KeyID %u wrote (%s)",
		    bits, (unsigned long)pa, keyid, reply);
	memcpy(back, kva(keyid, pa), sizeof(back));
	ktap_result(!memcmp(back, pt, sizeof(pt)),
		    "AES-XTS-%d: reads through KeyID %u return the plaintext", bits, keyid);
	ktap_result(memcmp(pva(pa), pt, LINE) != 0,
		    "AES-XTS-%d: reads through KeyID 0 do not", bits);
}

/* Every size at every offset of a line, read back at every other size. */
static void test_sizes(unsigned int keyid, u64 pa)
{
	volatile u8 *e = kva(keyid, pa);
	static u8 ref[2 * LINE];
	int bad = 0;

	memset(ref, 0, sizeof(ref));
	memset((void *)e, 0, sizeof(ref));
	for (int size = 1; size <= 8; size *= 2) {
		for (int off = 0; off + size <= 2 * LINE; off++) {
			u64 v = 0x0102030405060708ULL * (off + 1) ^ size;

			switch (size) {
			case 1: *(volatile u8 *)(e + off) = v; break;
			case 2: *(volatile u16 *)(e + off) = v; break;
			case 4: *(volatile u32 *)(e + off) = v; break;
			case 8: *(volatile u64 *)(e + off) = v; break;
			}
			memcpy(ref + off, &v, size);
			for (int i = 0; i < 2 * LINE; i++)
				bad += e[i] != ref[i];
			for (int i = 0; i + 8 <= 2 * LINE; i += 3)
				bad += *(volatile u64 *)(e + i) != *(u64 *)(ref + i);
		}
	}
	ktap_result(!bad, "1/2/4/8-byte stores at every offset of two lines, "
		    "unaligned and line-crossing, read back by bytes and unaligned "
		    "quadwords (%d mismatches)", bad);
}

static void test_sse(unsigned int keyid, u64 pa)
{
	u8 *e = kva(keyid, pa);
	static u8 in[32] __attribute__((aligned(16))), out[32] __attribute__((aligned(16)));

	fill_pattern(in, sizeof(in), 7);
	asm volatile("movdqa (%0), %%xmm0\n\tmovdqa %%xmm0, (%1)"
		     : : "r"(in), "r"(e) : "xmm0", "memory");
	asm volatile("movdqa 16(%0), %%xmm1\n\tmovdqu %%xmm1, 56(%1)"
		     : : "r"(in), "r"(e) : "xmm1", "memory");
	asm volatile("movdqa (%0), %%xmm2\n\tmovdqa %%xmm2, (%1)"
		     : : "r"(e), "r"(out) : "xmm2", "memory");
	asm volatile("movdqu 56(%0), %%xmm3\n\tmovdqa %%xmm3, 16(%1)"
		     : : "r"(e), "r"(out) : "xmm3", "memory");
	ktap_result(!memcmp(out, in, sizeof(in)),
		    "16-byte SSE loads and stores, aligned and across a line");
}

static void test_string_ops(unsigned int keyid, u64 pa)
{
	static u8 src[300], dst[300];
	u8 *e = kva(keyid, pa);
	size_t n = sizeof(src);

	fill_pattern(src, n, 11);
	asm volatile("rep movsb" : "+D"(e), "+S"((const u8 *){src}), "+c"(n) : : "memory");
	e = kva(keyid, pa);
	memset(dst, 0, sizeof(dst));
	memcpy(dst, e + 0, sizeof(dst));
	ktap_result(!memcmp(dst, src, sizeof(src)), "rep movsb into encrypted memory");

	n = 200;
	asm volatile("rep stosb" : "+D"(e), "+c"(n) : "a"(0x5a) : "memory");
	e = kva(keyid, pa);
	n = 0;
	for (int i = 0; i < 200; i++)
		n += e[i] != 0x5a;
	ktap_result(n == 0, "rep stosb into encrypted memory");
}

static void test_atomics(unsigned int keyid, u64 pa)
{
	volatile u64 *q = kva(keyid, pa);
	u64 old, lo, hi;
	u8 ok;

	q[0] = 40;
	old = 2;
	asm volatile("lock xaddq %0, %1" : "+r"(old), "+m"(q[0]) : : "memory");
	ktap_result(old == 40 && q[0] == 42, "lock xadd (old %lu, now %lu)",
		    (unsigned long)old, (unsigned long)q[0]);

	old = 42;
	asm volatile("lock cmpxchgq %2, %1" : "+a"(old), "+m"(q[0]) : "r"(7ULL) : "memory");
	ktap_result(q[0] == 7, "lock cmpxchg that succeeds");
	old = 42;
	asm volatile("lock cmpxchgq %2, %1" : "+a"(old), "+m"(q[0]) : "r"(9ULL) : "memory");
	ktap_result(q[0] == 7 && old == 7, "lock cmpxchg that fails reads the value");

	old = 99;
	asm volatile("xchgq %0, %1" : "+r"(old), "+m"(q[1]) : : "memory");
	ktap_result(q[1] == 99, "xchg");

	q[2] = 1;
	q[3] = 2;
	lo = 1;
	hi = 2;
	asm volatile("lock cmpxchg16b %1\n\tsete %0"
		     : "=q"(ok), "+m"(*(volatile u64 (*)[2])&q[2]), "+a"(lo), "+d"(hi)
		     : "b"(0x1111ULL), "c"(0x2222ULL) : "memory");
	ktap_result(ok && q[2] == 0x1111 && q[3] == 0x2222, "lock cmpxchg16b");
}

/* mov eax, 0x12345678; ret */
static const u8 code[] = { 0xb8, 0x78, 0x56, 0x34, 0x12, 0xc3 };

static void test_ifetch(unsigned int keyid, u64 pa)
{
	u32 (*fn)(void) = kva(keyid, pa);

	memcpy(kva(keyid, pa), code, sizeof(code));
	ktap_result(fn() == 0x12345678, "code in encrypted memory executes");
}

/* 4 KiB mappings at 3 << 39: page 0 plain, page 1 through a KeyID */
static u64 xpdpt[512] __attribute__((aligned(4096)));
static u64 xpd[512] __attribute__((aligned(4096)));
static u64 xpt[512] __attribute__((aligned(4096)));

static void test_ifetch_crossing(unsigned int keyid, u64 plain_pa, u64 enc_pa)
{
	u8 *va = (u8 *)(3ULL << 39);
	u32 (*fn)(void) = (void *)(va + 4093);

	xpdpt[0] = (u64)xpd | 7;
	xpd[0] = (u64)xpt | 7;
	xpt[0] = plain_pa | 7;
	xpt[1] = ((u64)keyid << shift | enc_pa) | 7;
	pml4[3] = (u64)xpdpt | 7;
	flush_tlb();

	memcpy(pva(plain_pa + 4093), code, 3);
	memcpy(kva(keyid, enc_pa), code + 3, sizeof(code) - 3);
	ktap_result(fn() == 0x12345678,
		    "an instruction that starts in a plain page and ends in an encrypted one");
}

static void test_dma(unsigned int keyid, u64 pa)
{
	static u8 plain[256];
	bool ok1, ok2;

	if (!fw_cfg_has_dma()) {
		ktap_skip("device DMA into encrypted memory", "fw_cfg has no DMA");
		ktap_skip("device DMA: RAM holds ciphertext", "fw_cfg has no DMA");
		return;
	}
	ok1 = fw_cfg_dma_read(FW_CFG_FILE_DIR, (u64)plain, sizeof(plain));
	ok2 = fw_cfg_dma_read(FW_CFG_FILE_DIR, (u64)keyid << shift | pa, sizeof(plain));
	ktap_result(ok1 && ok2 && !memcmp(kva(keyid, pa), plain, sizeof(plain)),
		    "device DMA (fw_cfg) to a KeyID address: the CPU reads it back in plaintext");
	ktap_result(host_kat(reply, sizeof(reply), 128, k128_1, k128_2, pa, plain, sizeof(plain)),
		    "device DMA: RAM holds the ciphertext (%s)", reply);
}

/* Data written through one KeyID, read through others. */
static void test_isolation(u64 pa)
{
	static u8 pt[LINE], v[LINE];
	u64 rax;

	/* each KeyID's lines are flushed before the line is used under another */
	fill_pattern(pt, LINE, 99);
	memcpy(kva(1, pa), pt, LINE);
	flush_lines(kva(1, pa), LINE);
	memcpy(v, kva(2, pa), LINE);
	flush_lines(kva(2, pa), LINE);
	ktap_result(memcmp(v, pt, LINE) != 0,
		    "a line written through KeyID 1 reads as garbage through KeyID 2");
	memcpy(v, kva(5, pa), LINE);
	flush_lines(kva(5, pa), LINE);
	ktap_result(memcmp(v, pt, LINE) != 0,
		    "... and through KeyID 5, never programmed");

	memcpy(pva(pa), pt, LINE);
	memcpy(v, kva(5, pa), LINE);
	ktap_result(memcmp(v, pt, LINE) != 0,
		    "plaintext written through KeyID 0 reads as garbage through unprogrammed KeyID 5");
	memcpy(kva(5, pa), pt, LINE);
	memcpy(v, kva(5, pa), LINE);
	flush_lines(kva(5, pa), LINE);
	ktap_result(!memcmp(v, pt, LINE) && memcmp(pva(pa), pt, LINE),
		    "an unprogrammed KeyID still round-trips, with ciphertext in RAM");

	rax = mktme_program(3, KEYID_CLEAR_KEY, ALG_AES_XTS_128, NULL, NULL, 0);
	memcpy(kva(3, pa), pt, LINE);
	ktap_result(!rax && !memcmp(pva(pa), pt, LINE),
		    "CLEAR_KEY: KeyID 3 writes plaintext, like KeyID 0");
	rax = mktme_program(4, KEYID_NO_ENCRYPT, ALG_AES_XTS_128, NULL, NULL, 0);
	fill_pattern(pt, LINE, 100);
	memcpy(kva(4, pa), pt, LINE);
	ktap_result(!rax && !memcmp(pva(pa), pt, LINE),
		    "NO_ENCRYPT: KeyID 4 writes plaintext, like KeyID 0");
}

/* Reprogramming a KeyID makes what it encrypted unreadable. */
static void test_rekey_erases(u64 pa)
{
	static const u8 other[16] = "another key 1234";
	static u8 pt[LINE], v[LINE];

	mktme_program(6, KEYID_SET_KEY_DIRECT, ALG_AES_XTS_128, k128_1, k128_2, 16);
	fill_pattern(pt, LINE, 5);
	memcpy(kva(6, pa), pt, LINE);
	/* nothing of the old key may stay cached across PCONFIG */
	wbinvd();
	mktme_program(6, KEYID_SET_KEY_DIRECT, ALG_AES_XTS_128, other, k128_2, 16);
	memcpy(v, kva(6, pa), LINE);
	ktap_result(memcmp(v, pt, LINE) != 0,
		    "after KeyID 6 is reprogrammed, its old data reads as garbage");
	wbinvd();
	mktme_program(6, KEYID_SET_KEY_RANDOM, ALG_AES_XTS_128, NULL, NULL, 0);
	memcpy(v, kva(6, pa), LINE);
	ktap_result(memcmp(v, pt, LINE) != 0, "... and after a random key too");
}

/*
 * Node 1 belongs to package 1, whose table this CPU (package 0) never
 * programmed: KeyID 1 there uses package 1's reset key.
 */
static void test_package_scope(void)
{
	static u8 pt[LINE];

	fill_pattern(pt, LINE, 77);
	memcpy(kva(1, NODE1_PA), pt, LINE);
	flush_lines(kva(1, NODE1_PA), LINE);
	host_request(reply, sizeof(reply), "keys keyid=1");
	ktap_result(!strcmp(reply, "p0=direct/aes-xts-128/1 p1=unprogrammed/-/0"),
		    "KeyID 1 is programmed on package 0 only (%s)", reply);
	host_kat(reply, sizeof(reply), 128, k128_1, k128_2, NODE1_PA, pt, LINE);
	ktap_result(strncmp(reply, "mismatch", 8) == 0,
		    "node 1 memory is encrypted with package 1's key, not package 0's");
}

int main(const char *cmdline)
{
	unsigned int k = arg_u64(cmdline, "keyid_bits", 6);
	struct cpuid_regs r;

	cpuid(0x80000008, 0, &r);
	shift = (r.eax & 0xff) - k;
	ktap_plan(35);
	ktap_diag("phys-bits %u, KeyID bits %u: KeyID 1 at 0x%lx",
		  r.eax & 0xff, k, 1UL << shift);
	if (shift < KEYID_SHIFT || (1u << (shift - KEYID_SHIFT)) * 6 >= NR_KEYIDS)
		ktap_bail("the page tables cannot reach KeyIDs at bit %u", shift);

	test_known_answer(128, 1, NODE0_PA);
	test_known_answer(256, 2, NODE0_PA + 0x1000);
	test_known_answer(256, 2, 0x10000000 - 0x1000);	/* node 0's last page */
	test_sizes(1, NODE0_PA + 0x2000);
	test_sse(1, NODE0_PA + 0x3000);
	test_string_ops(2, NODE0_PA + 0x4000);
	test_atomics(1, NODE0_PA + 0x5000);
	test_ifetch(2, NODE0_PA + 0x6000);
	test_ifetch_crossing(1, NODE0_PA + 0x7000, NODE0_PA + 0x9000);
	test_dma(1, NODE0_PA + 0xa000);
	test_isolation(NODE0_PA + 0xb000);
	test_rekey_erases(NODE0_PA + 0xc000);
	test_package_scope();
	ktap_exit();
}
