// SPDX-License-Identifier: GPL-2.0
/*
 * encrypt_mprotect(): the order in which arguments are checked, every
 * error with nothing changed (a page referenced, queued by a zerocopy
 * send or pinned, a sealed VMA), contents kept across re-keying both ways,
 * the KeyID in smaps, and the KeyID kept by plain mprotect().
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"

#define NPAGES	16

FIXTURE(em) {
	long page;
	char *buf;
	size_t len;
	int key, keyid;
};

FIXTURE_SETUP(em)
{
	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	self->page = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * self->page;
	self->buf = map_anon(self->len);
	ASSERT_NE(MAP_FAILED, self->buf);
	self->key = add_mktme_key("em", "type=cpu");
	ASSERT_LT(0, self->key) {
		TH_LOG("add_key: %s", strerror(errno));
	}
	self->keyid = key_keyid(self->key);
	ASSERT_LT(0, self->keyid) {
		char line[512];

		key_proc_line(self->key, line, sizeof(line));
		TH_LOG("key %d: /proc/keys: %s", self->key, line);
	}
}

FIXTURE_TEARDOWN(em)
{
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, self->len);
	if (self->key > 0)
		keyctl(KEYCTL_UNLINK, self->key, test_keyring(), 0, 0);
}

static void fill(char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		p[i] = (char)(i * 31 + seed);
}

static int check(const char *p, size_t len, unsigned int seed)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != (char)(i * 31 + seed))
			return -1;
	return 0;
}

TEST_F(em, contents_kept_both_ways)
{
	fill(self->buf, self->len, 7);
	ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
					  self->key, 0));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	EXPECT_EQ(0, check(self->buf, self->len, 7));

	/* Back to KeyID 0 */
	ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
					  MKTME_NO_KEY, 0));
	EXPECT_EQ(0, smaps_keyid(self->buf));
	EXPECT_EQ(0, check(self->buf, self->len, 7));
}

TEST_F(em, new_pages_and_zero_page_under_a_key)
{
	size_t i;

	/* Nothing faulted in yet: read faults map the zero page */
	ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
					  self->key, 0));
	for (i = 0; i < self->len; i += self->page)
		ASSERT_EQ(0, self->buf[i]);
	fill(self->buf, self->len, 3);
	EXPECT_EQ(0, check(self->buf, self->len, 3));
}

TEST_F(em, part_of_a_vma_splits_it)
{
	char *mid = self->buf + 4 * self->page;

	fill(self->buf, self->len, 9);
	ASSERT_EQ(0, sys_encrypt_mprotect(mid, 4 * self->page, PROT_READ | PROT_WRITE,
					  self->key, 0));
	EXPECT_EQ(0, smaps_keyid(self->buf));
	EXPECT_EQ(self->keyid, smaps_keyid(mid));
	EXPECT_EQ(0, smaps_keyid(mid + 4 * self->page));
	EXPECT_EQ(0, check(self->buf, self->len, 9));
}

TEST_F(em, plain_mprotect_keeps_the_keyid)
{
	fill(self->buf, self->len, 5);
	ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
					  self->key, 0));
	ASSERT_EQ(0, mprotect(self->buf, self->len, PROT_READ));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	ASSERT_EQ(0, mprotect(self->buf, self->len, PROT_READ | PROT_WRITE));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	EXPECT_EQ(0, check(self->buf, self->len, 5));
}

TEST_F(em, fork_shares_then_parent_rekeys)
{
	pid_t pid;
	int status;

	fill(self->buf, self->len, 11);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* The child keeps its view of the shared pages */
		usleep(200000);
		_exit(check(self->buf, self->len, 11) ? 1 : 0);
	}
	ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
					  self->key, 0));
	EXPECT_EQ(0, check(self->buf, self->len, 11));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * The documented order: MKTME enabled (ENODEV), flags (EINVAL), the key
 * (ENOKEY, EKEYREVOKED, EACCES, EINVAL for another type), then the range
 * as mprotect() checks it, then every VMA (ENOMEM, EINVAL, EACCES).
 */
/* No page of @p's NPAGES pages has a KeyID: -1 if one has or it cannot be told */
static int no_page_keyed(const char *p, long page)
{
	int i;

	for (i = 0; i < NPAGES; i++)
		if (page_has_keyid(p + i * page) != 0)
			return -1;
	return 0;
}

/*
 * A page that another kernel user holds (vmsplice()'s pipe holds a
 * reference, a long-term pin through GUP-fast) would keep being read or
 * written through its old KeyID: the whole call fails with EBUSY, and no
 * page of the range, before or after that one, has changed.
 */
