// SPDX-License-Identifier: GPL-2.0
/*
 * Encrypted memory stays correct on the memory-management paths that copy,
 * move, read or write anonymous pages: every test fills an encrypted
 * buffer, goes through one path, and checks the contents, and where the
 * path puts the data into new pages, that DRAM holds them as ciphertext
 * (read through KeyID 0 from /sys/kernel/debug/mktme/phys).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/mempolicy.h>
#include <linux/userfaultfd.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"

#define NPAGES	8

/* DRAM under [p, p + len) holds ciphertext */
#define EXPECT_CIPHERTEXT(p, len) EXPECT_EQ(1, dram_is_ciphertext(p, len))

FIXTURE(paths) {
	long page;
	char *buf;
	size_t len;
	int key, keyid;
};

FIXTURE_SETUP(paths)
{
	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	self->page = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * self->page;
	self->key = add_mktme_key("paths", "type=cpu");
	ASSERT_LT(0, self->key);
	self->keyid = key_keyid(self->key);
	self->buf = map_encrypted(self->len, self->key);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 'E', self->len);
}

FIXTURE_TEARDOWN(paths)
{
}

static int all(const char *p, size_t len, char c)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != c)
			return 0;
	return 1;
}

TEST_F(paths, fork_cow_both_sides)
{
	size_t half = self->len / 2;
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		memset(self->buf, 'c', half);
		_exit(all(self->buf, half, 'c') && all(self->buf + half, half, 'E') ? 0 : 1);
	}
	memset(self->buf + half, 'p', half);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_TRUE(all(self->buf, half, 'E'));
	EXPECT_TRUE(all(self->buf + half, half, 'p'));
	/* the pages copied on write are encrypted too */
	EXPECT_CIPHERTEXT(self->buf, self->len);
}

