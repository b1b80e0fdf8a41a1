// SPDX-License-Identifier: GPL-2.0
/*
 * Who keeps a key alive, who may use it, and who revocation reaches.
 *
 * Every process that uses a key's KeyID holds a reference to the key, so
 * unlinking it erases nothing in use, and its KeyID is reused only after
 * the last such process is gone.  Revocation reaches every one of them:
 * a process whose thread-group leader exited, children forked while it
 * runs, many processes.  A setuid execve() drops a binding the process
 * made itself; an admin's binding is locked.  A key that is not possessed
 * cannot be used, even by uid 0 of a user namespace.  An invalidated key's
 * KeyID is available to the next add_key() at once.  Exec argument pages
 * keep their data when migrated.  Revocation does not wait for long-term
 * pins: the pinned pages are erased, and keep the KeyID out of the pool
 * until unpinned.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include "../kselftest_harness.h"
#include "mktme_util.h"
#include "sigbus.h"

#define SUID_DIR	"/tmp/mktme-suid"
#define SUID_PROG	SUID_DIR "/lifetime"

static int set_key(int serial, int pidfd)
{
	return prctl(PR_SET_MKTME_KEY, serial, pidfd, 0, 0);
}

/* Poll until keyids_in_use is at most @want, for up to 5 s */
static long wait_keyids_in_use(long want)
{
	long n;
	int i;

	for (i = 0; i < 500 && (n = keyids_in_use()) > want; i++)
		usleep(10000);
	return n;
}

