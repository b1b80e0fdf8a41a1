// SPDX-License-Identifier: GPL-2.0
/*
 * Encrypted memory and swap, on zram.  A swap device would store an
 * encrypted page's plaintext, so by default encrypted pages never reach
 * swap; with /sys/kernel/mm/mktme/swap_plaintext set they do, and come back
 * intact and re-keyed to their VMA's KeyID: directly, through the swap
 * cache (entries shared after fork), and through swapoff.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/swap.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"

#define NPAGES	64
#define ZRAM	"/dev/zram0"
#define KNOB	"/sys/kernel/mm/mktme/swap_plaintext"

FIXTURE(swap) {
	long page;
	size_t len;
	char *buf;
	int key, keyid;
	bool swapon_done;
};

/* KiB of swap in use, -1 if no swap is active */
static long swap_used(void)
{
	FILE *f = fopen("/proc/swaps", "r");
	char line[256];
	long size, used, total = -1;

	while (f && fgets(line, sizeof(line), f))
		if (sscanf(line, "%*s %*s %ld %ld", &size, &used) == 2)
			total = (total < 0 ? 0 : total) + used;
	if (f)
		fclose(f);
	return total;
}

static size_t count_swapped(const char *p, size_t n, long page)
{
	size_t i, swapped = 0;

	for (i = 0; i < n; i++)
		swapped += page_swapped(p + i * page);
	return swapped;
}

/* The page i of the buffer holds 'a' + i % 26 */
static int intact(const char *p, size_t n, long page)
{
	size_t i;
	long j;

	for (i = 0; i < n; i++)
		for (j = 0; j < page; j++)
			if (p[i * page + j] != 'a' + (char)(i % 26))
				return 0;
	return 1;
}

static void pageout(char *p, size_t len)
{
	/* twice: the first pass may find pages still in per-CPU LRU batches */
	madvise(p, len, MADV_PAGEOUT);
	madvise(p, len, MADV_PAGEOUT);
}

FIXTURE_SETUP(swap)
{
	size_t i;

	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	if (swap_used() < 0) {
		if (access("/sys/block/zram0/disksize", W_OK))
			SKIP(return, "no swap and no zram device to swap on (CONFIG_ZRAM)");
		write_file("/sys/block/zram0/disksize", "64M");	/* EBUSY once set */
		if (system("mkswap " ZRAM " >/dev/null 2>&1"))
			SKIP(return, "mkswap " ZRAM " failed");
		ASSERT_EQ(0, swapon(ZRAM, 0)) TH_LOG("swapon: %s", strerror(errno));
		self->swapon_done = true;
	}
	ASSERT_EQ(0, write_file(KNOB, "0"));
	self->page = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * self->page;
	self->key = add_mktme_key("swap", "type=cpu");
	ASSERT_LT(0, self->key);
	self->keyid = key_keyid(self->key);
	self->buf = map_encrypted(self->len, self->key);
	ASSERT_NE(MAP_FAILED, self->buf);
	/* small pages: a huge one would be split on swap-out anyway */
	ASSERT_EQ(0, madvise(self->buf, self->len, MADV_NOHUGEPAGE));
	for (i = 0; i < NPAGES; i++)
		memset(self->buf + i * self->page, 'a' + i % 26, self->page);
}

FIXTURE_TEARDOWN(swap)
{
	write_file(KNOB, "0");
	if (self->swapon_done)
		swapoff(ZRAM);
}

TEST_F_TIMEOUT(swap, encrypted_pages_stay_out_by_default, 600)
{
	long refused = read_long_file("/sys/kernel/mm/mktme/swap_refused");
	char *plain = map_anon(self->len);

	ASSERT_NE(MAP_FAILED, plain);
	memset(plain, 'p', self->len);
	pageout(plain, self->len);
	pageout(self->buf, self->len);
	/* swap works: plain pages went there */
	EXPECT_LT(0, count_swapped(plain, NPAGES, self->page));
	EXPECT_EQ(0, count_swapped(self->buf, NPAGES, self->page));
	EXPECT_LT(refused, read_long_file("/sys/kernel/mm/mktme/swap_refused"));
	EXPECT_TRUE(intact(self->buf, NPAGES, self->page));
	EXPECT_EQ(1, dram_is_ciphertext(self->buf, self->len));
	munmap(plain, self->len);
}

TEST_F_TIMEOUT(swap, allowed_pages_come_back_intact_and_encrypted, 600)
{
	ASSERT_EQ(0, write_file(KNOB, "1"));
	pageout(self->buf, self->len);
	ASSERT_LT(0, count_swapped(self->buf, NPAGES, self->page));
	EXPECT_TRUE(intact(self->buf, NPAGES, self->page));
	EXPECT_EQ(0, count_swapped(self->buf, NPAGES, self->page));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	EXPECT_EQ(1, dram_is_ciphertext(self->buf, self->len));
}