TEST_F(paths, process_vm_readv_writev)
{
	char *plain = malloc(self->len);
	struct iovec local = { plain, self->len }, remote = { self->buf, self->len };

	ASSERT_NE(NULL, plain);
	ASSERT_EQ((ssize_t)self->len, process_vm_readv(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_TRUE(all(plain, self->len, 'E'));
	memset(plain, 'w', self->len);
	ASSERT_EQ((ssize_t)self->len, process_vm_writev(getpid(), &local, 1, &remote, 1, 0));
	EXPECT_TRUE(all(self->buf, self->len, 'w'));
	EXPECT_CIPHERTEXT(self->buf, self->len);
	free(plain);
}

TEST_F(paths, proc_pid_mem)
{
	char plain[256];
	int fd = open("/proc/self/mem", O_RDWR);

	ASSERT_LE(0, fd);
	ASSERT_EQ(sizeof(plain), pread(fd, plain, sizeof(plain), (off_t)self->buf));
	EXPECT_TRUE(all(plain, sizeof(plain), 'E'));
	memset(plain, 'm', sizeof(plain));
	ASSERT_EQ(sizeof(plain), pwrite(fd, plain, sizeof(plain), (off_t)self->buf));
	EXPECT_TRUE(all(self->buf, sizeof(plain), 'm'));
	EXPECT_CIPHERTEXT(self->buf, self->page);
	close(fd);
}

TEST_F(paths, ptrace_peek_poke)
{
	long word;
	int status;
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		ptrace(PTRACE_TRACEME, 0, 0, 0);
		raise(SIGSTOP);
		_exit(all(self->buf + 8, self->len - 8, 'E') &&
		      !memcmp(self->buf, "poked!!!", 8) ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	errno = 0;
	word = ptrace(PTRACE_PEEKDATA, pid, self->buf, 0);
	ASSERT_EQ(0, errno);
	EXPECT_EQ(0, memcmp(&word, "EEEEEEEE", 8));
	memcpy(&word, "poked!!!", 8);
	ASSERT_EQ(0, ptrace(PTRACE_POKEDATA, pid, self->buf, word));
	ASSERT_EQ(0, ptrace(PTRACE_CONT, pid, 0, 0));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

TEST_F(paths, move_pages_across_nodes)
{
	void *pages[NPAGES];
	int nodes[NPAGES], status[NPAGES], i, moved = 0;

	for (i = 0; i < NPAGES; i++) {
		pages[i] = self->buf + i * self->page;
		status[i] = -1;
	}
	ASSERT_EQ(0, syscall(__NR_move_pages, 0, NPAGES, pages, NULL, status, 0));
	for (i = 0; i < NPAGES; i++)
		nodes[i] = !status[i];
	ASSERT_EQ(0, syscall(__NR_move_pages, 0, NPAGES, pages, nodes, status, MPOL_MF_MOVE));
	for (i = 0; i < NPAGES; i++)
		moved += status[i] == nodes[i];
	EXPECT_EQ(NPAGES, moved);
	EXPECT_TRUE(all(self->buf, self->len, 'E'));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	EXPECT_CIPHERTEXT(self->buf, self->len);
	memset(self->buf, 'M', self->len);
	EXPECT_TRUE(all(self->buf, self->len, 'M'));
}

TEST_F(paths, mremap_move_grow_shrink)
{
	char *p;

	p = mremap(self->buf, self->len, 2 * self->len, MREMAP_MAYMOVE);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(all(p, self->len, 'E'));
	EXPECT_EQ(self->keyid, smaps_keyid(p));
	memset(p + self->len, 'g', self->len);
	EXPECT_TRUE(all(p + self->len, self->len, 'g'));
	EXPECT_CIPHERTEXT(p, 2 * self->len);
	p = mremap(p, 2 * self->len, self->page, 0);
	ASSERT_NE(MAP_FAILED, p);
	EXPECT_TRUE(all(p, self->page, 'E'));
	self->buf = p;
	self->len = self->page;
}

TEST_F(paths, mlock_and_madvise)
{
	ASSERT_EQ(0, mlock(self->buf, self->len));
	EXPECT_TRUE(all(self->buf, self->len, 'E'));
	ASSERT_EQ(0, munlock(self->buf, self->len));
	/* Encrypted pages stay out of swap (see the swap tests): contents stay */
	if (madvise(self->buf, self->page, MADV_COLD))
		TH_LOG("MADV_COLD: %s", strerror(errno));
	if (madvise(self->buf, self->page, MADV_PAGEOUT))
		TH_LOG("MADV_PAGEOUT: %s", strerror(errno));
	EXPECT_TRUE(all(self->buf, self->len, 'E'));
	ASSERT_EQ(0, madvise(self->buf, self->page, MADV_DONTNEED));
	EXPECT_TRUE(all(self->buf, self->page, '\0'));
	EXPECT_TRUE(all(self->buf + self->page, self->len - self->page, 'E'));
	self->buf[0] = 'n';
	EXPECT_EQ('n', self->buf[0]);
}

TEST_F(paths, pipe_and_vmsplice)
{
	struct iovec iov = { self->buf, self->page };
	char out[4096];
	int p[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(self->page, write(p[1], self->buf, self->page));
	ASSERT_EQ(self->page, read(p[0], out, self->page));
	EXPECT_TRUE(all(out, self->page, 'E'));
	ASSERT_EQ(self->page, vmsplice(p[1], &iov, 1, 0));
	ASSERT_EQ(self->page, read(p[0], out, self->page));
	EXPECT_TRUE(all(out, self->page, 'E'));
	close(p[0]);
	close(p[1]);
}

TEST_F(paths, futex_and_atomics)
{
	int *f = (int *)self->buf;
	struct timespec ts = { 0, 1000000 };

	*f = 7;
	EXPECT_EQ(7, __atomic_add_fetch(f, 0, __ATOMIC_SEQ_CST));
	EXPECT_EQ(8, __atomic_add_fetch(f, 1, __ATOMIC_SEQ_CST));
	EXPECT_EQ(-1, syscall(__NR_futex, f, FUTEX_WAIT, 7, &ts, NULL, 0));
	EXPECT_EQ(EAGAIN, errno);
	EXPECT_EQ(-1, syscall(__NR_futex, f, FUTEX_WAIT, 8, &ts, NULL, 0));
	EXPECT_EQ(ETIMEDOUT, errno);
	EXPECT_EQ(0, syscall(__NR_futex, f, FUTEX_WAKE, 1, NULL, NULL, 0));
}

#define HPAGE	(2UL << 20)

/* Huge pages on first touch for [p, p + HPAGE): 0, or -1 without THP */
static int want_thp(char *p)
{
	if (write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise"))
		return -1;
	return madvise(p, HPAGE, MADV_HUGEPAGE);
}

static long smaps_field(const void *addr, const char *field)
{
	unsigned long a = (unsigned long)addr, start, end;
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[256], fmt[64];
	long v = -1;
	int in = 0;

	snprintf(fmt, sizeof(fmt), "%s: %%ld kB", field);
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2)
			in = a >= start && a < end;
		else if (in && sscanf(line, fmt, &v) == 1)
			break;
	}
	if (f)
		fclose(f);
	return v;
}

/* Minutes, not seconds, on the debug kernel (KASAN, lockdep) under TCG */
TEST_F_TIMEOUT(paths, thp_fault_and_collapse, 600)
{
	char *raw = map_anon(3 * HPAGE);
	char *p = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));

	ASSERT_NE(MAP_FAILED, raw);
	/* Small pages first, under the key, then collapsed into a huge one */
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_NOHUGEPAGE));
	ASSERT_EQ(0, sys_encrypt_mprotect(p, HPAGE, PROT_READ | PROT_WRITE, self->key, 0));
	memset(p, 'T', HPAGE);
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_HUGEPAGE));
	if (madvise(p, HPAGE, 25 /* MADV_COLLAPSE */)) {
		TH_LOG("MADV_COLLAPSE: %s", strerror(errno));
	} else {
		EXPECT_EQ(2048, smaps_field(p, "AnonHugePages"));
	}
	EXPECT_TRUE(all(p, HPAGE, 'T'));
	EXPECT_EQ(self->keyid, smaps_keyid(p));
	EXPECT_CIPHERTEXT(p, HPAGE);
	munmap(raw, 3 * HPAGE);
}