static int wait_exit_code(pid_t pid)
{
	int status;

	if (waitpid(pid, &status, 0) != pid)
		return -1;
	return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/*
 * Run as the setuid copy: 0 without a default key, 1 with one (and new
 * memory under it), 2 when it is revoked.
 */
static int report_binding(void)
{
	char *a;
	int r = prctl(PR_GET_MKTME_KEY, -1, 0, 0, 0);

	if (r < 0)
		return errno == EKEYREVOKED ? 2 : 3;
	a = map_anon(4096);
	if (a == MAP_FAILED)
		return 4;
	a[0] = 1;
	if (!r)
		return smaps_keyid(a) == 0 ? 0 : 5;
	return smaps_keyid(a) > 0 ? 1 : 6;
}

/* The argument pattern of the exec test, regenerated */
static void arg_pattern(char *buf, size_t len)
{
	size_t i;

	for (i = 0; i < len - 1; i++)
		buf[i] = 'a' + (i * 7) % 26;
	buf[len - 1] = '\0';
}

#define ARG_LEN	6000

/*
 * Run by the exec test under a default key: the stack holding the
 * arguments has the key's KeyID, and the argument pages keep their data
 * when migrated to the other node and back.
 */
static int check_argv_after_migration(const char *arg, int keyid)
{
	unsigned long page = sysconf(_SC_PAGESIZE), moved = 0;
	char want[ARG_LEN];
	void *pages[3];
	int nodes[3], status[3], n, i, round;

	if (smaps_keyid(arg) != keyid)
		return 2;
	n = ((unsigned long)arg + ARG_LEN - 1) / page - (unsigned long)arg / page + 1;
	for (round = 0; round < 2; round++) {
		for (i = 0; i < n; i++) {
			pages[i] = (void *)(((unsigned long)arg / page + i) * page);
			nodes[i] = round == 0 ? 1 : 0;
		}
		if (syscall(__NR_move_pages, 0, n, pages, nodes, status, 2 /* MPOL_MF_MOVE */))
			return 3;
		for (i = 0; i < n; i++)
			moved += status[i] == nodes[i];
	}
	if (!moved)
		return 4;
	arg_pattern(want, sizeof(want));
	return strcmp(arg, want) ? 5 : 0;
}

FIXTURE(lifetime) {
	long page;
	int key, keyid;
};

FIXTURE_SETUP(lifetime)
{
	if (!mktme_available())
		SKIP(return, "MKTME is not enabled (needs TME-MK or the QEMU model)");
	self->page = sysconf(_SC_PAGESIZE);
	self->key = add_mktme_key("lifetime", "type=cpu");
	ASSERT_LT(0, self->key);
	self->keyid = key_keyid(self->key);
	ASSERT_LT(0, self->keyid);
}

FIXTURE_TEARDOWN(lifetime)
{
	if (self->key > 0)
		keyctl(KEYCTL_INVALIDATE, self->key, 0, 0, 0);
}

TEST_F(lifetime, unlinked_key_keeps_memory_until_its_last_user_exits)
{
	int up[2], down[2];
	long before;
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		char *buf = map_encrypted(4 * self->page, self->key);
		size_t i;

		if (buf == MAP_FAILED)
			_exit(2);
		memset(buf, 'L', 4 * self->page);
		/* The only link: the key now lives through this process */
		if (keyctl(KEYCTL_UNLINK, self->key, test_keyring(), 0, 0))
			_exit(3);
		if (write(up[1], "u", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(4);
		for (i = 0; i < 4 * self->page; i++)
			if (touch(buf + i, 'L'))
				_exit(5);
		_exit(smaps_keyid(buf) == self->keyid ? 0 : 6);
	}
	ASSERT_EQ(1, read(up[0], &c, 1));
	before = keyids_in_use();
	/* Time for the key garbage collector, which would destroy it */
	usleep(300000);
	EXPECT_EQ(self->keyid, key_keyid(self->key));
	EXPECT_EQ(before, keyids_in_use());
	ASSERT_EQ(1, write(down[1], "c", 1));
	EXPECT_EQ(0, wait_exit_code(pid));
	/* The last user is gone: the key is destroyed and the KeyID freed */
	EXPECT_EQ(before - 1, wait_keyids_in_use(before - 1));
	EXPECT_EQ(-1, key_keyid(self->key));
	self->key = 0;
}

TEST_F(lifetime, keyring_clear_keeps_a_bound_process_bound)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		char *a;

		if (set_key(self->key, -1))
			_exit(2);
		if (keyctl(KEYCTL_CLEAR, test_keyring(), 0, 0, 0))
			_exit(3);
		usleep(300000);
		a = map_anon(self->page);
		if (a == MAP_FAILED)
			_exit(4);
		a[0] = 1;
		if (prctl(PR_GET_MKTME_KEY, -1, 0, 0, 0) != self->key)
			_exit(5);
		_exit(smaps_keyid(a) == self->keyid ? 0 : 6);
	}
	EXPECT_EQ(0, wait_exit_code(pid));
	self->key = 0;
}

TEST_F(lifetime, invalidated_key_frees_its_keyid_for_the_next_add)
{
	long nr = mktme_stat("nr_keyids");
	int *keys = calloc(nr + 1, sizeof(*keys)), n = 0, k, i;
	char desc[32];

	ASSERT_NE(NULL, keys);
	for (;;) {
		snprintf(desc, sizeof(desc), "fill-%d", n);
		k = add_mktme_key(desc, "type=cpu");
		if (k < 0)
			break;
		ASSERT_GT(nr, n);
		keys[n++] = k;
	}
	ASSERT_EQ(ENOSPC, errno);
	ASSERT_LT(0, n);
	for (i = 0; i < 3; i++) {
		/* Only the collector's pending work stands between the two */
		ASSERT_EQ(0, keyctl(KEYCTL_INVALIDATE, keys[n - 1], 0, 0, 0));
		keys[n - 1] = add_mktme_key("refill", "type=cpu");
		EXPECT_LT(0, keys[n - 1]) TH_LOG("add after invalidate: %s", strerror(errno));
		if (keys[n - 1] < 0)
			n--;
	}
	for (i = 0; i < n; i++)
		keyctl(KEYCTL_INVALIDATE, keys[i], 0, 0, 0);
	free(keys);
}

