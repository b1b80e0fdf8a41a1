// SPDX-License-Identifier: GPL-2.0
/*
 * The model's caches and its missing-flush detector, seen from a CPU.
 *
 * Every kind of violation the detector knows is provoked once, and the
 * host reads the detector's counters (query-mktme) to see it counted, and
 * counted as that kind only; then the same sequence with the flush that
 * software owes must count nothing.  A detector that never reports, or
 * reports everything, fails here.  Then what the caches do to data: a
 * store reaches DRAM only when written back (CLWB, CLFLUSH, WBINVD,
 * eviction), INVD loses it, and in strict mode a missing flush corrupts
 * the data of the page's next KeyID, where the default mode keeps it.
 *
 * Command line: strict=1 when booted with mktme-check=strict; small=1
 * with a small cache (mktme-cache-pages=16), for the eviction test.
 * Runs on CPU 0, package 0.
 */
#include "lib.h"
#include "mktme.h"

#define PA		0x06000000ULL	/* 96 MiB: node 0, one page a test */
#define LINE		64
#define PAGE		4096

enum { DIRTY_ALIAS, STALE, DMA, PCONFIG, OVERWRITE, KINDS };

static const char *const kind[KINDS] = {
	"dirty-alias", "stale", "dma", "pconfig", "overwrite",
};

static char reply[256];
static u64 provoked;		/* violations this program caused */
static bool strict;

static const u8 k1[16] = "0123456789abcdef";
static const u8 k2[16] = "fedcba9876543210";

static void *kva(unsigned int k, u64 pa)
{
	return (void *)KEYID_VA(k, pa);
}

static u64 page(int n)
{
	return PA + (u64)n * PAGE;
}

static void counts(u64 c[KINDS])
{
	host_request(reply, sizeof(reply), "missing");
	for (int i = 0; i < KINDS; i++)
		c[i] = arg_u64(reply, kind[i], ~0ULL);
}

/*
 * Since @before: @n more of kind @k and none of any other kind.  The
 * caches start empty (WBINVD) so earlier tests leave nothing behind.
 */
static bool counted(const u64 before[KINDS], int k, u64 n)
{
	u64 now[KINDS];
	bool ok = true;

	counts(now);
	for (int i = 0; i < KINDS; i++)
		ok &= now[i] - before[i] == (i == k ? n : 0);
	provoked += n;
	return ok;
}

static void start(u64 before[KINDS])
{
	wbinvd();
	counts(before);
}

/* Does DRAM at @pa hold KeyID 1's ciphertext (k1/k2) of @pt? */
static bool in_dram(u64 pa, const u8 *pt, size_t n)
{
	return host_kat(reply, sizeof(reply), 128, k1, k2, pa, pt, n);
}

static void test_dirty_alias(void)
{
	volatile u64 *a = kva(1, page(0)), *b = kva(2, page(0));
	u64 before[KINDS];

	start(before);
	a[0] = 0x1111;
	(void)b[0];
	ktap_result(counted(before, DIRTY_ALIAS, 1),
		    "missing flush: a line dirty under KeyID 1 read through KeyID 2 (%s)",
		    reply);
	start(before);
	a[0] = 0x1111;
	flush_lines(a, 8);
	(void)b[0];
	ktap_result(counted(before, DIRTY_ALIAS, 0),
		    "detector silent when KeyID 1's line is flushed first (%s)", reply);
	start(before);
	a[0] = 0x1112;			/* a store of the value held is no change */
	b[8] = 0x2222;
	ktap_result(counted(before, DIRTY_ALIAS, 1),
		    "missing flush: a write through KeyID 2 to another line of a page dirty under KeyID 1 (%s)",
		    reply);
}

static void test_stale(void)
{
	volatile u64 *a = kva(1, page(1)), *b = kva(2, page(1));
	u64 before[KINDS];

	start(before);
	(void)a[0];
	b[0] = 0x3333;
	flush_lines(b, 8);
	(void)a[0];
	ktap_result(counted(before, STALE, 1),
		    "stale: KeyID 1's cached line read after KeyID 2 wrote memory (%s)",
		    reply);
	start(before);
	(void)a[0];
	flush_lines(a, 8);
	b[0] = 0x3333;
	flush_lines(b, 8);
	(void)a[0];
	ktap_result(counted(before, STALE, 0),
		    "detector silent (not stale) when KeyID 1's line was invalidated (%s)",
		    reply);
}

