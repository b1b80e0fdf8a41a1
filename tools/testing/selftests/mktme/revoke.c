// SPDX-License-Identifier: GPL-2.0
/*
 * Revocation is secure erase: mappings of the key's memory are torn down
 * in every process (SIGBUS, never data), every package's slot is
 * reprogrammed before revoke returns, and the KeyID goes back to the pool.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"
#include "sigbus.h"

#define NPAGES	8

FIXTURE(revoke) {
	long page;
	char *buf;
	size_t len;
	int key;
};

FIXTURE_SETUP(revoke)
{
	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	catch_sigbus();
	self->page = sysconf(_SC_PAGESIZE);
	self->len = NPAGES * self->page;
	self->key = add_mktme_key("revoke", "type=cpu");
	ASSERT_LT(0, self->key);
	self->buf = map_encrypted(self->len, self->key);
	ASSERT_NE(MAP_FAILED, self->buf);
	memset(self->buf, 'S', self->len);
}

FIXTURE_TEARDOWN(revoke)
{
	if (self->buf && self->buf != MAP_FAILED)
		munmap(self->buf, self->len);
	if (self->key > 0)
		keyctl(KEYCTL_UNLINK, self->key, test_keyring(), 0, 0);
}

TEST_F(revoke, mapping_gone_slot_reprogrammed_keyid_returned)
{
	long in_use = keyids_in_use(), erases = mktme_stat("erases");
	long pages = mktme_stat("erased_pages"), calls = mktme_stat("pconfig_calls");
	size_t i;

	ASSERT_EQ(0, touch(self->buf, 'S'));
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, self->key, 0, 0, 0));
	/*
	 * Done before revoke returned.  Keys of earlier tests may be erased
	 * by the key garbage collector meanwhile: counts can only move further.
	 */
	EXPECT_LE(erases + 1, mktme_stat("erases"));
	EXPECT_LE(pages + NPAGES, mktme_stat("erased_pages"));
	EXPECT_LE(calls + 2, mktme_stat("pconfig_calls"));	/* two packages */
	EXPECT_GE(in_use - 1, keyids_in_use());
	for (i = 0; i < self->len; i += self->page)
		EXPECT_EQ(1, touch(self->buf + i, 'S'));
	/* Writes too: no new page appears */
	bus_armed = 1;
	if (!sigsetjmp(bus_jmp, 1)) {
		self->buf[0] = 'x';
		bus_armed = 0;
		TH_LOG("a write to revoked memory succeeded");
		EXPECT_EQ(1, 0);
	}
	bus_armed = 0;
	/* Nor does the mapping keep the KeyID, which another key may get */
	EXPECT_EQ(0, smaps_keyid(self->buf));
	EXPECT_EQ(-1, sys_encrypt_mprotect(self->buf, self->len, PROT_READ, self->key, 0));
	EXPECT_EQ(EKEYREVOKED, errno);
}

TEST_F(revoke, other_processes_lose_their_mappings)
{
	int up[2], down[2], status;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *mine = map_anon(self->page);

		if (mine == MAP_FAILED ||
		    sys_encrypt_mprotect(mine, self->page, PROT_READ | PROT_WRITE,
					 self->key, 0))
			_exit(2);
		memset(mine, 'C', self->page);
		if (write(up[1], "r", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(3);
		/* The parent's revoke took this process's memory too */
		_exit(touch(mine, 'C') == 1 && touch(self->buf, 'S') == 1 ? 0 : 4);
	}
	ASSERT_EQ(1, read(up[0], &c, 1));
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, self->key, 0, 0, 0));
	ASSERT_EQ(1, write(down[1], "g", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

struct toucher {
	volatile char *buf;
	size_t len;
	volatile int stop;
	int bad;	/* read something other than the data */
	int bus;	/* got SIGBUS */
};

static void *toucher_fn(void *arg)
{
	struct toucher *t = arg;
	size_t i = 0;
	int r;

	while (!t->stop) {
		r = touch(t->buf + i, 'S');
		if (r < 0)
			t->bad++;
		if (r > 0) {
			t->bus++;
			break;
		}
		i = (i + 4096) % t->len;
	}
	return NULL;
}

TEST_F(revoke, threads_faulting_during_revoke_never_see_other_data)
{
	struct toucher t[2];
	pthread_t th[2];
	int i;

	for (i = 0; i < 2; i++) {
		t[i] = (struct toucher){ .buf = self->buf, .len = self->len };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, toucher_fn, &t[i]));
	}
	usleep(100000);
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, self->key, 0, 0, 0));
	usleep(100000);
	for (i = 0; i < 2; i++) {
		t[i].stop = 1;
		pthread_join(th[i], NULL);
		EXPECT_EQ(0, t[i].bad);
		EXPECT_EQ(1, t[i].bus);
	}
}

/* All KeyIDs taken: ENOSPC; a revoked key's KeyID is reused. */
TEST_F(revoke, exhaustion_and_reuse_after_revoke)
{
	static int keys[4096];
	int n = 0, again, i;
	long in_use;

	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, self->key, 0, 0, 0));
	in_use = keyids_in_use();
	for (;;) {
		char desc[32];
		int k;

		/* Distinct names: add_key() would replace a key of the same name */
		snprintf(desc, sizeof(desc), "fill-%d", n);
		k = add_mktme_key(desc, "type=cpu");

		if (k < 0)
			break;
		ASSERT_GT(4096, n);
		keys[n++] = k;
	}
	EXPECT_EQ(ENOSPC, errno);
	/* all taken (one may have come back from an earlier test since) */
	EXPECT_LE(mktme_stat("nr_keyids") - 1, keyids_in_use());
	EXPECT_LT(0, n);
	if (n) {
		ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, keys[n - 1], 0, 0, 0));
		again = add_mktme_key("again", "type=cpu");
		EXPECT_LT(0, again);
		if (again > 0)
			keys[n - 1] = again;
	}
	for (i = 0; i < n; i++)
		EXPECT_EQ(0, keyctl(KEYCTL_REVOKE, keys[i], 0, 0, 0));
	/* Keys destroyed earlier may still be returning theirs */
	EXPECT_GE(in_use, keyids_in_use());
}

TEST_HARNESS_MAIN