/* The thread that outlives its leader in the revocation test */
struct survivor {
	char *buf;
	int ready, go, result;
};

static void *survivor_fn(void *arg)
{
	struct survivor *s = arg;
	char c;

	if (write(s->ready, "r", 1) != 1 || read(s->go, &c, 1) != 1)
		_exit(2);
	c = "XDB"[touch(s->buf, 'S') + 1];
	if (write(s->result, &c, 1) != 1)
		_exit(3);
	_exit(0);
}

TEST_F(lifetime, revoke_reaches_a_process_whose_leader_exited)
{
	int ready[2], go[2], result[2];
	char c;
	pid_t pid;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(result));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct survivor s = { .ready = ready[1], .go = go[0], .result = result[1] };
		pthread_t t;

		s.buf = map_encrypted(self->page, self->key);
		if (s.buf == MAP_FAILED)
			_exit(2);
		memset(s.buf, 'S', self->page);
		if (pthread_create(&t, NULL, survivor_fn, &s))
			_exit(3);
		/* The leader exits; the thread keeps the mm */
		syscall(__NR_exit, 0);
	}
	ASSERT_EQ(1, read(ready[0], &c, 1));
	usleep(100000);
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, self->key, 0, 0, 0));
	ASSERT_EQ(1, write(go[1], "g", 1));
	ASSERT_EQ(1, read(result[0], &c, 1));
	EXPECT_EQ('B', c);
	EXPECT_EQ(0, wait_exit_code(pid));
}

#define NR_MANY	128

TEST_F(lifetime, revoke_reaches_every_process_and_children_forked_meanwhile)
{
	long mms = mktme_stat("revoked_mms");
	int ready[2], go[2], result[2], i, data = 0, bus = 0;
	char *buf, c;
	pid_t forker, pid;

	ASSERT_EQ(0, pipe(ready));
	ASSERT_EQ(0, pipe(go));
	ASSERT_EQ(0, pipe(result));
	buf = map_encrypted(self->page, self->key);
	ASSERT_NE(MAP_FAILED, buf);
	memset(buf, 'F', self->page);
	/*
	 * A forker makes NR_MANY children of a process using the key, the
	 * first half before the revocation, the rest while it runs; each
	 * child waits, then reads the memory.
	 */
	forker = fork();
	ASSERT_LE(0, forker);
	if (!forker) {
		close(go[1]);
		for (i = 0; i < NR_MANY; i++) {
			if (i == NR_MANY / 2 && write(ready[1], "h", 1) != 1)
				_exit(2);
			pid = fork();
			if (pid < 0)
				_exit(3);
			if (!pid) {
				if (read(go[0], &c, 1) < 0)
					_exit(4);
				c = "XDB"[touch(buf, 'F') + 1];
				_exit(write(result[1], &c, 1) == 1 ? 0 : 5);
			}
		}
		while (wait(NULL) > 0)
			;
		_exit(0);
	}
	close(result[1]);
	ASSERT_EQ(1, read(ready[0], &c, 1));
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, self->key, 0, 0, 0));
	EXPECT_EQ(1, touch(buf, 'F'));
	/* Closing the last writer of go lets every child read */
	close(go[1]);
	for (i = 0; i < NR_MANY && read(result[0], &c, 1) == 1; i++) {
		data += c == 'D';
		bus += c == 'B';
	}
	EXPECT_EQ(0, wait_exit_code(forker));
	EXPECT_EQ(NR_MANY, bus) TH_LOG("%d children read the data after revoke", data);
	/* At least the parent and the forker, and the children made before */
	EXPECT_LE(mms + 2 + NR_MANY / 2, mktme_stat("revoked_mms"));
}