/* The khugepaged daemon collapses small encrypted pages into a huge one */
TEST_F_TIMEOUT(paths, khugepaged_collapse, 600)
{
	static const char *const khp = "/sys/kernel/mm/transparent_hugepage/khugepaged/";
	char *raw = map_anon(3 * HPAGE);
	char *p = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1)), path[128];
	int i;

	ASSERT_NE(MAP_FAILED, raw);
	if (write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise"))
		SKIP(return, "no THP (CONFIG_TRANSPARENT_HUGEPAGE)");
	snprintf(path, sizeof(path), "%sscan_sleep_millisecs", khp);
	write_file(path, "10");
	snprintf(path, sizeof(path), "%salloc_sleep_millisecs", khp);
	write_file(path, "10");
	snprintf(path, sizeof(path), "%spages_to_scan", khp);
	write_file(path, "4096");
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_NOHUGEPAGE));
	ASSERT_EQ(0, sys_encrypt_mprotect(p, HPAGE, PROT_READ | PROT_WRITE, self->key, 0));
	memset(p, 'K', HPAGE);
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_HUGEPAGE));
	for (i = 0; i < 200 && smaps_field(p, "AnonHugePages") != 2048; i++)
		usleep(50000);
	EXPECT_EQ(2048, smaps_field(p, "AnonHugePages"));
	EXPECT_TRUE(all(p, HPAGE, 'K'));
	EXPECT_EQ(self->keyid, smaps_keyid(p));
	EXPECT_CIPHERTEXT(p, HPAGE);
	munmap(raw, 3 * HPAGE);
}

/*
 * Splitting an anonymous huge page maps its zero-filled subpages to the
 * shared zero page, which must not be mapped through the VMA's KeyID.
 */
TEST_F(paths, split_of_a_partly_written_encrypted_thp)
{
	char *raw = map_anon(3 * HPAGE);
	char *p = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));
	int key2 = add_mktme_key("paths-split", "type=cpu");

	ASSERT_NE(MAP_FAILED, raw);
	ASSERT_LT(0, key2);
	if (want_thp(p))
		SKIP(return, "no THP (CONFIG_TRANSPARENT_HUGEPAGE)");
	ASSERT_EQ(0, sys_encrypt_mprotect(p, HPAGE, PROT_READ | PROT_WRITE, self->key, 0));
	memset(p, 'Z', self->page);
	ASSERT_EQ(2048, smaps_field(p, "AnonHugePages"));
	/* the second half to another key: the huge page is split first */
	ASSERT_EQ(0, sys_encrypt_mprotect(p + HPAGE / 2, HPAGE / 2, PROT_READ | PROT_WRITE,
					  key2, 0));
	EXPECT_EQ(0, smaps_field(p, "AnonHugePages"));
	EXPECT_TRUE(all(p, self->page, 'Z'));
	EXPECT_TRUE(all(p + self->page, HPAGE - self->page, '\0'));
	EXPECT_EQ(self->keyid, smaps_keyid(p));
	EXPECT_EQ(key_keyid(key2), smaps_keyid(p + HPAGE / 2));
	EXPECT_CIPHERTEXT(p, self->page);
	munmap(raw, 3 * HPAGE);
}

/*
 * A huge page wholly in the range is re-keyed whole: it stays one huge
 * page, at the same physical address, from key to key and back to none.
 */
TEST_F_TIMEOUT(paths, thp_rekeyed_whole, 600)
{
	char *raw = map_anon(3 * HPAGE);
	char *p = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));
	int key2 = add_mktme_key("paths-thp-whole", "type=cpu");
	uint64_t pa;

	ASSERT_NE(MAP_FAILED, raw);
	ASSERT_LT(0, key2);
	if (want_thp(p))
		SKIP(return, "no THP (CONFIG_TRANSPARENT_HUGEPAGE)");
	ASSERT_EQ(0, sys_encrypt_mprotect(p, HPAGE, PROT_READ | PROT_WRITE, self->key, 0));
	memset(p, 'W', HPAGE);
	ASSERT_EQ(2048, smaps_field(p, "AnonHugePages"));
	pa = phys_addr_of(p);

	ASSERT_EQ(0, sys_encrypt_mprotect(p, HPAGE, PROT_READ, key2, 0));
	EXPECT_EQ(2048, smaps_field(p, "AnonHugePages"));
	EXPECT_EQ(pa, phys_addr_of(p));
	EXPECT_EQ(key_keyid(key2), smaps_keyid(p));
	EXPECT_TRUE(all(p, HPAGE, 'W'));
	EXPECT_CIPHERTEXT(p, HPAGE);

	ASSERT_EQ(0, sys_encrypt_mprotect(p, HPAGE, PROT_READ | PROT_WRITE, MKTME_NO_KEY, 0));
	EXPECT_EQ(2048, smaps_field(p, "AnonHugePages"));
	EXPECT_EQ(pa, phys_addr_of(p));
	EXPECT_EQ(0, smaps_keyid(p));
	EXPECT_EQ(0, page_has_keyid(p + HPAGE - self->page));
	memset(p + HPAGE / 2, 'X', HPAGE / 2);
	EXPECT_TRUE(all(p, HPAGE / 2, 'W'));
	EXPECT_TRUE(all(p + HPAGE / 2, HPAGE / 2, 'X'));
	munmap(raw, 3 * HPAGE);
}