TEST_F(em, page_held_elsewhere_fails_the_whole_call)
{
	struct pin_longterm_test pin = { .size = self->page,
		.flags = PIN_LONGTERM_WRITE | PIN_LONGTERM_FAST };
	char *held = self->buf + 12 * self->page, *got;
	struct iovec iov = { held, self->page };
	int pfd[2], gup, usage = key_usage(self->key);

	got = malloc(self->page);
	ASSERT_NE(NULL, got);
	ASSERT_LT(0, usage);
	fill(self->buf, self->len, 5);
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(self->page, vmsplice(pfd[1], &iov, 1, 0));
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len,
					   PROT_READ | PROT_WRITE, self->key, 0));
	EXPECT_EQ(EBUSY, errno);
	/* The process did not become a user of the key (a reference) */
	EXPECT_EQ(usage, key_usage(self->key));
	EXPECT_EQ(0, smaps_keyid(self->buf));
	EXPECT_EQ(0, no_page_keyed(self->buf, self->page));
	EXPECT_EQ(0, check(self->buf, self->len, 5));
	/* The pipe still reads the page as it was */
	EXPECT_EQ(self->page, read(pfd[0], got, self->page));
	EXPECT_EQ(0, memcmp(got, held, self->page));
	close(pfd[0]);
	close(pfd[1]);

	gup = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (gup >= 0) {
		pin.addr = (unsigned long)(self->buf + 3 * self->page);
		ASSERT_EQ(0, ioctl(gup, PIN_LONGTERM_TEST_START, &pin));
		EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len, PROT_READ,
						   self->key, 0));
		EXPECT_EQ(EBUSY, errno);
		EXPECT_EQ(0, smaps_keyid(self->buf));
		EXPECT_EQ(0, no_page_keyed(self->buf, self->page));
		ASSERT_EQ(0, ioctl(gup, PIN_LONGTERM_TEST_STOP));
		close(gup);
	} else {
		TH_LOG("no /sys/kernel/debug/gup_test (CONFIG_GUP_TEST): pin not tried");
	}

	/* Nothing holds the pages now */
	ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
					  self->key, 0));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	EXPECT_EQ(1, page_has_keyid(held));
	EXPECT_EQ(0, check(self->buf, self->len, 5));
	free(got);
}

/*
 * A connected TCP pair over loopback: the receiving end has a tiny buffer,
 * the sending end room for what the test queues behind it.
 */
static int tcp_pair(int *tx, int *rx)
{
	struct sockaddr_in addr = {
		.sin_family = AF_INET,
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
	};
	socklen_t alen = sizeof(addr);
	int ls, small = 2048, big = 256 << 10, ret = -1;

	ls = socket(AF_INET, SOCK_STREAM, 0);
	if (ls < 0)
		return -1;
	/* Inherited by the accepted socket: a window that closes at once */
	if (setsockopt(ls, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)) ||
	    bind(ls, (struct sockaddr *)&addr, sizeof(addr)) || listen(ls, 1) ||
	    getsockname(ls, (struct sockaddr *)&addr, &alen))
		goto out;
	*tx = socket(AF_INET, SOCK_STREAM, 0);
	if (*tx < 0)
		goto out;
	if (setsockopt(*tx, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big)) ||
	    connect(*tx, (struct sockaddr *)&addr, alen)) {
		close(*tx);
		goto out;
	}
	*rx = accept(ls, NULL, NULL);
	if (*rx < 0)
		close(*tx);
	else
		ret = 0;
out:
	close(ls);
	return ret;
}

/*
 * MSG_ZEROCOPY: a TCP send queues the sender's pages themselves, each
 * with a plain reference (no pin), until the data is acknowledged; a NIC
 * would read them by DMA, through the KeyID they had.  Behind a closed
 * window (the receiver reads nothing) a page stays queued: re-keying its
 * range fails with EBUSY and changes nothing.  Once the receiver has read
 * it all, with the contents sent, and the send has completed, re-keying
 * succeeds.
 */