/* A setuid copy of this program, on a tmpfs of its own; 0 or -1 */
static int make_suid_copy(void)
{
	char buf[65536];
	ssize_t n;
	int in, out, ret = -1;

	mkdir(SUID_DIR, 0755);
	umount(SUID_DIR);
	if (mount("none", SUID_DIR, "tmpfs", 0, "mode=0755"))
		return -1;
	in = open("/proc/self/exe", O_RDONLY);
	out = open(SUID_PROG, O_WRONLY | O_CREAT | O_TRUNC, 0755);
	if (in < 0 || out < 0)
		goto out;
	while ((n = read(in, buf, sizeof(buf))) > 0)
		if (write(out, buf, n) != n)
			goto out;
	/* Owned by uid 1: running it as root is a setuid execve() */
	if (n == 0 && !fchown(out, 1, 1) && !fchmod(out, 04755))
		ret = 0;
out:
	if (in >= 0)
		close(in);
	if (out >= 0)
		close(out);
	return ret;
}

/*
 * Revoking a key whose memory is pinned for DMA (an io_uring fixed
 * buffer, say) does not wait: the mappings go, the pinned pages are
 * unreadable through the KeyID at once, and the KeyID stays draining,
 * out of the pool, until the pin is dropped.
 */
TEST_F(lifetime, revoke_with_long_term_pins_erases_and_drains)
{
	size_t len = 4 * self->page;
	struct pin_longterm_test pin = { .size = len, .flags = PIN_LONGTERM_WRITE };
	long draining, in_use;
	char *buf, *copy;
	uint64_t dst;
	size_t i, same = 0;
	int fd;

	fd = open("/sys/kernel/debug/gup_test", O_RDWR);
	if (fd < 0)
		SKIP(return, "needs CONFIG_GUP_TEST (/sys/kernel/debug/gup_test)");
	buf = map_encrypted(len, self->key);
	copy = malloc(len);
	ASSERT_NE(MAP_FAILED, buf);
	ASSERT_NE(NULL, copy);
	memset(buf, 'P', len);
	pin.addr = (unsigned long)buf;
	ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_START, &pin));
	draining = mktme_stat("keyids_draining");
	in_use = keyids_in_use();
	ASSERT_EQ(0, keyctl(KEYCTL_REVOKE, self->key, 0, 0, 0));
	EXPECT_EQ(1, touch(buf, 'P'));
	EXPECT_EQ(draining + 1, mktme_stat("keyids_draining"));
	EXPECT_EQ(in_use, keyids_in_use());
	/* The kernel's view of the pinned pages: no longer the data */
	dst = (unsigned long)copy;
	ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_READ, &dst));
	for (i = 0; i < len; i++)
		same += copy[i] == 'P';
	EXPECT_GT(len / 64, same);
	ASSERT_EQ(0, ioctl(fd, PIN_LONGTERM_TEST_STOP));
	close(fd);
	EXPECT_EQ(in_use - 1, wait_keyids_in_use(in_use - 1));
	EXPECT_EQ(draining, mktme_stat("keyids_draining"));
	free(copy);
}

TEST_F(lifetime, setuid_exec_drops_a_binding_the_process_made)
{
	pid_t pid;

	ASSERT_EQ(0, make_suid_copy());
	/* Bound by itself: dropped */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (set_key(self->key, -1))
			_exit(10);
		execl(SUID_PROG, "lifetime", "--report-binding", NULL);
		_exit(11);
	}
	EXPECT_EQ(0, wait_exit_code(pid));
	/* Revoked: the program does not inherit that either */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int key = add_mktme_key("suid-revoked", "type=cpu");

		if (key < 0 || set_key(key, -1) || keyctl(KEYCTL_REVOKE, key, 0, 0, 0))
			_exit(10);
		if (prctl(PR_GET_MKTME_KEY, -1, 0, 0, 0) != -1 || errno != EKEYREVOKED)
			_exit(12);
		execl(SUID_PROG, "lifetime", "--report-binding", NULL);
		_exit(11);
	}
	EXPECT_EQ(0, wait_exit_code(pid));
	/* A plain execve() keeps the binding */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (set_key(self->key, -1))
			_exit(10);
		execl("/proc/self/exe", "lifetime", "--report-binding", NULL);
		_exit(11);
	}
	EXPECT_EQ(1, wait_exit_code(pid));
	umount(SUID_DIR);
}