/* A huge page one of whose pages is held elsewhere stays as it was, whole */
TEST_F_TIMEOUT(paths, thp_held_elsewhere_stays_as_it_was, 600)
{
	char *raw = map_anon(3 * HPAGE), *got = malloc(self->page);
	char *p = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));
	struct iovec iov = { p + HPAGE / 2, self->page };
	int pfd[2];

	ASSERT_NE(MAP_FAILED, raw);
	ASSERT_NE(NULL, got);
	if (want_thp(p))
		SKIP(return, "no THP (CONFIG_TRANSPARENT_HUGEPAGE)");
	memset(p, 'V', HPAGE);
	ASSERT_EQ(2048, smaps_field(p, "AnonHugePages"));
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(self->page, vmsplice(pfd[1], &iov, 1, 0));

	EXPECT_EQ(-1, sys_encrypt_mprotect(p, HPAGE, PROT_READ | PROT_WRITE, self->key, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(2048, smaps_field(p, "AnonHugePages"));
	EXPECT_EQ(0, smaps_keyid(p));
	EXPECT_EQ(0, page_has_keyid(p));
	EXPECT_EQ(self->page, read(pfd[0], got, self->page));
	EXPECT_TRUE(all(got, self->page, 'V'));
	close(pfd[0]);
	close(pfd[1]);

	/* Nothing holds it now */
	ASSERT_EQ(0, sys_encrypt_mprotect(p, HPAGE, PROT_READ | PROT_WRITE, self->key, 0));
	EXPECT_EQ(2048, smaps_field(p, "AnonHugePages"));
	EXPECT_EQ(self->keyid, smaps_keyid(p));
	EXPECT_TRUE(all(p, HPAGE, 'V'));
	EXPECT_CIPHERTEXT(p, HPAGE);
	free(got);
	munmap(raw, 3 * HPAGE);
}

/*
 * A huge page migrated (whole, or split on the way) while it is re-keyed
 * back and forth ends up under the key each round, with its data.
 */
TEST_F_TIMEOUT(paths, thp_rekey_racing_migration, 600)
{
	char *raw = map_anon(3 * HPAGE);
	char *p = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));
	struct mover *mover;
	unsigned long off;
	int round, r;

	ASSERT_NE(MAP_FAILED, raw);
	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "needs a second NUMA node to migrate to");
	if (access("/sys/kernel/debug/mktme/phys", R_OK))
		SKIP(return, "needs /sys/kernel/debug/mktme/phys");
	if (want_thp(p))
		SKIP(return, "no THP (CONFIG_TRANSPARENT_HUGEPAGE)");
	memset(p, 'M', HPAGE);
	ASSERT_EQ(2048, smaps_field(p, "AnonHugePages"));
	/* One page of each half: a huge page split on the way moves by halves */
	mover = start_mover(p, 2, HPAGE / 2);
	ASSERT_NE(NULL, mover);
	for (round = 0; round < 8; round++) {
		ASSERT_EQ(0, sys_encrypt_mprotect(p, HPAGE, PROT_READ | PROT_WRITE,
						  self->key, 0)) {
			TH_LOG("round %d: %s", round, strerror(errno));
		}
		mover_pause(mover, 1);
		r = dram_is_ciphertext(p, HPAGE);
		for (off = 0; r != 1 && off < HPAGE; off += self->page)
			if (page_has_keyid(p + off) != 1)
				TH_LOG("round %d: the page at +%#lx (pa %#llx) has no KeyID",
				       round, off, (unsigned long long)phys_addr_of(p + off));
		mover_pause(mover, 0);
		ASSERT_EQ(1, r) TH_LOG("round %d: a page is not encrypted", round);
		ASSERT_EQ(0, sys_encrypt_mprotect(p, HPAGE, PROT_READ | PROT_WRITE,
						  MKTME_NO_KEY, 0)) {
			TH_LOG("round %d, back to KeyID 0: %s", round, strerror(errno));
		}
	}
	ASSERT_EQ(0, stop_mover(mover));
	TH_LOG("after the rounds: AnonHugePages %ld kB", smaps_field(p, "AnonHugePages"));
	EXPECT_TRUE(all(p, HPAGE, 'M'));
	munmap(raw, 3 * HPAGE);
}

static void ksm_write(const char *file, const char *val)
{
	char path[128];

	snprintf(path, sizeof(path), "/sys/kernel/mm/ksm/%s", file);
	if (write_file(path, val))
		perror(path);
}