TEST_F(em, page_queued_by_zerocopy_send_fails_the_call)
{
	char *queued = self->buf + 5 * self->page, *got;
	size_t ahead = 32 << 10, want, have = 0;
	struct pollfd pfd;
	struct msghdr msg = {};
	char control[128];
	int tx, rx, one = 1;
	ssize_t n;

	if (tcp_pair(&tx, &rx))
		SKIP(return, "no TCP over loopback (CONFIG_INET, lo up): %s",
		     strerror(errno));
	if (setsockopt(tx, SOL_SOCKET, SO_ZEROCOPY, &one, sizeof(one)))
		SKIP(goto out, "SO_ZEROCOPY: %s", strerror(errno));
	want = ahead + self->page;
	got = calloc(1, want);
	ASSERT_NE(NULL, got);
	fill(self->buf, self->len, 9);

	/* Data ahead of the page fills the receiver's window and more */
	ASSERT_EQ(ahead, send(tx, got, ahead, MSG_DONTWAIT));
	ASSERT_EQ(self->page, send(tx, queued, self->page, MSG_ZEROCOPY | MSG_DONTWAIT));
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len,
					   PROT_READ | PROT_WRITE, self->key, 0));
	EXPECT_EQ(EBUSY, errno);
	EXPECT_EQ(0, smaps_keyid(self->buf));
	EXPECT_EQ(0, no_page_keyed(self->buf, self->page));

	/* The receiver reads it all: the page arrives as it was */
	while (have < want) {
		n = recv(rx, got + have, want - have, 0);
		ASSERT_LT(0, n);
		have += n;
	}
	EXPECT_EQ(0, memcmp(got + ahead, queued, self->page));
	/* The send completes (on loopback the data was copied on delivery) */
	pfd = (struct pollfd){ .fd = tx, .events = 0 };
	ASSERT_EQ(1, poll(&pfd, 1, 10000));
	msg.msg_control = control;
	msg.msg_controllen = sizeof(control);
	ASSERT_EQ(0, recvmsg(tx, &msg, MSG_ERRQUEUE));

	ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len,
					  PROT_READ | PROT_WRITE, self->key, 0));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	EXPECT_EQ(0, check(self->buf, self->len, 9));
	free(got);
out:
	close(tx);
	close(rx);
}

/*
 * An mlocked read-only range made writable: mprotect_fixup() populates it
 * (breaking COW ahead of writes) after the VMA changed, which must find
 * its pages mapped again, re-keyed, and not wait for them forever.
 */
TEST_F(em, mlocked_range_made_writable)
{
	fill(self->buf, self->len, 3);
	ASSERT_EQ(0, mprotect(self->buf, self->len, PROT_READ));
	ASSERT_EQ(0, mlock(self->buf, self->len));
	ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
					  self->key, 0));
	EXPECT_EQ(self->keyid, smaps_keyid(self->buf));
	EXPECT_EQ(0, check(self->buf, self->len, 3));
	EXPECT_EQ(1, dram_is_ciphertext(self->buf, self->len));
	/* Again with the key it has: nothing to re-key */
	ASSERT_EQ(0, mprotect(self->buf, self->len, PROT_READ));
	ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
					  self->key, 0));
	self->buf[0] = 3;
	EXPECT_EQ(0, check(self->buf, self->len, 3));
	munlock(self->buf, self->len);
}

#ifndef __NR_mseal
#define __NR_mseal 462
#endif

/*
 * mprotect() would change the first VMA and stop at a sealed second one;
 * encrypt_mprotect() checks every VMA first and changes neither.
 */
TEST_F(em, sealed_vma_fails_the_whole_call)
{
	char *p = map_anon(self->len), *sealed = p + self->len / 2;

	ASSERT_NE(MAP_FAILED, p);
	fill(p, self->len, 9);
	if (syscall(__NR_mseal, sealed, self->len / 2, 0))
		SKIP(return, "mseal: %s", strerror(errno));
	EXPECT_EQ(-1, sys_encrypt_mprotect(p, self->len, PROT_READ | PROT_WRITE,
					   self->key, 0));
	EXPECT_EQ(EPERM, errno);
	EXPECT_EQ(0, smaps_keyid(p));
	EXPECT_EQ(0, smaps_keyid(sealed));
	EXPECT_EQ(0, page_has_keyid(p));
	EXPECT_EQ(0, check(p, self->len, 9));
	/* The unsealed half alone */
	EXPECT_EQ(0, sys_encrypt_mprotect(p, self->len / 2, PROT_READ | PROT_WRITE,
					  self->key, 0));
	EXPECT_EQ(self->keyid, smaps_keyid(p));
	EXPECT_EQ(0, check(p, self->len, 9));
	munmap(p, self->len / 2);
}