/*
 * Swap the buffer out (allowed), then fork: parent and child share the
 * swap entries.  The child waits for a byte on *go before it returns.
 */
static pid_t swap_out_and_fork(struct __test_metadata *_metadata,
			       FIXTURE_DATA(swap) *self, int *go)
{
	int p[2];
	pid_t pid;
	char c;

	ASSERT_EQ(0, write_file(KNOB, "1"));
	pageout(self->buf, self->len);
	ASSERT_LT(0, count_swapped(self->buf, NPAGES, self->page));
	ASSERT_EQ(0, pipe(p));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid && read(p[0], &c, 1) != 1)
		_exit(2);
	*go = p[1];
	return pid;
}

static void release_child(struct __test_metadata *_metadata, pid_t pid, int go)
{
	int status;

	ASSERT_EQ(1, write(go, "x", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * After fork the swap entries are shared: swap-in goes through the swap
 * cache, into a page allocated under KeyID 0, which must be re-keyed.
 */
TEST_F_TIMEOUT(swap, shared_entries_come_back_through_the_swap_cache, 600)
{
	long rekeyed;
	int go;
	pid_t pid = swap_out_and_fork(_metadata, self, &go);

	if (!pid)
		/* the pages the parent brought back, under the same KeyID */
		_exit(intact(self->buf, NPAGES, self->page) &&
		      dram_is_ciphertext(self->buf, self->len) == 1 ? 0 : 1);
	rekeyed = read_long_file("/sys/kernel/mm/mktme/swapin_rekeyed");
	EXPECT_TRUE(intact(self->buf, NPAGES, self->page));
	EXPECT_LT(rekeyed, read_long_file("/sys/kernel/mm/mktme/swapin_rekeyed"));
	EXPECT_EQ(1, dram_is_ciphertext(self->buf, self->len));
	release_child(_metadata, pid, go);
}

/*
 * encrypt_mprotect() of pages whose swap entries are shared with a child:
 * they come back and are unshared first, and the child keeps its KeyID.
 */
TEST_F_TIMEOUT(swap, encrypt_mprotect_of_shared_swapped_pages, 600)
{
	int go;
	pid_t pid = swap_out_and_fork(_metadata, self, &go);

	if (!pid)
		_exit(intact(self->buf, NPAGES, self->page) &&
		      smaps_keyid(self->buf) == self->keyid &&
		      dram_is_ciphertext(self->buf, self->len) == 1 ? 0 : 1);
	ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
					  MKTME_NO_KEY, 0));
	EXPECT_EQ(0, smaps_keyid(self->buf));
	EXPECT_TRUE(intact(self->buf, NPAGES, self->page));
	/* KeyID 0 again: the debugfs file refuses to show such pages */
	EXPECT_EQ(-1, dram_is_ciphertext(self->buf, self->len));
	release_child(_metadata, pid, go);
}

TEST_F_TIMEOUT(swap, swapoff_brings_pages_back, 600)
{
	if (!self->swapon_done)
		SKIP(return, "swap was set up before the test: not turning it off");
	ASSERT_EQ(0, write_file(KNOB, "1"));
	pageout(self->buf, self->len);
	ASSERT_LT(0, count_swapped(self->buf, NPAGES, self->page));
	ASSERT_EQ(0, swapoff(ZRAM));
	self->swapon_done = false;
	EXPECT_EQ(0, count_swapped(self->buf, NPAGES, self->page));
	EXPECT_TRUE(intact(self->buf, NPAGES, self->page));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	EXPECT_EQ(1, dram_is_ciphertext(self->buf, self->len));
}

static sigjmp_buf bus_jmp;

static void on_sigbus(int sig)
{
	siglongjmp(bus_jmp, 1);
}

/* Revocation tears down swapped pages too: SIGBUS, and their swap freed */
TEST_F_TIMEOUT(swap, revoked_key_drops_swapped_pages, 600)
{
	long used;

	ASSERT_EQ(0, write_file(KNOB, "1"));
	pageout(self->buf, self->len);
	ASSERT_LT(0, count_swapped(self->buf, NPAGES, self->page));
	used = swap_used();
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, self->key, 0, 0, 0));
	EXPECT_GT(used, swap_used());
	signal(SIGBUS, on_sigbus);
	if (!sigsetjmp(bus_jmp, 1)) {
		(void)*(volatile char *)self->buf;
		EXPECT_TRUE(0) TH_LOG("the revoked key's swapped page was readable");
	}
	signal(SIGBUS, SIG_DFL);
}

TEST_HARNESS_MAIN