TEST_F(lifetime, admin_binding_is_locked_and_survives_setuid_exec)
{
	int up[2], down[2], pidfd;
	char c;
	pid_t pid;

	ASSERT_EQ(0, make_suid_copy());
	ASSERT_EQ(0, pipe(up));
	ASSERT_EQ(0, pipe(down));
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (write(up[1], "r", 1) != 1 || read(down[0], &c, 1) != 1)
			_exit(10);
		/* Without CAP_SYS_RESOURCE the admin's binding stays */
		drop_all_caps();
		if (set_key(0, -1) != -1 || errno != EPERM)
			_exit(12);
		if (prctl(PR_GET_MKTME_KEY, -1, 0, 0, 0) != self->key)
			_exit(13);
		execl(SUID_PROG, "lifetime", "--report-binding", NULL);
		_exit(14);
	}
	ASSERT_EQ(1, read(up[0], &c, 1));
	pidfd = syscall(__NR_pidfd_open, pid, 0);
	ASSERT_LE(0, pidfd);
	ASSERT_EQ(0, set_key(self->key, pidfd));
	ASSERT_EQ(1, write(down[1], "g", 1));
	EXPECT_EQ(1, wait_exit_code(pid));
	close(pidfd);
	umount(SUID_DIR);

	/* A binding the process made itself it may change */
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (set_key(self->key, -1))
			_exit(10);
		drop_all_caps();
		_exit(set_key(0, -1) ? 11 : 0);
	}
	EXPECT_EQ(0, wait_exit_code(pid));
}

TEST_F(lifetime, user_namespace_root_cannot_use_a_key_it_does_not_possess)
{
	pid_t pid = fork();

	ASSERT_LE(0, pid);
	if (!pid) {
		char *a = map_anon(self->page);

		if (a == MAP_FAILED || unshare(CLONE_NEWUSER))
			_exit(10);
		/* uid 0 inside is uid 0 outside: the key's owner */
		if (write_file("/proc/self/uid_map", "0 0 1"))
			_exit(11);
		/* A session keyring of its own: the key is not possessed */
		if (keyctl(KEYCTL_JOIN_SESSION_KEYRING, 0, 0, 0, 0) < 0)
			_exit(12);
		if (sys_encrypt_mprotect(a, self->page, PROT_READ | PROT_WRITE,
					 self->key, 0) != -1 || errno != EACCES)
			_exit(13);
		if (set_key(self->key, -1) != -1 || errno != EACCES)
			_exit(14);
		/* Nor may it take a KeyID: CAP_SYS_RESOURCE of the initial namespace */
		if (add_mktme_key("userns", "type=cpu") != -1 || errno != EPERM)
			_exit(15);
		_exit(0);
	}
	EXPECT_EQ(0, wait_exit_code(pid));
}

TEST_F(lifetime, exec_argument_pages_are_encrypted_and_survive_migration)
{
	static char arg[ARG_LEN];
	char keyid[16];
	pid_t pid;

	if (access("/sys/devices/system/node/node1", F_OK))
		SKIP(return, "needs a second NUMA node to migrate to");
	arg_pattern(arg, sizeof(arg));
	snprintf(keyid, sizeof(keyid), "%d", self->keyid);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		if (set_key(self->key, -1))
			_exit(10);
		execl("/proc/self/exe", "lifetime", "--argv-check", keyid, arg, NULL);
		_exit(11);
	}
	EXPECT_EQ(0, wait_exit_code(pid));
}

int main(int argc, char **argv)
{
	if (argc == 2 && !strcmp(argv[1], "--report-binding"))
		return report_binding();
	if (argc == 4 && !strcmp(argv[1], "--argv-check"))
		return check_argv_after_migration(argv[3], atoi(argv[2]));
	return test_harness_run(argc, argv);
}