/* Equal plaintext under different KeyIDs must stay two pages. */
TEST_F(paths, ksm_never_merges_across_keyids)
{
	char *plain = map_anon(self->len);
	long scans;
	int i;

	if (access("/sys/kernel/mm/ksm/run", W_OK))
		SKIP(return, "no KSM (CONFIG_KSM)");
	ASSERT_NE(MAP_FAILED, plain);
	memset(plain, 'E', self->len);
	ASSERT_EQ(0, madvise(self->buf, self->len, MADV_MERGEABLE));
	ASSERT_EQ(0, madvise(plain, self->len, MADV_MERGEABLE));
	ksm_write("sleep_millisecs", "10");
	ksm_write("run", "1");
	scans = read_long_file("/sys/kernel/mm/ksm/full_scans");
	for (i = 0; i < 200 && read_long_file("/sys/kernel/mm/ksm/full_scans") < scans + 3; i++)
		usleep(50000);
	EXPECT_LE(scans + 3, read_long_file("/sys/kernel/mm/ksm/full_scans"));
	EXPECT_TRUE(all(self->buf, self->len, 'E'));
	EXPECT_TRUE(all(plain, self->len, 'E'));
	ksm_write("run", "2");
	munmap(plain, self->len);
}

/*
 * KSM's use_zero_pages merges zero-filled pages with the zero page, which
 * has no KeyID: encrypted ones too, as a read fault would have mapped it.
 * They read as zeros (the zero page is mapped without the VMA's KeyID),
 * and a write gives them a page of their own under the key again.
 */
TEST_F_TIMEOUT(paths, ksm_zero_pages_of_any_keyid, 60)
{
	char *plain = map_anon(self->len);
	long scans, zero, sleep_ms;
	char old_sleep[32];
	int i;

	if (access("/sys/kernel/mm/ksm/use_zero_pages", W_OK))
		SKIP(return, "no KSM (CONFIG_KSM)");
	ASSERT_NE(MAP_FAILED, plain);
	memset(plain, 1, self->len);
	memset(plain, 0, self->len);
	memset(self->buf, 1, self->len);
	memset(self->buf, 0, self->len);
	ASSERT_EQ(0, madvise(self->buf, self->len, MADV_MERGEABLE));
	ASSERT_EQ(0, madvise(plain, self->len, MADV_MERGEABLE));
	zero = read_long_file("/sys/kernel/mm/ksm/ksm_zero_pages");
	sleep_ms = read_long_file("/sys/kernel/mm/ksm/sleep_millisecs");
	snprintf(old_sleep, sizeof(old_sleep), "%ld", sleep_ms);
	ksm_write("use_zero_pages", "1");
	ksm_write("sleep_millisecs", "10");
	ksm_write("run", "1");
	scans = read_long_file("/sys/kernel/mm/ksm/full_scans");
	for (i = 0; i < 200 && read_long_file("/sys/kernel/mm/ksm/full_scans") < scans + 3; i++)
		usleep(50000);
	/* both the plain and the encrypted pages became the zero page */
	ksm_write("run", "0");
	EXPECT_EQ(zero + 2 * NPAGES, read_long_file("/sys/kernel/mm/ksm/ksm_zero_pages"));
	EXPECT_TRUE(all(self->buf, self->len, '\0'));
	EXPECT_TRUE(all(plain, self->len, '\0'));
	/* a write fault on the KSM zero page: a page of the VMA's KeyID */
	memset(self->buf, 0x5a, self->len);
	EXPECT_TRUE(all(self->buf, self->len, 0x5a));
	EXPECT_CIPHERTEXT(self->buf, self->len);
	EXPECT_EQ(zero + NPAGES, read_long_file("/sys/kernel/mm/ksm/ksm_zero_pages"));
	/* unmerging gives the plain range its own pages back */
	ksm_write("run", "2");
	EXPECT_EQ(zero, read_long_file("/sys/kernel/mm/ksm/ksm_zero_pages"));
	EXPECT_TRUE(all(plain, self->len, '\0'));
	ksm_write("sleep_millisecs", old_sleep);
	ksm_write("use_zero_pages", "0");
	munmap(plain, self->len);
}

TEST_F(paths, userfaultfd_copy_and_zeropage)
{
	struct uffdio_api api = { .api = UFFD_API };
	struct uffdio_register reg = { .range = { (unsigned long)self->buf, self->len },
				       .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_copy copy;
	struct uffdio_zeropage zero;
	char *src = malloc(self->page);
	int uffd;

	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_API, &api));
	/* Empty the first two pages so that userfaultfd fills them */
	ASSERT_EQ(0, madvise(self->buf, 2 * self->page, MADV_DONTNEED));
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	memset(src, 'U', self->page);
	copy = (struct uffdio_copy){ (unsigned long)self->buf, (unsigned long)src,
				     self->page, 0, 0 };
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_COPY, &copy));
	zero = (struct uffdio_zeropage){ { (unsigned long)self->buf + self->page,
					   self->page }, 0, 0 };
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_ZEROPAGE, &zero));
	EXPECT_TRUE(all(self->buf, self->page, 'U'));
	EXPECT_TRUE(all(self->buf + self->page, self->page, '\0'));
	EXPECT_TRUE(all(self->buf + 2 * self->page, self->len - 2 * self->page, 'E'));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	EXPECT_CIPHERTEXT(self->buf, self->page);
	close(uffd);
	free(src);
}

