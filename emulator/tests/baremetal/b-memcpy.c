// SPDX-License-Identifier: GPL-2.0
/*
 * Not a test: memory-copy throughput through the TME-MK engine against
 * plain memory, as ratios of TSC ticks (absolute numbers mean little under
 * TCG).  Prints "bench NAME ticks=N ratio=R" lines for scripts/bench.sh.
 */
#include "lib.h"
#include "mktme.h"

#define SIZE	(1u << 20)
#define SRC_PA	0x04000000ULL
#define DST_PA	0x05000000ULL

static u64 rdtsc(void)
{
	u32 lo, hi;

	asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return lo | (u64)hi << 32;
}

static u64 timed_copy(void *dst, const void *src)
{
	u64 best = ~0ULL;

	for (int i = 0; i < 3; i++) {
		u64 t = rdtsc();

		memcpy(dst, src, SIZE);
		t = rdtsc() - t;
		if (t < best)
			best = t;
	}
	return best;
}

int main(const char *cmdline)
{
	static const u8 k[16] = "bench key 012345";
	static const u8 t[16] = "bench tweak 0123";
	void *ps = (void *)SRC_PA, *pd = (void *)DST_PA;
	void *es = (void *)KEYID_VA(1, SRC_PA), *ed = (void *)KEYID_VA(1, DST_PA);
	u64 plain, to_enc, from_enc, both;

	if (mktme_program(1, KEYID_SET_KEY_DIRECT, ALG_AES_XTS_128, k, t, 16))
		ktap_bail("PCONFIG failed");
	memset(ps, 0x5a, SIZE);
	plain = timed_copy(pd, ps);
	to_enc = timed_copy(ed, ps);
	from_enc = timed_copy(pd, es);
	both = timed_copy(ed, es);
	printf("bench memcpy-plain ticks=%lu ratio=1.00\n", (unsigned long)plain);
	printf("bench memcpy-to-encrypted ticks=%lu ratio=%lu.%02lu\n", (unsigned long)to_enc,
	       (unsigned long)(to_enc / plain), (unsigned long)(to_enc * 100 / plain % 100));
	printf("bench memcpy-from-encrypted ticks=%lu ratio=%lu.%02lu\n", (unsigned long)from_enc,
	       (unsigned long)(from_enc / plain), (unsigned long)(from_enc * 100 / plain % 100));
	printf("bench memcpy-encrypted ticks=%lu ratio=%lu.%02lu\n", (unsigned long)both,
	       (unsigned long)(both / plain), (unsigned long)(both * 100 / plain % 100));
	exit(EXIT_PASS);
}