static void test_dma(void)
{
	volatile u64 *a = kva(1, page(2));
	u64 before[KINDS];
	bool ok;

	if (!fw_cfg_has_dma()) {
		for (int i = 0; i < 3; i++)
			ktap_skip("missing flush: DMA", "fw_cfg has no DMA");
		return;
	}
	start(before);
	a[0] = 0x5555;
	ok = fw_cfg_dma_read(FW_CFG_FILE_DIR, page(2), 256);
	ktap_result(ok && counted(before, DMA, 1),
		    "missing flush: a device writes (KeyID 0) over a line dirty under KeyID 1 (%s)",
		    reply);
	start(before);
	a[0] = 0x5555;
	ok = fw_cfg_dma_read(FW_CFG_FILE_DIR, 2ULL << KEYID_SHIFT | page(2), 256);
	ktap_result(ok && counted(before, DMA, 1),
		    "missing flush: a device writes through KeyID 2 over a line dirty under KeyID 1 (%s)",
		    reply);
	start(before);
	a[0] = 0x5555;
	flush_lines(a, 8);
	ok = fw_cfg_dma_read(FW_CFG_FILE_DIR, page(2), 256);
	ok &= fw_cfg_dma_read(FW_CFG_FILE_DIR, 1ULL << KEYID_SHIFT | page(2), 256);
	ktap_result(ok && counted(before, DMA, 0),
		    "detector silent for DMA after the flush, and for DMA through the line's own KeyID (%s)",
		    reply);
}

static void test_pconfig(void)
{
	volatile u64 *c = kva(3, page(3));
	u64 before[KINDS];

	start(before);
	c[0] = 0x6666;
	mktme_program(3, KEYID_SET_KEY_RANDOM, ALG_AES_XTS_128, NULL, NULL, 0);
	ktap_result(counted(before, PCONFIG, 1),
		    "missing flush: KeyID 3 reprogrammed with a dirty line cached (%s)",
		    reply);
	start(before);
	(void)c[0];
	mktme_program(3, KEYID_SET_KEY_RANDOM, ALG_AES_XTS_128, NULL, NULL, 0);
	ktap_result(counted(before, PCONFIG, 1),
		    "missing flush: KeyID 3 reprogrammed with clean lines cached, readable under the old key (%s)",
		    reply);
	start(before);
	c[0] = 0x6666;
	wbinvd();
	mktme_program(3, KEYID_SET_KEY_RANDOM, ALG_AES_XTS_128, NULL, NULL, 0);
	ktap_result(counted(before, PCONFIG, 0),
		    "detector silent for PCONFIG after WBINVD (%s)", reply);
}

static void test_overwrite(void)
{
	volatile u64 *a = kva(1, page(4)), *z = (volatile u64 *)page(4);
	u64 before[KINDS];

	start(before);
	a[0] = 0x7777;
	z[0] = 0x8888;			/* KeyID 0: the page is the kernel's now */
	flush_lines(a, 8);
	ktap_result(counted(before, OVERWRITE, 1),
		    "missing flush: a dirty line of KeyID 1 written back over KeyID 0's data (%s)",
		    reply);
	ktap_result(strict ? z[0] != 0x8888 : z[0] == 0x8888,
		    "%s", strict ? "strict: the write-back destroyed KeyID 0's data"
				 : "KeyID 0's data kept (the model resolved it)");
	start(before);
	a[0] = 0x7777;
	flush_lines(a, 8);
	z[0] = 0x8888;
	flush_lines(a, 8);
	ktap_result(counted(before, OVERWRITE, 0) && z[0] == 0x8888,
		    "detector silent, data intact, when KeyID 1 flushed before KeyID 0 wrote (%s)",
		    reply);
}