/*
 * UFFDIO_MOVE moves a page with its KeyID: into a VMA of the same key it
 * works; into one of another KeyID it is refused (the VMAs' page
 * protections differ in their KeyID bits), so no page of one key ends up
 * in a VMA that the key's revocation would not tear down.
 */
TEST_F(paths, userfaultfd_move_only_within_a_keyid)
{
	struct uffdio_api api = { .api = UFFD_API, .features = UFFD_FEATURE_MOVE };
	char *same = map_encrypted(self->page, self->key), *plain = map_anon(self->page);
	struct uffdio_register reg = { .mode = UFFDIO_REGISTER_MODE_MISSING };
	struct uffdio_move mv = { .len = self->page };
	int uffd;

	ASSERT_NE(MAP_FAILED, same);
	ASSERT_NE(MAP_FAILED, plain);
	uffd = syscall(__NR_userfaultfd, O_CLOEXEC | UFFD_USER_MODE_ONLY);
	if (uffd < 0)
		SKIP(return, "no userfaultfd: %s", strerror(errno));
	if (ioctl(uffd, UFFDIO_API, &api))
		SKIP(return, "no UFFDIO_MOVE: %s", strerror(errno));
	reg.range = (struct uffdio_range){ (unsigned long)same, self->page };
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));
	reg.range = (struct uffdio_range){ (unsigned long)plain, self->page };
	ASSERT_EQ(0, ioctl(uffd, UFFDIO_REGISTER, &reg));

	mv.dst = (unsigned long)plain;
	mv.src = (unsigned long)self->buf;
	EXPECT_EQ(-1, ioctl(uffd, UFFDIO_MOVE, &mv));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(all(self->buf, self->page, 'E'));

	mv.dst = (unsigned long)same;
	mv.move = 0;
	EXPECT_EQ(0, ioctl(uffd, UFFDIO_MOVE, &mv)) {
		TH_LOG("UFFDIO_MOVE: %s", strerror(errno));
	}
	EXPECT_EQ(self->page, mv.move);
	EXPECT_TRUE(all(same, self->page, 'E'));
	EXPECT_EQ(1, page_has_keyid(same));
	close(uffd);
}

TEST_F(paths, wipeonfork)
{
	int status;
	pid_t pid;

	ASSERT_EQ(0, madvise(self->buf, self->len, MADV_WIPEONFORK));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid)
		_exit(all(self->buf, self->len, '\0') ? 0 : 1);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_TRUE(all(self->buf, self->len, 'E'));
}

/* A core dump holds the plaintext of encrypted memory. */
TEST_F(paths, core_dump_contents)
{
	static const char secret[] = "core-dump-secret-0123456789";
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	char path[64], *core;
	int status, fd, found = 0;
	ssize_t n;
	pid_t pid;

	fd = open("/proc/sys/kernel/core_pattern", O_WRONLY);
	if (fd < 0)
		SKIP(return, "no core_pattern");
	ASSERT_LT(0, write(fd, "/tmp/core.%p", 12));
	close(fd);
	memcpy(self->buf + 100, secret, sizeof(secret));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		setrlimit(RLIMIT_CORE, &rl);
		abort();
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFSIGNALED(status));
	if (!WCOREDUMP(status))
		SKIP(return, "no core dump written (CONFIG_ELF_CORE?)");
	snprintf(path, sizeof(path), "/tmp/core.%d", pid);
	fd = open(path, O_RDONLY);
	ASSERT_LE(0, fd);
	core = malloc(64 << 20);
	ASSERT_NE(NULL, core);
	n = read(fd, core, 64 << 20);
	ASSERT_LT(0, n);
	found = memmem(core, n, secret, sizeof(secret) - 1) != NULL;
	EXPECT_TRUE(found);
	close(fd);
	unlink(path);
	free(core);
}

TEST_F(paths, madvise_free_dontfork)
{
	int status;
	pid_t pid;

	/* Without memory pressure MADV_FREE keeps the data, or it reads 0 */
	ASSERT_EQ(0, madvise(self->buf, self->page, MADV_FREE));
	EXPECT_TRUE(all(self->buf, self->page, 'E') || all(self->buf, self->page, '\0'));
	self->buf[0] = 'f';
	EXPECT_EQ('f', self->buf[0]);
	ASSERT_EQ(0, madvise(self->buf, self->len, MADV_DONTFORK));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* The range is not in the child: reaching it faults */
		signal(SIGSEGV, SIG_DFL);
		self->buf[self->page] = 'x';
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV);
	EXPECT_TRUE(all(self->buf + self->page, self->len - self->page, 'E'));
}

