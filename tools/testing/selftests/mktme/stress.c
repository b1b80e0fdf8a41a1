// SPDX-License-Identifier: GPL-2.0
/*
 * A bounded stress of everything at once on a few shared keys: threads
 * mapping, encrypting, re-keying, touching and unmapping memory, forking
 * children that do the same, setting and clearing the default key, while
 * another thread revokes keys and adds new ones in their place.
 *
 * The check here is only that memory reads back what was written or,
 * once its key is revoked, raises SIGBUS; never other data.  The real
 * oracles are the kernel's checkers in the debug guest (KASAN, KFENCE,
 * lockdep, DEBUG_VM's PTE KeyID check, kmemleak) and the model's
 * missing-flush detector: any report there fails the run.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"
#include "sigbus.h"

#define NR_KEYS		3
#define NR_WORKERS	3
#define NR_OPS		150
#define NR_REVOKES	12
#define REGION_PAGES	4

static atomic_int keys[NR_KEYS];
/* Where a SIGSEGV lands, with what it hit, off the thread's own stack */
static char segv_stacks[NR_WORKERS + 1][16384];
static atomic_int bad, stop;
static long page_size;

/*
 * Every byte of @p is @c, or SIGBUS on the way (the key was revoked):
 * 0; other data: -1.  Stops at the first SIGBUS.
 */
static int check_region(volatile char *p, size_t len, char c)
{
	size_t i;

	bus_armed = 1;
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		return 0;
	}
	for (i = 0; i < len; i += 64)
		if (p[i] != c) {
			bus_armed = 0;
			return -1;
		}
	bus_armed = 0;
	return 0;
}

/* memset that stops at SIGBUS: 1 if all was written */
static int fill_region(volatile char *p, size_t len, char c)
{
	size_t i;

	bus_armed = 1;
	if (sigsetjmp(bus_jmp, 1)) {
		bus_armed = 0;
		return 0;
	}
	for (i = 0; i < len; i++)
		p[i] = c;
	bus_armed = 0;
	return 1;
}

static void on_sigsegv(int sig, siginfo_t *si, void *uc)
{
	char msg[128];
	int n;

	n = snprintf(msg, sizeof(msg), "# SIGSEGV at %p (code %d) in thread %d\n",
		     si->si_addr, si->si_code, (int)gettid());
	write(2, msg, n);
	_exit(98);
}

/* Each thread reports a SIGSEGV on a stack of its own */
static void catch_sigsegv(int n)
{
	stack_t ss = { .ss_sp = segv_stacks[n], .ss_size = sizeof(segv_stacks[n]) };
	struct sigaction sa = { .sa_sigaction = on_sigsegv,
				.sa_flags = SA_SIGINFO | SA_ONSTACK };

	sigaltstack(&ss, NULL);
	sigaction(SIGSEGV, &sa, NULL);
}

static int any_key(unsigned int *seed)
{
	return atomic_load(&keys[rand_r(seed) % NR_KEYS]);
}

/* One operation on @region (REGION_PAGES pages of this thread's) */
static void one_op(char **region, char *fill, unsigned int *seed)
{
	size_t len = REGION_PAGES * page_size;
	int op = rand_r(seed) % 6, ok;
	char c = 'a' + rand_r(seed) % 26;

	switch (op) {
	case 0:	/* new memory under a key */
		if (*region)
			munmap(*region, len);
		*region = map_anon(len);
		if (*region == MAP_FAILED) {
			*region = NULL;	/* a revoked default key */
			return;
		}
		sys_encrypt_mprotect(*region, len, PROT_READ | PROT_WRITE, any_key(seed), 0);
		*fill = fill_region(*region, len, c) ? c : 0;
		break;
	case 1:	/* re-key in place: the data stays */
	case 2:
		if (!*region)
			return;
		sys_encrypt_mprotect(*region, len, PROT_READ | PROT_WRITE,
				     op == 1 ? any_key(seed) : MKTME_NO_KEY, 0);
		break;
	case 3:	/* a child reads what it inherited, and maps its own */
		if (fork() == 0) {
			char *mine = NULL, f = 0;

			if (*region && *fill && check_region(*region, len, *fill))
				_exit(1);
			one_op(&mine, &f, seed);
			_exit(mine && f && check_region(mine, len, f) ? 1 : 0);
		}
		wait(&ok);
		if (!WIFEXITED(ok) || WEXITSTATUS(ok))
			atomic_fetch_add(&bad, 1);
		return;
	case 4:	/* the default key, for the process */
		prctl(PR_SET_MKTME_KEY, rand_r(seed) % 2 ? any_key(seed) : 0, -1, 0, 0);
		return;
	case 5:	/* drop some pages: they come back zero-filled */
		if (!*region)
			return;
		madvise(*region, page_size, MADV_DONTNEED);
		*fill = fill_region(*region, len, c) ? c : 0;
		break;
	}
	if (*region && *fill && check_region(*region, len, *fill))
		atomic_fetch_add(&bad, 1);
}

static void *worker(void *arg)
{
	unsigned int seed = (unsigned long)arg;
	char *region = NULL, fill = 0;
	int i;

	catch_sigsegv((unsigned long)arg);
	/* At least NR_OPS operations, and on until the revocations are done */
	for (i = 0; i < NR_OPS || !atomic_load(&stop); i++)
		one_op(&region, &fill, &seed);
	if (region)
		munmap(region, REGION_PAGES * page_size);
	return (void *)(long)i;
}

static int new_key(int n)
{
	char desc[32];

	snprintf(desc, sizeof(desc), "stress-%d", n);
	return add_mktme_key(desc, "type=cpu");
}

TEST(revoke_rekey_fork_bind_on_shared_keys)
{
	pthread_t t[NR_WORKERS];
	long ops = 0;
	void *done;
	int i, n = 0, k;

	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	page_size = sysconf(_SC_PAGESIZE);
	catch_sigbus();
	catch_sigsegv(0);
	for (i = 0; i < NR_KEYS; i++) {
		k = new_key(n++);
		ASSERT_LT(0, k);
		atomic_store(&keys[i], k);
	}
	for (i = 0; i < NR_WORKERS; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, worker, (void *)(long)(i + 1)));
	/* Revoke a key and put a new one in its place, while they work */
	for (i = 0; i < NR_REVOKES; i++) {
		usleep(10000);
		k = atomic_load(&keys[i % NR_KEYS]);
		EXPECT_EQ(0, keyctl(KEYCTL_REVOKE, k, 0, 0, 0));
		keyctl(KEYCTL_UNLINK, k, test_keyring(), 0, 0);
		k = new_key(n++);
		ASSERT_LT(0, k) TH_LOG("add_key: %s", strerror(errno));
		atomic_store(&keys[i % NR_KEYS], k);
	}
	atomic_store(&stop, 1);
	for (i = 0; i < NR_WORKERS; i++) {
		pthread_join(t[i], &done);
		ops += (long)done;
	}
	prctl(PR_SET_MKTME_KEY, 0, -1, 0, 0);
	EXPECT_EQ(0, atomic_load(&bad)) TH_LOG("memory read back other data");
	TH_LOG("%d revocations during %ld operations", NR_REVOKES, ops);
	for (i = 0; i < NR_KEYS; i++)
		keyctl(KEYCTL_REVOKE, atomic_load(&keys[i]), 0, 0, 0);
}

TEST_HARNESS_MAIN
