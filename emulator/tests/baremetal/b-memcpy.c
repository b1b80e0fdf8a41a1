// SPDX-License-Identifier: GPL-2.0
/*
 * Not a test: how fast encrypted memory is on the model, against plain
 * memory, as ratios of TSC ticks in one boot (absolute numbers mean little
 * under TCG; this runs without -icount, since the model's work is outside
 * guest instructions).
 *
 * Each measure starts with the caches empty (WBINVD) and ends with a
 * WBINVD inside the timing, so fetching from DRAM (decryption) and writing
 * back (encryption) are counted, not only hits in the model's shadow
 * pages.  Copies of 1 MiB with REP MOVSB and with 8-byte moves, to, from
 * and between encrypted buffers; clearing 256 pages with REP STOSB, as
 * the kernel's clear_page_erms() does.  Best of 5.
 *
 * Prints "bench NAME ratio=R" lines: speed relative to plain for copies
 * (1.00 = as fast), time relative to plain for the page clear.
 */
#include "lib.h"
#include "mktme.h"

#define SIZE	(1u << 20)
#define SRC_PA	0x04000000ULL
#define DST_PA	0x05000000ULL
#define RUNS	5

static u64 rdtsc(void)
{
	u32 lo, hi;

	asm volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi));
	return lo | (u64)hi << 32;
}

static void copy_movsb(void *dst, const void *src)
{
	size_t n = SIZE;

	asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n) : : "memory");
}

static void copy_mov8(void *dst, const void *src)
{
	volatile u64 *d = dst;
	const volatile u64 *s = src;

	for (size_t i = 0; i < SIZE / 8; i++)
		d[i] = s[i];
}

static void clear_pages(void *dst, const void *unused)
{
	for (size_t off = 0; off < SIZE; off += 4096) {
		void *d = (char *)dst + off;
		size_t n = 4096;

		asm volatile("rep stosb" : "+D"(d), "+c"(n) : "a"(0) : "memory");
	}
}

static u64 timed(void (*op)(void *, const void *), void *dst, const void *src)
{
	u64 best = ~0ULL;

	for (int i = 0; i < RUNS; i++) {
		u64 t;

		wbinvd();
		t = rdtsc();
		op(dst, src);
		wbinvd();
		t = rdtsc() - t;
		if (t < best)
			best = t;
	}
	return best;
}

/* "bench WHAT[-HOW] ratio=R", R = num / den with two decimals */
static void report(const char *what, const char *how, u64 num, u64 den)
{
	u64 r = (num * 100 + den / 2) / den;

	printf("bench %s%s%s ratio=%lu.%02lu\n", what, how ? "-" : "", how ? how : "",
	       (unsigned long)(r / 100), (unsigned long)(r % 100));
}

int main(const char *cmdline)
{
	static const u8 k[16] = "bench key 012345";
	static const u8 t[16] = "bench tweak 0123";
	void *ps = (void *)SRC_PA, *pd = (void *)DST_PA;
	void *es = (void *)KEYID_VA(1, SRC_PA), *ed = (void *)KEYID_VA(1, DST_PA);
	static const struct {
		const char *name;
		void (*op)(void *, const void *);
	} copies[] = {
		{ "movsb", copy_movsb },
		{ "mov8", copy_mov8 },
	};
	u64 plain, clear_plain, clear_enc;

	if (mktme_program(1, KEYID_SET_KEY_DIRECT, ALG_AES_XTS_128, k, t, 16))
		ktap_bail("PCONFIG failed");
	memset(ps, 0x5a, SIZE);
	memset(es, 0xa5, SIZE);
	for (unsigned int i = 0; i < sizeof(copies) / sizeof(copies[0]); i++) {
		const char *how = copies[i].name;

		plain = timed(copies[i].op, pd, ps);
		report("copy_to", how, plain, timed(copies[i].op, ed, ps));
		report("copy_from", how, plain, timed(copies[i].op, pd, es));
		report("copy_between", how, plain, timed(copies[i].op, ed, es));
	}
	clear_plain = timed(clear_pages, pd, NULL);
	clear_enc = timed(clear_pages, ed, NULL);
	report("clear_page_slowdown", NULL, clear_enc, clear_plain);
	printf("bench done\n");
	exit(EXIT_PASS);
}