/* Minutes, not seconds, on the debug kernel (KASAN, lockdep) under TCG */
TEST_F_TIMEOUT(paths, thp_fault_under_a_key, 600)
{
	char *raw = map_anon(3 * HPAGE);
	char *p = (char *)(((unsigned long)raw + HPAGE - 1) & ~(HPAGE - 1));

	ASSERT_NE(MAP_FAILED, raw);
	/* Huge pages on fault for madvised ranges (the default may be never) */
	if (write_file("/sys/kernel/mm/transparent_hugepage/enabled", "madvise"))
		TH_LOG("THP enabled=madvise: %s", strerror(errno));
	ASSERT_EQ(0, madvise(p, HPAGE, MADV_HUGEPAGE));
	ASSERT_EQ(0, sys_encrypt_mprotect(p, HPAGE, PROT_READ | PROT_WRITE, self->key, 0));
	/* The first touch faults in a zeroed huge page under the key */
	EXPECT_TRUE(all(p, HPAGE, '\0'));
	memset(p, 'H', HPAGE);
	EXPECT_TRUE(all(p, HPAGE, 'H'));
	EXPECT_EQ(2048, smaps_field(p, "AnonHugePages"));
	EXPECT_EQ(self->keyid, smaps_keyid(p));
	EXPECT_CIPHERTEXT(p, HPAGE);
	munmap(raw, 3 * HPAGE);
}

TEST_F(paths, splice_from_encrypted_memory)
{
	char out[4096];
	int p[2], q[2];

	ASSERT_EQ(0, pipe(p));
	ASSERT_EQ(0, pipe(q));
	ASSERT_EQ(self->page, write(p[1], self->buf, self->page));
	ASSERT_EQ(self->page, splice(p[0], NULL, q[1], NULL, self->page, 0));
	ASSERT_EQ(self->page, read(q[0], out, self->page));
	EXPECT_TRUE(all(out, self->page, 'E'));
	close(p[0]);
	close(p[1]);
	close(q[0]);
	close(q[1]);
}

/* The node of each page, from move_pages() without nodes */
static int pages_on_node(char *buf, int n, long page, int node)
{
	void *pages[64];
	int status[64], i, count = 0;

	for (i = 0; i < n; i++)
		pages[i] = buf + i * page;
	if (syscall(__NR_move_pages, 0, n, pages, NULL, status, 0))
		return -1;
	for (i = 0; i < n; i++)
		count += status[i] == node;
	return count;
}

/* mbind() with MPOL_MF_MOVE migrates encrypted pages to the other node */
TEST_F(paths, mbind_moves_across_nodes)
{
	unsigned long mask;
	int from, to;

	from = pages_on_node(self->buf, NPAGES, self->page, 0) == NPAGES ? 0 : 1;
	ASSERT_EQ(NPAGES, pages_on_node(self->buf, NPAGES, self->page, from));
	to = !from;
	mask = 1UL << to;
	ASSERT_EQ(0, syscall(__NR_mbind, self->buf, self->len, MPOL_BIND, &mask,
			     sizeof(mask) * 8, MPOL_MF_MOVE));
	EXPECT_EQ(NPAGES, pages_on_node(self->buf, NPAGES, self->page, to));
	EXPECT_TRUE(all(self->buf, self->len, 'E'));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	EXPECT_CIPHERTEXT(self->buf, self->len);
	/* new pages of the range come from the new node, under the key */
	memset(self->buf, 'b', self->len);
	EXPECT_TRUE(all(self->buf, self->len, 'b'));
	EXPECT_CIPHERTEXT(self->buf, self->len);
}

/*
 * Compaction moves movable pages from the start of a zone to free pages in
 * partly used pageblocks further up (a wholly free pageblock is not a
 * target), until the two scanners meet.  Put an encrypted buffer on node 1
 * and free every other page of it, so that its pageblocks are targets,
 * compact the node, and see the pages left move intact.  Where the buffer
 * lands is up to the allocator: if it was above the meeting point, keep it
 * and try again with another, which lands elsewhere.
 */
#define COMPACT_PAGES	8192
#define COMPACT_ROUNDS	5