TEST_F(em, argument_order)
{
	/* Bad flags win over a bad key and a bad address */
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf + 1, self->len, PROT_READ, -12345, 1));
	EXPECT_EQ(EINVAL, errno);
	/* A bad key wins over a bad address */
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf + 1, self->len, PROT_READ, 0x7fffffff, 0));
	EXPECT_EQ(ENOKEY, errno);
	/* Then the address */
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf + 1, self->len, PROT_READ, self->key, 0));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(em, errors)
{
	int user_key = syscall(__NR_add_key, "user", "em-user", "x", 1,
			       test_keyring());
	int revoked = add_mktme_key("em-revoked", "type=cpu");
	char *file, *shared;
	int fd;

	ASSERT_LT(0, user_key);
	ASSERT_LT(0, revoked);
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, revoked, 0, 0, 0));

	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len, PROT_READ, self->key, 2));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len, PROT_READ, user_key, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len, PROT_READ, revoked, 0));
	EXPECT_EQ(EKEYREVOKED, errno);
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len,
					   PROT_READ | PROT_GROWSDOWN, self->key, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len, 0x1000, self->key, 0));
	EXPECT_EQ(EINVAL, errno);

	/* A hole */
	ASSERT_EQ(0, munmap(self->buf + 8 * self->page, self->page));
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len, PROT_READ, self->key, 0));
	EXPECT_EQ(ENOMEM, errno);
	EXPECT_EQ(0, smaps_keyid(self->buf));

	/* Not private anonymous memory: nothing changes, not even the first VMA */
	shared = mmap(NULL, self->page, PROT_READ | PROT_WRITE,
		      MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, shared);
	EXPECT_EQ(-1, sys_encrypt_mprotect(shared, self->page, PROT_READ, self->key, 0));
	EXPECT_EQ(EINVAL, errno);
	fd = open("/init", O_RDONLY);
	ASSERT_LE(0, fd);
	file = mmap(self->buf + 8 * self->page, self->page, PROT_READ,
		    MAP_PRIVATE | MAP_FIXED, fd, 0);
	ASSERT_EQ(self->buf + 8 * self->page, file);
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len, PROT_READ, self->key, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, smaps_keyid(self->buf));
	close(fd);

	/* A protection the VMA may not get */
	EXPECT_EQ(-1, sys_encrypt_mprotect(file, self->page, PROT_READ | PROT_WRITE,
					   self->key, 0));
	EXPECT_EQ(EINVAL, errno);

	munmap(shared, self->page);
	keyctl(KEYCTL_UNLINK, user_key, test_keyring(), 0, 0);
	keyctl(KEYCTL_UNLINK, revoked, test_keyring(), 0, 0);
}

/*
 * Using a key takes Search permission, as for keys the kernel uses
 * elsewhere (keyctl_pkey, fscrypt): View is not enough.  The key's owner
 * that does not possess it (a process in a session keyring of its own)
 * has only View by default, and so does a possessor given only View.
 */
TEST_F(em, key_needs_search_permission)
{
	pid_t pid = fork();
	int status;

	ASSERT_LE(0, pid);
	if (!pid) {
		if (keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0) < 0)
			_exit(2);
		_exit(sys_encrypt_mprotect(self->buf, self->len, PROT_READ, self->key, 0) == -1 &&
		      errno == EACCES ? 0 : 1);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_EQ(0, WEXITSTATUS(status)) TH_LOG("the owner used a key it does not possess");
	ASSERT_EQ(0, keyctl(KEYCTL_SETPERM, self->key, KEY_POS_VIEW, 0, 0));
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len, PROT_READ, self->key, 0));
	EXPECT_EQ(EACCES, errno);
}

/*
 * Pages migrated while they are re-keyed (move_pages() from another
 * process, as compaction would, without the mmap_lock) still end up
 * under the key: each round, DRAM holds ciphertext for the whole buffer
 * (checked through KeyID 0 by the kernel's debugfs reader), and the data
 * stays.
 */
TEST_F_TIMEOUT(em, rekey_racing_migration_leaves_no_page_behind, 600)
{
	struct mover *mover;
	int round, r;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "needs a second NUMA node to migrate to");
	if (access("/sys/kernel/debug/mktme/phys", R_OK))
		SKIP(return, "needs /sys/kernel/debug/mktme/phys");
	fill(self->buf, self->len, 7);
	mover = start_mover(self->buf, NPAGES, self->page);
	ASSERT_NE(NULL, mover);
	for (round = 0; round < 16; round++) {
		ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
						  self->key, 0)) {
			TH_LOG("round %d: %s", round, strerror(errno));
		}
		mover_pause(mover, 1);
		/* -1 too would mean a page left under KeyID 0 (the reader refuses it) */
		r = dram_is_ciphertext(self->buf, self->len);
		mover_pause(mover, 0);
		ASSERT_EQ(1, r) TH_LOG("round %d: a page is not encrypted", round);
		ASSERT_EQ(0, sys_encrypt_mprotect(self->buf, self->len, PROT_READ | PROT_WRITE,
						  MKTME_NO_KEY, 0)) {
			TH_LOG("round %d, back to KeyID 0: %s", round, strerror(errno));
		}
	}
	ASSERT_EQ(0, stop_mover(mover));
	EXPECT_EQ(0, check(self->buf, self->len, 7));
}

TEST_HARNESS_MAIN