/* What the caches do to data, with the flushes done right: no reports. */
static void test_write_back(void)
{
	u8 *a = kva(1, page(5));
	static u8 pt[LINE], old[LINE], v[LINE];
	u64 before[KINDS];

	start(before);
	fill_pattern(pt, LINE, 1);
	memcpy(a, pt, LINE);
	ktap_result(!in_dram(page(5), pt, LINE),
		    "a store through KeyID 1 stays in the cache: DRAM does not hold it yet (%s)",
		    reply);
	clwb(a);
	ktap_result(in_dram(page(5), pt, LINE),
		    "CLWB writes it back: DRAM holds its ciphertext (%s)", reply);
	memcpy(old, pt, LINE);
	fill_pattern(pt, LINE, 2);
	memcpy(a, pt, LINE);
	wbinvd();
	ktap_result(in_dram(page(5), pt, LINE),
		    "WBINVD writes back the package's lines (%s)", reply);
	memcpy(a, old, LINE);
	invd();
	memcpy(v, a, LINE);
	ktap_result(!memcmp(v, pt, LINE),
		    "INVD drops a dirty line: the store before it is lost (%x %x %x)", v[0], pt[0], old[0]);
	clflushopt(a);
	asm volatile("mfence" : : : "memory");
	ktap_result(counted(before, KINDS, 0), "... none of it a missing flush (%s)", reply);
}

static void test_eviction(void)
{
	static u8 pt[LINE];
	u64 before[KINDS];

	start(before);
	fill_pattern(pt, LINE, 3);
	memcpy(kva(1, page(6)), pt, LINE);
	/* a 16-page cache: touching 64 more pages evicts the first */
	for (int i = 0; i < 64; i++)
		*(volatile u64 *)kva(1, page(8 + i)) = i;
	ktap_result(in_dram(page(6), pt, LINE),
		    "eviction writes a dirty line back: DRAM holds its ciphertext (%s)", reply);
	ktap_result(counted(before, KINDS, 0), "... not a missing flush (%s)", reply);
}

/* A missing flush, then the page's next KeyID uses it as it should. */
static void test_damage(void)
{
	volatile u64 *a = kva(1, page(7)), *b = kva(2, page(7));
	u64 v;

	wbinvd();
	a[0] = 0x9999;			/* KeyID 1 never flushes */
	b[0] = 0xabcd;			/* the page is KeyID 2's now */
	flush_lines(b, 8);
	flush_lines(a, 8);		/* KeyID 1's line leaves the cache */
	v = b[0];
	flush_lines(b, 8);
	provoked += strict ? 2 : 1;	/* dirty-alias; strict: overwrite too */
	ktap_result(strict ? v != 0xabcd : v == 0xabcd,
		    "%s (read 0x%lx)", strict ?
		    "strict: KeyID 1's late write-back corrupts KeyID 2's data" :
		    "on: the model wrote KeyID 1's line back at the conflict, KeyID 2's data intact",
		    (unsigned long)v);
}

int main(const char *cmdline)
{
	u64 now[KINDS], total = 0;

	strict = arg_u64(cmdline, "strict", 0);
	if (arg_u64(cmdline, "small", 0)) {
		ktap_plan(4);
		mktme_program(1, KEYID_SET_KEY_DIRECT, ALG_AES_XTS_128, k1, k2, 16);
		test_eviction();
		test_eviction();
		ktap_exit();
	}
	ktap_plan(strict ? 5 : 21);
	mktme_program(1, KEYID_SET_KEY_DIRECT, ALG_AES_XTS_128, k1, k2, 16);
	mktme_program(2, KEYID_SET_KEY_DIRECT, ALG_AES_XTS_128, k2, k1, 16);
	mktme_program(3, KEYID_SET_KEY_RANDOM, ALG_AES_XTS_128, NULL, NULL, 0);
	if (!strict) {
		test_dirty_alias();
		test_stale();
		test_dma();
		test_pconfig();
	}
	test_overwrite();
	if (!strict)
		test_write_back();
	test_damage();
	counts(now);
	for (int i = 0; i < KINDS; i++)
		total += now[i];
	ktap_result(total == provoked,
		    "detector: counted %lu violations, the %lu this program caused",
		    (unsigned long)total, (unsigned long)provoked);
	ktap_exit();
}