TEST_F_TIMEOUT(paths, compaction_moves_encrypted_pages, 300)
{
	size_t n = COMPACT_PAGES, len = n * self->page, i, moved = 0, checked = 0;
	char *enc[COMPACT_ROUNDS] = { }, *pg;
	unsigned long node1 = 2;
	uint64_t *before;
	int r, k;

	if (node_meminfo_kb(1, "MemFree") < (long)(COMPACT_ROUNDS * len >> 10))
		SKIP(return, "no node 1 with %zu MiB free", COMPACT_ROUNDS * len >> 20);
	before = calloc(n, sizeof(*before));
	ASSERT_NE(NULL, before);
	for (r = 0; r < COMPACT_ROUNDS && !moved; r++) {
		enc[r] = map_anon(len);
		ASSERT_NE(MAP_FAILED, enc[r]);
		ASSERT_EQ(0, syscall(__NR_mbind, enc[r], len, MPOL_BIND, &node1, 64, 0));
		ASSERT_EQ(0, madvise(enc[r], len, MADV_NOHUGEPAGE));
		ASSERT_EQ(0, sys_encrypt_mprotect(enc[r], len, PROT_READ | PROT_WRITE,
						  self->key, 0));
		/* the first line of every page tells which page it is */
		for (i = 0; i < n; i++)
			memset(enc[r] + i * self->page, 'a' + i % 26, 64);
		for (i = 0; i < n; i += 2)
			ASSERT_EQ(0, madvise(enc[r] + i * self->page, self->page, MADV_DONTNEED));
		for (i = 1; i < n; i += 2)
			before[i] = phys_addr_of(enc[r] + i * self->page);
		if (write_file("/sys/devices/system/node/node1/compact", "1"))
			SKIP(goto out, "cannot trigger compaction (CONFIG_COMPACTION)");
		for (i = 1; i < n; i += 2) {
			pg = enc[r] + i * self->page;
			if (phys_addr_of(pg) != before[i] && moved++ < 64)
				/* a moved page is as encrypted as before */
				checked += dram_is_ciphertext(pg, 64) == 1;
		}
		TH_LOG("round %d: compaction moved %zu of %zu encrypted pages", r + 1, moved, n / 2);
	}
	EXPECT_LT(0, moved);
	EXPECT_EQ(moved < 64 ? moved : 64, checked);
	/* every buffer, moved or not, is intact */
	for (k = 0; k < r; k++) {
		for (i = 1; i < n; i += 2) {
			pg = enc[k] + i * self->page;
			if (!all(pg, 64, 'a' + i % 26) || !all(pg + 64, self->page - 64, 0))
				break;
		}
		EXPECT_LE(n, i) TH_LOG("buffer %d, page %zu is not intact", k, i);
		EXPECT_EQ(self->keyid, smaps_keyid(enc[k]));
	}
out:
	for (k = 0; k < COMPACT_ROUNDS; k++)
		if (enc[k])
			munmap(enc[k], len);
	free(before);
}

/* MADV_COLD and MADV_PAGEOUT: encrypted pages stay in memory, intact */
TEST_F(paths, madvise_cold_and_pageout)
{
	size_t i, swapped = 0;

	ASSERT_EQ(0, madvise(self->buf, self->len, MADV_COLD));
	ASSERT_EQ(0, madvise(self->buf, self->len, MADV_PAGEOUT));
	for (i = 0; i < NPAGES; i++)
		swapped += page_swapped(self->buf + i * self->page);
	EXPECT_TRUE(all(self->buf, self->len, 'E'));
	EXPECT_EQ(0, swapped);
	EXPECT_CIPHERTEXT(self->buf, self->len);
}

/* MADV_HUGEPAGE and MADV_NOHUGEPAGE change nothing of the data */
TEST_F(paths, madvise_hugepage_nohugepage)
{
	ASSERT_EQ(0, madvise(self->buf, self->len, MADV_HUGEPAGE));
	EXPECT_TRUE(all(self->buf, self->len, 'E'));
	ASSERT_EQ(0, madvise(self->buf, self->len, MADV_NOHUGEPAGE));
	EXPECT_TRUE(all(self->buf, self->len, 'E'));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
}

/*
 * hugetlb pages are not encrypted: encrypt_mprotect() refuses them with
 * EINVAL (only private anonymous memory), and a process with a default
 * key cannot map them (EOPNOTSUPP), as it would get plaintext memory.
 */
TEST_F(paths, hugetlb_refused)
{
	long old = read_long_file("/proc/sys/vm/nr_hugepages");
	char *h, num[32];
	int status;
	pid_t pid;

	if (old < 0)
		SKIP(return, "no hugetlb (CONFIG_HUGETLBFS)");
	write_file("/proc/sys/vm/nr_hugepages", "4");
	h = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
	if (h == MAP_FAILED) {
		snprintf(num, sizeof(num), "%ld", old);
		write_file("/proc/sys/vm/nr_hugepages", num);
		SKIP(return, "no huge page could be reserved: %s", strerror(errno));
	}
	memset(h, 'h', HPAGE);
	EXPECT_EQ(-1, sys_encrypt_mprotect(h, HPAGE, PROT_READ | PROT_WRITE, self->key, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_TRUE(all(h, HPAGE, 'h'));
	EXPECT_EQ(0, smaps_keyid(h));
	munmap(h, HPAGE);

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *p;

		if (prctl(PR_SET_MKTME_KEY, self->key, -1, 0, 0))
			_exit(10);
		p = mmap(NULL, HPAGE, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB, -1, 0);
		if (p != MAP_FAILED)
			_exit(11);
		if (errno != EOPNOTSUPP)
			_exit(12);
		/* ordinary private anonymous memory still gets the key */
		p = map_anon(self->page);
		_exit(p != MAP_FAILED && smaps_keyid(p) == self->keyid ? 0 : 13);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
	snprintf(num, sizeof(num), "%ld", old);
	write_file("/proc/sys/vm/nr_hugepages", num);
}

TEST_HARNESS_MAIN
